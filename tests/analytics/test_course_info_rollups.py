"""Rollups of the Open edX course information API: equal to the raw rows, rebuilt by Celery
(the stale courses every few seconds, and after writes), whatever wrote the rows."""

import io
import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import Role
from analytics import tasks
from analytics.models import CourseActivityWeek, CourseEnrollmentStep, VideoAudience
from analytics.queries import course_info as q
from analytics.services.course_info_rollups import (
    REFRESH_QUEUED_KEY,
    rebuild_course_activity_history,
    refresh_course_info_rollups,
)
from courses.models import Enrollment, EnrollmentMode
from tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    MembershipFactory,
    PageSessionFactory,
    UserFactory,
    VideoFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db

UTC = timezone.utc
FIRST_DAY = date(2025, 3, 3)  # a Monday
NOW = datetime(2025, 4, 16, 13, 30, tzinfo=UTC)  # a Wednesday, 6 weeks and 2 days later


@pytest.fixture(autouse=True)
def no_queued_refresh():
    cache.delete(REFRESH_QUEUED_KEY)
    yield
    cache.delete(REFRESH_QUEUED_KEY)


def moment(rng, days):
    """A time in the first `days` days, often exactly at midnight or a second before."""
    day = FIRST_DAY + timedelta(days=rng.randrange(days))
    clock = rng.choice(
        [timedelta(0), timedelta(hours=23, minutes=59, seconds=59), timedelta(seconds=rng.randrange(86400))]
    )
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + clock


@pytest.fixture
def world(workspace, other_workspace):
    """A pseudo-random but fixed world: 2 courses here, 1 with the same key elsewhere."""
    rng = random.Random(20250303)
    courses = [
        CourseFactory(workspace=workspace, key="edX/DemoX/Demo_Course"),
        CourseFactory(workspace=workspace, key="course-v1:edX+Other+2025"),
        CourseFactory(workspace=other_workspace, key="edX/DemoX/Demo_Course"),
    ]
    videos = {course.pk: [VideoFactory(course=course) for _ in range(3)] for course in courses}
    modes = [mode.value for mode in EnrollmentMode] + ["honor", "audit"]
    for index in range(70):
        user = UserFactory(
            email=f"learner{index}@world.test",
            gender=rng.choice(["f", "m", "o", ""]),
            birth_year=rng.choice([None, 1970, 1985, 1990, 2001]),
            education_level=rng.choice(["", "bachelors", "masters", "doctorate", "none"]),
            country=rng.choice(["", "US", "FR", "IN", "XX", "de"]),
        )
        MembershipFactory(user=user, workspace=workspace, role=Role.LEARNER)
        for course in rng.sample(courses, rng.randrange(1, 3)):
            enrolled_at = moment(rng, 30)
            unenrolled_at = None
            if rng.random() < 0.35:
                unenrolled_at = rng.choice(
                    [
                        enrolled_at + timedelta(hours=rng.randrange(1, 5)),
                        datetime.combine(
                            enrolled_at.date() + timedelta(days=rng.randrange(1, 9)), datetime.min.time(), tzinfo=UTC
                        ),
                        enrolled_at + timedelta(days=rng.randrange(1, 20), seconds=rng.randrange(86400)),
                    ]
                )
            EnrollmentFactory(
                course=course, user=user, enrolled_at=enrolled_at, unenrolled_at=unenrolled_at, mode=rng.choice(modes)
            )
            for _ in range(rng.randrange(4)):
                LearningEventFactory(
                    course=course,
                    user=user,
                    occurred_at=moment(rng, 44),
                    type=rng.choice(["played_video", "attempted_problem", "posted_forum", "viewed", "problem_check"]),
                )
            for _ in range(rng.randrange(3)):
                VideoViewFactory(
                    video=rng.choice(videos[course.pk]),
                    user=user,
                    started_at=moment(rng, 44),
                    watched_first_segment=rng.random() < 0.7,
                    watched_last_segment=rng.random() < 0.3,
                )
            if rng.random() < 0.5:
                PageSessionFactory(workspace=course.workspace, user=user, course=course, started_at=moment(rng, 44))
    return courses


def build_rollups():
    refresh_course_info_rollups(NOW)
    rebuild_course_activity_history()


ENROLLMENT_QUERIES = [
    q.course_enrollment_by_day,
    q.course_enrollment_by_mode,
    q.course_enrollment_by_gender,
    q.course_enrollment_by_birth_year,
    q.course_enrollment_by_education,
    q.course_enrollment_by_location,
]
DAY_WINDOWS = [
    (None, None),
    (date(2025, 3, 1), date(2025, 4, 20)),
    (date(2025, 3, 10), date(2025, 3, 17)),
    (None, date(2025, 3, 12)),
    (date(2025, 3, 25), None),
    (date(2025, 2, 1), date(2025, 2, 10)),
]
WEEK_WINDOWS = [
    (None, None),
    (datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 4, 21, tzinfo=UTC)),
    (datetime(2025, 3, 5, 12, tzinfo=UTC), datetime(2025, 3, 30, tzinfo=UTC)),
    (None, datetime(2025, 3, 24, tzinfo=UTC)),
    (datetime(2025, 3, 31, tzinfo=UTC), None),
]


@pytest.mark.parametrize("query", ENROLLMENT_QUERIES, ids=lambda f: f.__name__)
def test_enrollment_rollups_equal_the_raw_rows(world, query):
    build_rollups()

    for course in world:
        for start_day, end_day in DAY_WINDOWS:
            from_rollup = query(course, start_day, end_day, NOW.date())
            from_raw = query(course, start_day, end_day, NOW.date(), from_raw=True)
            assert from_rollup == from_raw, (course.key, start_day, end_day)


def test_activity_rollups_equal_the_raw_rows(world):
    build_rollups()

    for course in world:
        for start_at, end_at in WEEK_WINDOWS:
            from_rollup = q.course_activity_by_week(course, start_at, end_at, NOW)
            assert from_rollup == q.course_activity_by_week(course, start_at, end_at, NOW, from_raw=True)
        for activity_type in q.ACTIVITY_TYPES:
            assert q.course_recent_activity(course, activity_type, NOW) == q.course_recent_activity(
                course, activity_type, NOW, from_raw=True
            )


def test_video_rollups_equal_the_raw_rows(world):
    build_rollups()

    for course in world:
        assert q.course_videos(course) == q.course_videos(course, from_raw=True)


def test_world_is_not_trivial(world):
    """The equality tests above compare real numbers, not empty lists."""
    build_rollups()
    course = world[0]

    counts = [
        row["count"] for row in q.course_enrollment_by_day(course, date(2025, 3, 1), date(2025, 4, 10), NOW.date())
    ]
    weeks = q.course_activity_by_week(course, datetime(2025, 3, 3, tzinfo=UTC), None, NOW)

    assert max(counts) > 10 and len(set(counts)) > 5
    assert sum(week["posted_forum"] for week in weeks) > 0
    assert any(video["users_at_end"] for video in q.course_videos(course))


def test_enrollment_counts_match_an_independent_recount(world):
    """The raw SQL itself against a plain Python recount of the enrollment rows."""
    course = world[0]
    enrollments = list(Enrollment.objects.filter(course=course))

    rows = q.course_enrollment_by_mode(course, date(2025, 3, 1), date(2025, 4, 10), NOW.date(), from_raw=True)

    for row in rows:
        end = datetime.combine(row["date"] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        enrolled = [e for e in enrollments if e.enrolled_at < end and not (e.unenrolled_at and e.unenrolled_at < end)]
        assert row["count"] == len(enrolled), row["date"]
        assert row["cumulative_count"] == sum(1 for e in enrollments if e.enrolled_at < end)
        assert row["verified"] == sum(1 for e in enrolled if e.mode == "verified")


# ---------------------------------------------------------------------------------------------
# Rebuilding


def test_rebuild_replaces_rows_of_deleted_enrollments(world):
    build_rollups()
    course = world[0]
    Enrollment.objects.filter(course=course).delete()

    refresh_course_info_rollups(NOW)

    assert q.course_enrollment_by_day(course, None, None, NOW.date()) == [
        {"date": NOW.date() - timedelta(days=1), "count": 0}
    ]
    assert not CourseEnrollmentStep.objects.filter(course=course).exists()


def test_rebuilding_twice_writes_the_same_rows(world):
    build_rollups()
    columns = ("course", "dimension", "category", "day", "next_day", "enrolled", "ever_enrolled")
    first = Counter(CourseEnrollmentStep.objects.values_list(*columns))

    build_rollups()

    assert Counter(CourseEnrollmentStep.objects.values_list(*columns)) == first


def test_thirty_second_refresh_rebuilds_only_the_previous_and_current_week(workspace, learner):
    course = CourseFactory(workspace=workspace)
    LearningEventFactory(course=course, user=learner, type="posted_forum", occurred_at=datetime(2025, 4, 2, tzinfo=UTC))
    LearningEventFactory(course=course, user=learner, type="posted_forum", occurred_at=datetime(2025, 4, 8, tzinfo=UTC))

    refresh_course_info_rollups(NOW)
    recent = set(CourseActivityWeek.objects.values_list("week_start", flat=True))
    rebuild_course_activity_history()
    every = set(CourseActivityWeek.objects.values_list("week_start", flat=True))

    assert recent == {datetime(2025, 4, 7, tzinfo=UTC)}
    assert every == {datetime(2025, 3, 31, tzinfo=UTC), datetime(2025, 4, 7, tzinfo=UTC)}


def test_video_audience_counts_distinct_learners(workspace, learner, make_member):
    video = VideoFactory(course=CourseFactory(workspace=workspace))
    other = make_member(workspace, Role.LEARNER, email="other@acme.test")
    VideoViewFactory(video=video, user=learner, watched_first_segment=True, watched_last_segment=True)
    VideoViewFactory(video=video, user=learner, watched_first_segment=True)
    VideoViewFactory(video=video, user=other, watched_first_segment=True)

    refresh_course_info_rollups(NOW)

    assert VideoAudience.objects.get(video=video).users_at_start == 2
    assert VideoAudience.objects.get(video=video).users_at_end == 1


# ---------------------------------------------------------------------------------------------
# Celery: beat and on ingest


def test_beat_refreshes_well_within_a_minute():
    schedule = settings.CELERY_BEAT_SCHEDULE

    refresh = schedule["refresh-course-info-rollups"]
    history = schedule["rebuild-course-activity-history"]

    assert refresh["task"] == "analytics.tasks.refresh_course_info_rollups" and refresh["schedule"] <= 10
    assert history["task"] == "analytics.tasks.rebuild_course_activity_history" and history["schedule"] <= 3600


def test_refresh_task_rebuilds_and_reports(workspace, learner):
    course = CourseFactory(workspace=workspace)
    EnrollmentFactory(course=course, user=learner)

    result = tasks.refresh_course_info_rollups.delay().get()

    assert result["enrollment_steps"] == len(q.ENROLLMENT_DIMENSIONS)
    assert CourseEnrollmentStep.objects.filter(course=course, dimension="total").get().enrolled == 1


def test_saved_enrollment_queues_a_refresh_after_commit(workspace, learner, django_capture_on_commit_callbacks):
    course = CourseFactory(workspace=workspace)

    with django_capture_on_commit_callbacks(execute=True):
        EnrollmentFactory(course=course, user=learner)

    # Celery runs tasks eagerly in tests: the refresh has already happened.
    assert CourseEnrollmentStep.objects.filter(course=course, dimension="total").get().enrolled == 1
    assert cache.get(REFRESH_QUEUED_KEY) is True


def test_refresh_requests_are_debounced(workspace, learner, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.refresh_course_info_rollups, "apply_async", lambda **kw: queued.append(kw))
    course = CourseFactory(workspace=workspace)

    with django_capture_on_commit_callbacks(execute=True):
        EnrollmentFactory(course=course, user=learner)
        LearningEventFactory(course=course, user=learner)

    assert len(queued) == 1


def test_login_stamp_queues_no_refresh(workspace, learner, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.refresh_course_info_rollups, "apply_async", lambda **kw: queued.append(kw))
    EnrollmentFactory(course=CourseFactory(workspace=workspace), user=learner)
    cache.delete(REFRESH_QUEUED_KEY)

    with django_capture_on_commit_callbacks(execute=True):
        learner.save(update_fields=["last_login"])
    with django_capture_on_commit_callbacks(execute=True):
        learner.save(update_fields=["country"])

    assert len(queued) == 1


def test_management_command_rebuilds_everything(workspace, learner):
    course = CourseFactory(workspace=workspace)
    LearningEventFactory(course=course, user=learner, type="viewed", occurred_at=datetime(2024, 1, 3, tzinfo=UTC))

    call_command("refresh_course_info_rollups", stdout=io.StringIO())

    assert CourseActivityWeek.objects.get(course=course).any == 1
