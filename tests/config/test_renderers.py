"""config.renderers.JSONRenderer writes the very bytes DRF's JSONRenderer writes."""

import uuid
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from config.renderers import JSONRenderer

# One payload per family, in the shapes their views answer (keys in the order they are sent).
PAYLOADS = {
    "open edx enrollment": [
        {"course_id": "course-v1:Org+C1+2026", "date": "2026-11-30", "count": 1234, "created": "2026-12-04T091500"},
        {"course_id": "course-v1:Org+C1+2026", "date": "2026-12-01", "count": 0, "created": "2026-12-04T091500"},
    ],
    "open edx location": [
        {
            "date": "2026-12-01",
            "course_id": "edX/DemoX/Demo_Course",
            "country": {"alpha2": None, "alpha3": None, "name": "UNKNOWN"},
            "count": 7,
            "created": "2026-12-04T091500",
        }
    ],
    "360learning": [
        {
            "_id": "65f0c0ffee00000000000001",
            "courseId": "65f0c0ffee00000000000002",
            "userId": "65f0c0ffee00000000000003",
            "progress": 66.67,
            "score": 12.5,
            "timeSpent": 3600,
            "completedAt": "2026-12-01T10:11:12.345Z",
            "name": "Zoë «Ünïcode» 東京 \u2028 line",
        }
    ],
    "skillrise": {
        "success": True,
        "analytics": {
            "totalDuration": 5400,
            "totalSessions": 12,
            "pageStats": [{"page": "Home", "path": "/", "totalDuration": 60, "visits": 3}],
            "dailyStats": [{"date": "2026-12-01", "duration": 0}],
            "courseBreakdown": [],
        },
    },
    "videocloud": {
        "success": True,
        "data": {
            "views": {"total": 10, "unique": 4, "timeline": [{"timestamp": "2026-12-01T00:00:00Z", "views": 3}]},
            "engagement": {"averageWatchTime": 33.333333333333336, "completionRate": 0.1, "dropOff": 1e-05},
            "performance": {"bufferRatio": 0.0, "errorRate": 2.5e-07, "bitrate": 1e16},
        },
    },
    "error envelopes": {
        "detail": ErrorDetail("Authentication credentials were not provided.", code="not_authenticated"),
        "errors": [{"field": "tz", "message": ErrorDetail('bad "zone"\n', code="invalid")}],
        "error": {"code": "ANALYTICS_INVALID_PARAMETER", "message": gettext_lazy("This field is required.")},
    },
    "drf serializer output": ReturnDict(
        OrderedDict(
            [
                ("at", datetime(2026, 12, 1, 10, 11, 12, 345678, tzinfo=UTC)),
                ("naive", datetime(2026, 12, 1, 10, 11, 12)),
                ("on", date(2026, 12, 1)),
                ("clock", time(9, 30, 15, 500)),
                ("span", timedelta(minutes=90)),
                ("amount", Decimal("12.50")),
                ("tiny", Decimal("0.00001")),
                ("id", uuid.UUID("12345678-1234-5678-1234-567812345678")),
                ("items", ReturnList([1, -2, 3.0, True, False, None], serializer=None)),
                ("controls", "tab\tnul\x01del\x7f slash/ backslash\\"),
                ("huge", 2**70),
            ]
        ),
        serializer=None,
    ),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_same_bytes_as_drfs_renderer(name):
    data = PAYLOADS[name]

    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


@pytest.mark.parametrize(
    "value",
    [1e-05, 2.5e-07, 0.0001, 0.000123, 1e16, 1.5e300, 5e-324, -0.0, 1 / 3, 123456789012345.6],
)
def test_floats_written_as_python_writes_them(value):
    data = {"x": value, "xs": [value, -value]}

    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_keys_that_are_not_strings_are_written_as_drf_writes_them():
    data = {1: "one", None: "none", 2.5: "half"}

    assert (
        JSONRenderer().render(data)
        == renderers.JSONRenderer().render(data)
        == b'{"1":"one","null":"none","2.5":"half"}'
    )


def test_line_and_paragraph_separators_escaped():
    assert JSONRenderer().render({"s": "a\u2028b\u2029c"}) == b'{"s":"a\\u2028b\\u2029c"}'


def test_indent_asked_for_in_the_media_type_is_honoured():
    data = {"a": [1, {"b": None}]}
    media_type = "application/json; indent=2"

    assert JSONRenderer().render(data, media_type) == renderers.JSONRenderer().render(data, media_type)
    assert b"\n" in JSONRenderer().render(data, media_type)


def test_none_renders_an_empty_body():
    assert JSONRenderer().render(None) == b""


def test_a_type_drf_cannot_write_is_refused_as_drf_refuses_it():
    class Opaque:
        pass

    with pytest.raises(TypeError):
        renderers.JSONRenderer().render({"x": Opaque()})
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": Opaque()})
