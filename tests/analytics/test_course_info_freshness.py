"""A change shows in the course information API at once, even before the rollups are rebuilt."""

from datetime import datetime, timedelta, timezone

import pytest

from analytics.models import CourseEnrollmentStep
from analytics.queries.course_info import stale_course_ids
from analytics.services.course_info_rollups import rebuild_course_info, record_course_changes
from tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

YESTERDAY_NOON = (datetime.now(timezone.utc) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


def enrolled_yesterday(client, course):
    return client.get(f"/api/v0/courses/{course.key}/enrollment/").json()[0]["count"]


def test_write_after_refresh_is_served_from_raw_rows_until_the_next_refresh(workspace, api_key_client):
    course = CourseFactory(workspace=workspace, key="course-v1:Org+Fresh+2026")
    EnrollmentFactory(course=course, enrolled_at=YESTERDAY_NOON)
    rebuild_course_info()
    client = api_key_client(workspace)
    assert stale_course_ids([course.pk]) == set()
    assert enrolled_yesterday(client, course) == 1

    EnrollmentFactory(course=course, enrolled_at=YESTERDAY_NOON)
    record_course_changes([course.pk])  # what a write path does once it commits

    assert stale_course_ids([course.pk]) == {course.pk}
    assert enrolled_yesterday(client, course) == 2
    stored = CourseEnrollmentStep.objects.filter(course=course, dimension="total").order_by("-day").first()
    assert stored.enrolled == 1  # the rollup has not caught up; the answer came from raw rows
    rebuild_course_info()
    assert stale_course_ids([course.pk]) == set()
    assert enrolled_yesterday(client, course) == 2


def test_never_refreshed_rollups_are_not_trusted(workspace, api_key_client):
    course = CourseFactory(workspace=workspace, key="course-v1:Org+New+2026")
    EnrollmentFactory(course=course, enrolled_at=YESTERDAY_NOON)

    assert stale_course_ids([course.pk]) == {course.pk}
    assert enrolled_yesterday(api_key_client(workspace), course) == 1
