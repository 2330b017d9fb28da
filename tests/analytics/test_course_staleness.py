"""Course information staleness is per course: a write marks the courses it touched, readers of
those courses use the raw rows until the course is rebuilt, every other course stays on the
rollups, and the frequent job rebuilds only the stale courses."""

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from django.core.cache import cache

from accounts.models import Role
from analytics import tasks
from analytics.models import CourseActivityWeek, CourseEnrollmentStep, CourseInfoState, CoursePassingCount
from analytics.queries import course_info as q
from analytics.queries import course_summaries
from analytics.services import course_info_rollups as rollups
from analytics.services.records import behaviour, catalog
from courses.models import AttemptState, Enrollment
from tests.factories import (
    AttemptFactory,
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    VideoFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2025, 4, 16, 13, 30, tzinfo=UTC)  # a Wednesday
TODAY = NOW.date()
MONDAY = datetime(2025, 4, 14, tzinfo=UTC)  # the current week
LAST_MONDAY = datetime(2025, 4, 7, tzinfo=UTC)  # the previous whole week


@pytest.fixture(autouse=True)
def no_queued_refresh(monkeypatch):
    """Writes queue no refresh here (Celery runs tasks eagerly in tests): the stale state between
    a write and its refresh is what these tests look at."""
    queued = []
    monkeypatch.setattr(tasks.refresh_course_info_rollups, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(rollups.REFRESH_QUEUED_KEY)
    yield queued
    cache.delete(rollups.REFRESH_QUEUED_KEY)


@pytest.fixture
def two_courses(workspace, make_member):
    """Courses A and B, one learner enrolled in each on 2025-04-01, rolled up (fresh)."""
    course_a = CourseFactory(workspace=workspace, key="course-v1:Org+A+2025")
    course_b = CourseFactory(workspace=workspace, key="course-v1:Org+B+2025")
    for course, name in ((course_a, "ann"), (course_b, "bob")):
        user = make_member(workspace, Role.LEARNER, email=f"{name}@acme.test")
        EnrollmentFactory(course=course, user=user, enrolled_at=datetime(2025, 4, 1, 9, tzinfo=UTC))
    rollups.rebuild_course_info(now=NOW)
    return course_a, course_b


def enrolled_on(course, day):
    [row] = q.course_enrollment_by_day(course, day, day + timedelta(days=1), TODAY)
    return row["count"]


def total_step(course):
    return CourseEnrollmentStep.objects.get(course=course, dimension="total")


def enroll_through_import(workspace, course, email, django_capture_on_commit_callbacks, make_member):
    """A new enrollment in course, written by the import's writer; its after-commit mark runs."""
    user = make_member(workspace, Role.LEARNER, email=email)
    with django_capture_on_commit_callbacks(execute=True):
        catalog.upsert_enrollments(
            workspace, [{"user_id": user.pk, "course_id": course.pk, "enrolled_at": datetime(2025, 4, 2, tzinfo=UTC)}]
        )


def test_reads_of_one_course_stay_on_the_rollup_while_another_course_receives_writes(
    workspace, two_courses, make_member, django_capture_on_commit_callbacks, monkeypatch
):
    course_a, course_b = two_courses
    # A sentinel in A's rollup: an answer of 41 can only come from the rollup (the raw rows say 1).
    CourseEnrollmentStep.objects.filter(course=course_a).update(enrolled=41)

    enroll_through_import(workspace, course_b, "new@acme.test", django_capture_on_commit_callbacks, make_member)

    assert q.course_info_sources([course_a.pk, course_b.pk]) == {course_a.pk: q.ROLLUP, course_b.pk: q.RAW}
    raw_reads = []
    steps_from_raw = q._steps_from_raw
    monkeypatch.setattr(
        q, "_steps_from_raw", lambda course, *args: raw_reads.append(course.pk) or steps_from_raw(course, *args)
    )
    assert enrolled_on(course_a, date(2025, 4, 3)) == 41
    assert enrolled_on(course_b, date(2025, 4, 3)) == 2  # the new enrollment, at once
    assert raw_reads == [course_b.pk]
    assert total_step(course_b).enrolled == 1  # B's rollup has not caught up: B was read raw


def test_course_summaries_read_fresh_courses_from_rollups_and_stale_ones_raw(
    workspace, two_courses, make_member, django_capture_on_commit_callbacks
):
    course_a, course_b = two_courses
    CourseEnrollmentStep.objects.filter(course=course_a).update(enrolled=41)

    enroll_through_import(workspace, course_b, "new@acme.test", django_capture_on_commit_callbacks, make_member)

    counts = {row["course_id"]: row["count"] for row in course_summaries.course_summaries(workspace, NOW)}
    assert counts == {course_a.key: 41, course_b.key: 2}


def test_refresh_rebuilds_only_the_stale_course_and_clears_its_mark(workspace, two_courses, make_member):
    course_a, course_b = two_courses
    a_step = total_step(course_a)
    CourseEnrollmentStep.objects.filter(pk=a_step.pk).update(enrolled=41)  # would be undone by a rebuild of A
    b_step = total_step(course_b)
    EnrollmentFactory(
        course=course_b,
        user=make_member(workspace, email="new@acme.test"),
        enrolled_at=datetime(2025, 4, 2, tzinfo=UTC),
    )
    rollups.record_course_changes([course_b.pk])

    result = rollups.refresh_stale_courses(NOW)

    assert result["courses"] == 1
    assert total_step(course_a).pk == a_step.pk and total_step(course_a).enrolled == 41
    b_steps = CourseEnrollmentStep.objects.filter(course=course_b, dimension="total").order_by("day")
    assert [(step.day, step.enrolled) for step in b_steps] == [(date(2025, 4, 1), 1), (date(2025, 4, 2), 2)]
    assert b_step.pk not in {step.pk for step in b_steps}
    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == set()
    assert rollups.refresh_stale_courses(NOW)["courses"] == 0


def test_stale_courses_are_rebuilt_in_batches_of_set_based_statements(workspace, two_courses, make_member, monkeypatch):
    course_a, course_b = two_courses
    course_c = CourseFactory(workspace=workspace, key="course-v1:Org+C+2025")
    for course, email in ((course_a, "a2@acme.test"), (course_b, "b2@acme.test"), (course_c, "c1@acme.test")):
        EnrollmentFactory(
            course=course, user=make_member(workspace, email=email), enrolled_at=datetime(2025, 4, 2, tzinfo=UTC)
        )
    rollups.record_course_changes([course_a.pk, course_b.pk, course_c.pk])
    monkeypatch.setattr(rollups, "REFRESH_BATCH", 2)
    batches = []
    rebuild_steps = rollups._rebuild_enrollment_steps
    monkeypatch.setattr(
        rollups,
        "_rebuild_enrollment_steps",
        lambda course_ids=None: batches.append(course_ids) or rebuild_steps(course_ids),
    )

    result = rollups.refresh_stale_courses(NOW)

    assert result["courses"] == 3
    assert [sorted(batch) for batch in batches] == [sorted([course_a.pk, course_b.pk]), [course_c.pk]]
    ends = {course.key: total_step_on(course, date(2025, 4, 2)) for course in (course_a, course_b, course_c)}
    assert ends == {course_a.key: 2, course_b.key: 2, course_c.key: 1}
    assert rollups.stale_course_ids([course_a.pk, course_b.pk, course_c.pk]) == set()


def total_step_on(course, day):
    return CourseEnrollmentStep.objects.get(course=course, dimension="total", day=day).enrolled


def test_a_change_marked_during_the_refresh_keeps_the_course_stale(two_courses, monkeypatch):
    _, course_b = two_courses
    rollups.record_course_changes([course_b.pk])
    rebuild_passing_counts = rollups._rebuild_passing_counts

    def rebuild_while_a_write_commits(course_ids=None):
        rollups.record_course_changes([course_b.pk])  # a write committed after the refresh began
        return rebuild_passing_counts(course_ids)

    monkeypatch.setattr(rollups, "_rebuild_passing_counts", rebuild_while_a_write_commits)

    assert rollups.refresh_stale_courses(NOW)["courses"] == 1
    assert rollups.stale_course_ids([course_b.pk]) == {course_b.pk}


def test_numbers_after_a_refresh_equal_a_recount_of_the_hand_built_rows(workspace, make_member, instructor):
    """A stale course, refreshed, answers from its rollups what these rows say, counted by hand."""
    course = CourseFactory(workspace=workspace)
    video = VideoFactory(course=course)
    ann, bob, cid = (make_member(workspace, email=f"{name}@acme.test") for name in ("ann", "bob", "cid"))
    EnrollmentFactory(course=course, user=ann, enrolled_at=datetime(2025, 4, 1, 10, tzinfo=UTC), mode="verified")
    EnrollmentFactory(
        course=course,
        user=bob,
        enrolled_at=datetime(2025, 4, 2, 10, tzinfo=UTC),
        unenrolled_at=datetime(2025, 4, 4, 10, tzinfo=UTC),
    )
    EnrollmentFactory(course=course, user=cid, enrolled_at=datetime(2025, 4, 3, 10, tzinfo=UTC), mode="verified")
    AttemptFactory(course=course, user=ann, state=AttemptState.APPROVED)
    LearningEventFactory(course=course, user=ann, type="attempted_problem", occurred_at=LAST_MONDAY + timedelta(days=1))
    LearningEventFactory(course=course, user=bob, type="posted_forum", occurred_at=LAST_MONDAY + timedelta(days=2))
    LearningEventFactory(
        course=course, user=instructor, type="posted_forum", occurred_at=LAST_MONDAY + timedelta(days=2)
    )
    VideoViewFactory(video=video, user=ann, started_at=MONDAY, watched_first_segment=True, watched_last_segment=True)
    VideoViewFactory(video=video, user=cid, started_at=MONDAY, watched_first_segment=True)
    assert rollups.stale_course_ids([course.pk]) == {course.pk}

    assert rollups.refresh_stale_courses(NOW)["courses"] == 1

    assert q.course_info_sources([course.pk]) == {course.pk: q.ROLLUP}
    # Enrolled at the end of each day: ann from 04-01; bob 04-02 to 04-03; cid from 04-03.
    by_day = q.course_enrollment_by_day(course, date(2025, 4, 1), date(2025, 4, 6), TODAY)
    assert [row["count"] for row in by_day] == [1, 2, 3, 2, 2]
    by_mode = q.course_enrollment_by_mode(course, date(2025, 4, 5), date(2025, 4, 6), TODAY)
    assert (by_mode[0]["count"], by_mode[0]["cumulative_count"], by_mode[0]["verified"]) == (2, 3, 2)
    weeks = q.course_activity_by_week(course, LAST_MONDAY, MONDAY + timedelta(days=7), NOW)
    assert [(w["any"], w["attempted_problem"], w["posted_forum"], w["played_video"]) for w in weeks] == [
        (2, 1, 1, 0),  # ann and bob; the instructor's post is not counted
        (2, 0, 0, 2),  # ann and cid watched
    ]
    [videos] = q.course_videos(course)
    assert (videos["users_at_start"], videos["users_at_end"]) == (2, 1)
    passing = CoursePassingCount.objects.filter(course=course).values_list("mode", "learners")
    assert list(passing) == [("verified", 1)]


def test_instructor_activity_is_not_counted(workspace, learner, instructor, admin_user):
    course = CourseFactory(workspace=workspace)
    for user in (learner, instructor, admin_user):
        LearningEventFactory(
            course=course, user=user, type="posted_forum", occurred_at=LAST_MONDAY + timedelta(hours=5)
        )
    rollups.rebuild_course_info(now=NOW)

    for from_raw in (True, False):
        [week] = q.course_activity_by_week(course, LAST_MONDAY, MONDAY, NOW, from_raw=from_raw)
        assert (week["any"], week["posted_forum"]) == (1, 1)
        assert q.course_recent_activity(course, "any", NOW, from_raw=from_raw)["count"] == 1
    [rolling] = q.course_activity_by_week(course, None, None, datetime(2025, 4, 14, 8, tzinfo=UTC))
    assert rolling["any"] == 1
    assert CourseActivityWeek.objects.get(course=course).any == 1


def test_a_demographic_change_marks_only_that_users_courses(
    workspace, two_courses, django_capture_on_commit_callbacks, no_queued_refresh
):
    course_a, course_b = two_courses
    ann = Enrollment.objects.get(course=course_a).user

    with django_capture_on_commit_callbacks(execute=True):
        ann.save(update_fields=["last_login"])
    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == set()

    with django_capture_on_commit_callbacks(execute=True):
        ann.country = "FR"
        ann.save(update_fields=["country"])

    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == {course_a.pk}
    assert len(no_queued_refresh) == 1


def test_an_imported_demographic_change_marks_only_that_users_courses(
    workspace, two_courses, django_capture_on_commit_callbacks
):
    course_a, course_b = two_courses

    with django_capture_on_commit_callbacks(execute=True):
        catalog.upsert_users(workspace, [{"email": "ann@acme.test", "gender": "f"}])

    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == {course_a.pk}


def test_a_video_change_marks_its_course(workspace, two_courses, django_capture_on_commit_callbacks):
    course_a, course_b = two_courses
    video = VideoFactory(course=course_b)
    CourseInfoState.objects.update(changed_at=None)  # the factory's save marked B already

    with django_capture_on_commit_callbacks(execute=True):
        video.duration_s = 600
        video.save()

    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == {course_b.pk}


def test_rebuild_course_info_of_a_workspace_leaves_other_workspaces_alone(workspace, other_workspace, two_courses):
    course_a, _ = two_courses
    elsewhere = CourseFactory(workspace=other_workspace)
    EnrollmentFactory(course=elsewhere, enrolled_at=datetime(2025, 4, 1, tzinfo=UTC))
    CourseEnrollmentStep.objects.filter(course=course_a).update(enrolled=41)

    result = rollups.rebuild_course_info(other_workspace.pk, now=NOW)

    assert result["courses"] == 1
    assert total_step(course_a).enrolled == 41
    assert total_step(elsewhere).enrolled == 1
    assert rollups.stale_course_ids([elsewhere.pk]) == set()


def test_a_page_session_is_counted_in_its_course_and_marks_only_the_one_it_leaves(
    workspace, two_courses, learner, django_capture_on_commit_callbacks
):
    """A tracked session is counted by difference in the course of its path (nothing marked); a
    re-sent path moving it to another course marks the course it leaves, whose count only a
    rebuild can lower."""
    course_a, course_b = two_courses
    session = {"id": uuid.uuid4(), "user_id": learner.pk, "page": "Player", "started_at": NOW, "duration_s": 30}

    def learners_this_week(course):
        return CourseActivityWeek.objects.filter(course=course, week_start=q.week_start(NOW)).values_list(
            "any", flat=True
        )

    with django_capture_on_commit_callbacks(execute=True):
        behaviour.upsert_page_sessions(workspace, [{**session, "path": f"/player/{course_b.key}"}])
    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == set()
    assert list(learners_this_week(course_b)) == [1]

    with django_capture_on_commit_callbacks(execute=True):
        behaviour.upsert_page_sessions(workspace, [{**session, "path": f"/player/{course_a.key}", "duration_s": 40}])
    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == {course_b.pk}
    assert list(learners_this_week(course_a)) == [1]


def test_a_role_change_marks_the_users_courses_in_that_workspace(two_courses, django_capture_on_commit_callbacks):
    course_a, course_b = two_courses
    membership = Enrollment.objects.get(course=course_a).user.memberships.get()

    with django_capture_on_commit_callbacks(execute=True):
        membership.role = Role.INSTRUCTOR
        membership.save()

    assert rollups.stale_course_ids([course_a.pk, course_b.pk]) == {course_a.pk}


def test_rebuilding_a_workspace_without_courses_writes_nothing_and_checks_clean(workspace, other_workspace):
    CourseFactory(workspace=other_workspace, key="course-v1:Org+Other+2025")
    from analytics.rollups.check import check_rollups

    assert rollups.rebuild_course_info(workspace.pk, now=NOW)["courses"] == 0
    assert check_rollups(workspace.pk, names=["course_info"]).ok
