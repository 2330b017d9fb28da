"""The one rule of which courses a credential may read (analytics.definitions): every course of
the workspace for an admin, the courses they teach for an instructor, none for an instructor API
key (it has no person)."""

import pytest

from accounts.credentials import Credential
from accounts.models import Role
from analytics.definitions import can_read_course, course_scope
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def courses(workspace, other_workspace, instructor):
    """(taught, untaught, elsewhere): `instructor` teaches the first and a course of another
    workspace; nobody teaches the second."""
    taught = CourseFactory(workspace=workspace)
    untaught = CourseFactory(workspace=workspace)
    elsewhere = CourseFactory(workspace=other_workspace)
    taught.instructors.add(instructor)
    elsewhere.instructors.add(instructor)
    return taught, untaught, elsewhere


def test_an_admin_reads_every_course_of_the_workspace(workspace, admin_user, courses):
    credential = Credential(workspace=workspace, role=Role.ADMIN, kind="session", user=admin_user)

    assert course_scope(credential) is None
    assert [can_read_course(credential, course) for course in courses[:2]] == [True, True]


def test_an_instructor_reads_the_courses_they_teach_in_the_workspace(workspace, instructor, courses):
    taught, untaught, _ = courses
    credential = Credential(workspace=workspace, role=Role.INSTRUCTOR, kind="jwt", user=instructor)

    assert list(course_scope(credential)) == [taught]
    assert [can_read_course(credential, course) for course in (taught, untaught)] == [True, False]


def test_an_instructor_api_key_reads_no_course(workspace, courses):
    credential = Credential(workspace=workspace, role=Role.INSTRUCTOR, kind="api_key")

    assert list(course_scope(credential)) == []
    assert [can_read_course(credential, course) for course in courses[:2]] == [False, False]
