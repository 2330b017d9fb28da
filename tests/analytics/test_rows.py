"""The shared fast row output (analytics/api/rows.py): DRF's output for both families, None kept
(Open edX) or left out (360Learning). No database: the rows are built here."""

from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from rest_framework import serializers

from analytics.api import course_info, course_stats
from analytics.api.rows import CompiledRows

STARTED = datetime(2025, 6, 30, 13, 23, 56, 59000, tzinfo=dt_timezone(timedelta(hours=2)))


def attempt_row(**changes):
    row = {
        "public_id": "a" * 24,
        "version_number": 1,
        "lang_code": "en",
        "first_activity_at_text": STARTED,
        "last_activity_at_text": None,
        "time_spent_ms": 90_000,
        "progress": 40,
        "score": None,
        "completed_at_text": None,
        "path_public_id": None,
        "path_session_public_id": None,
        "course_key": "course-v1:Acme+AN101+2026",
        "user_public_id": "b" * 24,
    }
    return {**row, **changes}


def test_360_rows_leave_out_none_and_write_times_in_utc_with_milliseconds():
    rows = course_stats.learning360_rows(course_stats.CourseStatSerializer, [attempt_row()])

    assert rows == [
        {
            "_id": "a" * 24,
            "versionNumber": 1,
            "lang": "en",
            "firstActivityAt": "2025-06-30T11:23:56.059Z",
            "timeSpent": 90_000,
            "progress": 40,
            "courseId": "course-v1:Acme+AN101+2026",
            "userId": "b" * 24,
        }
    ]


def test_360_rows_are_drf_output_without_its_nulls():
    rows = [attempt_row(), attempt_row(public_id="c" * 24, score=75, completed_at_text=STARTED + timedelta(days=1))]
    drf = course_stats.CourseStatSerializer(rows, many=True).data

    expected = [{name: value for name, value in row.items() if value is not None} for row in drf]

    assert course_stats.learning360_rows(course_stats.CourseStatSerializer, rows) == expected


def test_open_edx_rows_keep_none_as_null_in_nested_objects_too():
    created = datetime(2025, 3, 25, 8, 9, 10, tzinfo=dt_timezone.utc)
    row = {
        "date": date(2025, 3, 2),
        "course_id": "edX/DemoX/Demo_Course",
        "count": 3,
        "created": created,
        "country": {"alpha2": None, "alpha3": None, "name": "UNKNOWN"},
    }

    [output] = CompiledRows(course_info.EdxEnrollmentByLocationSerializer).many([row])

    assert output == {
        "date": "2025-03-02",
        "course_id": "edX/DemoX/Demo_Course",
        "country": {"alpha2": None, "alpha3": None, "name": "UNKNOWN"},
        "count": 3,
        "created": "2025-03-25T080910",
    }
    assert list(output) == list(course_info.EdxEnrollmentByLocationSerializer().fields)


def test_rows_may_be_objects_read_by_source():
    class Attempt:
        def __init__(self, **values):
            self.__dict__.update(values)

    rows = course_stats.learning360_rows(course_stats.V1AttemptSerializer, [Attempt(**attempt_row(score=80))])

    assert rows == [
        {
            "_id": "a" * 24,
            "progress": 40,
            "score": 80,
            "firstActivity": "2025-06-30T11:23:56.059Z",
            "globalTime": 90_000,
        }
    ]


class WithDecimal(serializers.Serializer):
    ratio = serializers.DecimalField(max_digits=5, decimal_places=2)


class WithWholeRow(serializers.Serializer):
    nested = course_info.EdxCountrySerializer(source="*")


@pytest.mark.parametrize("serializer_class", [WithDecimal, WithWholeRow])
def test_a_field_the_plan_cannot_copy_exactly_is_refused(serializer_class):
    with pytest.raises(TypeError):
        CompiledRows(serializer_class)


class Point(serializers.Serializer):
    day = serializers.DateField()
    rate = serializers.FloatField()


class Document(serializers.Serializer):
    total = serializers.IntegerField()
    byKey = serializers.DictField(source="by_key", child=serializers.IntegerField())
    points = Point(many=True)
    first = Point(required=False)
    note = serializers.CharField(required=False, allow_null=True)
    extra = serializers.IntegerField(required=False)


@pytest.mark.parametrize(
    "item",
    [
        {"total": 3, "by_key": {"a": 1, "b": None}, "points": [{"day": date(2025, 3, 2), "rate": 1}], "first": None},
        {"total": 0, "by_key": {}, "points": [], "extra": 5, "first": {"day": date(2025, 1, 1), "rate": 0.25}},
    ],
)
def test_nested_documents_are_drf_output(item):
    # Lists of nested serializers, dicts, floats, ISO dates, and absent optional keys (left out,
    # or null where the field allows null), as DRF writes them.
    assert CompiledRows(Document).one(item) == Document(item).data
