"""The database refuses data that cannot be true."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import (
    AttemptFactory,
    CourseFactory,
    EnrollmentFactory,
    MembershipFactory,
    PageSessionFactory,
    VideoFactory,
    VideoReactionFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db


def assert_refused(factory, **fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**fields)


def test_course_key_unique_within_workspace_but_not_across(workspace, other_workspace):
    CourseFactory(workspace=workspace, key="edX/DemoX/Demo_Course")
    CourseFactory(workspace=other_workspace, key="edX/DemoX/Demo_Course")

    assert_refused(CourseFactory, workspace=workspace, key="edX/DemoX/Demo_Course")


def test_video_key_unique_within_workspace(workspace):
    course = CourseFactory(workspace=workspace)
    VideoFactory(course=course, key="intro")

    assert_refused(VideoFactory, course=course, key="intro")


def test_video_segment_length_must_be_positive(workspace):
    assert_refused(VideoFactory, course=CourseFactory(workspace=workspace), segment_length_s=0)


def test_attempt_progress_above_100_refused(workspace):
    assert_refused(AttemptFactory, course=CourseFactory(workspace=workspace), progress=101)


def test_attempt_score_above_100_refused(workspace):
    assert_refused(AttemptFactory, course=CourseFactory(workspace=workspace), score=150)


def test_one_attempt_per_user_course_version(workspace, learner):
    course = CourseFactory(workspace=workspace)
    AttemptFactory(course=course, user=learner, version_number=1)
    AttemptFactory(course=course, user=learner, version_number=2)

    assert_refused(AttemptFactory, course=course, user=learner, version_number=1)


def test_one_enrollment_per_user_and_course(workspace, learner):
    course = CourseFactory(workspace=workspace)
    EnrollmentFactory(course=course, user=learner)

    assert_refused(EnrollmentFactory, course=course, user=learner)


def test_unenrollment_before_enrollment_refused(workspace, learner):
    now = timezone.now()

    assert_refused(
        EnrollmentFactory,
        course=CourseFactory(workspace=workspace),
        user=learner,
        enrolled_at=now,
        unenrolled_at=now - timedelta(seconds=1),
    )


def test_negative_page_duration_refused(workspace, learner):
    assert_refused(PageSessionFactory, workspace=workspace, user=learner, duration_s=-5)


def test_one_membership_per_user_and_workspace(workspace, learner):
    assert_refused(MembershipFactory, user=learner, workspace=workspace)


def test_same_reaction_at_same_instant_counted_once(workspace, learner):
    video = VideoFactory(course=CourseFactory(workspace=workspace))
    at = timezone.now()
    VideoReactionFactory(video=video, user=learner, type="like", at=at)

    assert_refused(VideoReactionFactory, video=video, user=learner, type="like", at=at)


def test_birth_year_must_be_plausible(db):
    from tests.factories import UserFactory

    assert_refused(UserFactory, birth_year=1200)


def test_workspace_slug_unique(db):
    WorkspaceFactory(slug="same")
    from accounts.models import Workspace

    with pytest.raises(IntegrityError), transaction.atomic():
        Workspace.objects.create(slug="same", name="Again")
