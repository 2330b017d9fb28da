"""Which rows an export may hold: an instructor's exports are limited to the courses they teach,
as every API family limits them (analytics.definitions.course_scope); an instructor API key has
no person, so it teaches nothing and exports nothing."""

import csv
import io

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import AttemptFactory, CourseFactory, LearningEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_courses(workspace, instructor, learner):
    """A course `instructor` teaches and one nobody teaches, each with one result row (an
    attempt) and one learning event of `learner`."""
    taught = CourseFactory(workspace=workspace, key="course-v1:Acme+Taught+1", title="Taught")
    taught.instructors.add(instructor)
    untaught = CourseFactory(workspace=workspace, key="course-v1:Acme+Untaught+1", title="Untaught")
    for course in (taught, untaught):
        AttemptFactory(course=course, user=learner)
        LearningEventFactory(course=course, user=learner)
    return taught, untaught


def exported_rows(client, django_capture_on_commit_callbacks, export_type):
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/analytics/export", {"type": export_type, "period": "7d"}, format="json")
    assert created.status_code == 202, created.content
    status = client.get(f"/analytics/export/{created.json()['data']['exportId']}").json()["data"]
    assert status["status"] == "completed", status
    download = APIClient().get(status["downloadUrl"])
    return list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))


def test_instructor_results_export_holds_the_rows_of_their_courses(
    workspace, instructor, two_courses, bearer_client, django_capture_on_commit_callbacks
):
    rows = exported_rows(bearer_client(instructor, workspace), django_capture_on_commit_callbacks, "results")

    assert [row["contentId"] for row in rows] == [two_courses[0].key]


@pytest.mark.parametrize("export_type", ["results", "events"])
def test_instructor_api_key_exports_no_course(
    workspace, two_courses, api_key_client, django_capture_on_commit_callbacks, export_type
):
    # The key's job has no person: the results export read the whole workspace and the raw
    # tables' exports the courses without any instructor, where the APIs answer nothing.
    rows = exported_rows(api_key_client(workspace, Role.INSTRUCTOR), django_capture_on_commit_callbacks, export_type)

    assert rows == []


@pytest.mark.parametrize("export_type", ["results", "events"])
def test_instructor_teaching_no_course_exports_an_empty_file(
    workspace, make_member, two_courses, bearer_client, django_capture_on_commit_callbacks, export_type
):
    # On PostgreSQL a raw table's CSV is written by COPY, whose SQL compiled an empty course
    # list into EmptyResultSet: the job failed instead of writing a header.
    newcomer = make_member(workspace, Role.INSTRUCTOR)

    rows = exported_rows(bearer_client(newcomer, workspace), django_capture_on_commit_callbacks, export_type)

    assert rows == []


def test_admin_api_key_exports_every_course(workspace, two_courses, api_key_client, django_capture_on_commit_callbacks):
    rows = exported_rows(api_key_client(workspace), django_capture_on_commit_callbacks, "results")

    assert sorted(row["contentId"] for row in rows) == sorted(course.key for course in two_courses)
