"""The numbers only the dashboards show (analytics.queries.dashboards), on hand-built worlds."""

from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest

from accounts.models import Role
from analytics.queries.analyse import CustomFieldFilter, ResultFilters
from analytics.queries.dashboards import (
    active_learners_trend,
    course_chapter_quiz_time,
    course_video_drop_off,
    drop_off_rate,
    enrollments_over_time,
    learners_in_scope,
    top_contents_by_time,
    video_retention,
)
from analytics.queries.video_cloud import resolve_period, user_analytics
from analytics.services.course_info_rollups import rebuild_video_audiences
from tests.factories import (
    AttemptFactory,
    ChapterFactory,
    CourseFactory,
    CustomFieldFactory,
    CustomFieldValueFactory,
    EnrollmentFactory,
    LearnerGroupFactory,
    LearningEventFactory,
    PageSessionFactory,
    VideoFactory,
    VideoViewFactory,
)

UTC = dt_timezone.utc
NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # a Wednesday


def at(day, hour=10):
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def three_learners(workspace, make_member):
    return [make_member(workspace, Role.LEARNER, email=f"l{index}@acme.test") for index in range(3)]


def test_active_learners_count_each_learner_once_per_day_week_month_and_period(workspace, three_learners):
    ann, bob, cy = three_learners
    PageSessionFactory(workspace=workspace, user=ann, started_at=at(16))  # Monday
    PageSessionFactory(workspace=workspace, user=ann, started_at=at(16, 11))
    LearningEventFactory(course=CourseFactory(workspace=workspace), user=ann, occurred_at=at(17))
    VideoViewFactory(video=VideoFactory(course=CourseFactory(workspace=workspace)), user=bob, started_at=at(17))
    PageSessionFactory(workspace=workspace, user=cy, started_at=at(14))  # Saturday of the week before

    trend = active_learners_trend(workspace, resolve_period("7d", NOW))

    assert trend.total == 3
    daily = dict(trend.daily)
    assert list(daily) == [date(2026, 3, day) for day in range(12, 19)]
    assert (daily[date(2026, 3, 14)], daily[date(2026, 3, 16)], daily[date(2026, 3, 17)], daily[date(2026, 3, 18)]) == (
        1,
        1,
        2,
        0,
    )
    assert trend.weekly == [(date(2026, 3, 9), 1), (date(2026, 3, 16), 2)]
    assert trend.monthly == [(date(2026, 3, 1), 3)]


def test_active_learners_leave_out_activity_outside_the_period_and_other_roles(workspace, three_learners, instructor):
    ann = three_learners[0]
    PageSessionFactory(workspace=workspace, user=ann, started_at=at(1))  # before 7d
    PageSessionFactory(workspace=workspace, user=instructor, started_at=at(17))  # not a learner

    assert active_learners_trend(workspace, resolve_period("7d", NOW)).total == 0


def test_active_learners_follow_a_group_filter(workspace, three_learners):
    ann, bob, _ = three_learners
    group = LearnerGroupFactory(workspace=workspace, name="Sales")
    group.members.add(bob)
    for learner in (ann, bob):
        PageSessionFactory(workspace=workspace, user=learner, started_at=at(17))

    scope = learners_in_scope(workspace, ResultFilters(group_ids=(group.public_id,)))
    trend = active_learners_trend(workspace, resolve_period("7d", NOW), learner_ids=scope)

    assert trend.total == 1
    assert dict(trend.daily)[date(2026, 3, 17)] == 1


def test_active_learners_without_filter_equal_the_user_analytics_numbers(workspace, three_learners):
    ann, bob, cy = three_learners
    now = datetime.now(UTC)
    PageSessionFactory(workspace=workspace, user=ann, started_at=now.replace(hour=0, minute=0))  # today at any hour
    PageSessionFactory(workspace=workspace, user=bob, started_at=now - timedelta(days=3))
    PageSessionFactory(workspace=workspace, user=cy, started_at=now - timedelta(days=20))
    active = user_analytics(workspace, resolve_period("7d", now), sections=("activity",))["activity"]["active_users"]

    assert active_learners_trend(workspace, resolve_period("7d", now)).daily[-1][1] == active["daily"] == 1
    assert active_learners_trend(workspace, resolve_period("7d", now)).total == active["weekly"] == 2
    assert active_learners_trend(workspace, resolve_period("30d", now)).total == active["monthly"] == 3


def test_enrollments_over_time_count_enrollments_and_unenrollments_on_their_days(workspace, three_learners):
    ann, bob, cy = three_learners
    course = CourseFactory(workspace=workspace)
    EnrollmentFactory(course=course, user=ann, enrolled_at=at(16))
    EnrollmentFactory(course=course, user=bob, enrolled_at=at(16, 12), unenrolled_at=at(18, 9))
    EnrollmentFactory(course=course, user=cy, enrolled_at=at(2))  # before the period

    timeline = enrollments_over_time(workspace, resolve_period("7d", NOW))

    assert timeline.unit == "day"
    assert (timeline.enrolled, timeline.unenrolled) == (2, 1)
    by_day = {row["start"]: (row["enrolled"], row["unenrolled"]) for row in timeline.rows}
    assert len(by_day) == 7
    assert by_day[date(2026, 3, 16)] == (2, 0)
    assert by_day[date(2026, 3, 18)] == (0, 1)


def test_enrollments_over_time_follow_the_learner_scope(workspace, three_learners):
    ann, bob, _ = three_learners
    field = CustomFieldFactory(workspace=workspace, name="Department")
    CustomFieldValueFactory(field=field, user=ann, value="Sales")
    CustomFieldValueFactory(field=field, user=bob, value="Legal")
    course = CourseFactory(workspace=workspace)
    EnrollmentFactory(course=course, user=ann, enrolled_at=at(16))
    EnrollmentFactory(course=course, user=bob, enrolled_at=at(16))

    scope = learners_in_scope(workspace, ResultFilters(custom_fields=(CustomFieldFilter(field.public_id, ("Sales",)),)))

    assert enrollments_over_time(workspace, resolve_period("7d", NOW), learner_ids=scope).enrolled == 1


def test_top_contents_by_time_sum_the_latest_attempts_time(workspace, three_learners):
    ann, bob, _ = three_learners
    long_course = CourseFactory(workspace=workspace, key="long", title="Long")
    short_course = CourseFactory(workspace=workspace, key="short", title="Short")
    CourseFactory(workspace=workspace, key="idle", title="Idle")
    AttemptFactory(course=long_course, user=ann, time_spent_s=100, version_number=0)
    AttemptFactory(course=long_course, user=ann, time_spent_s=700, version_number=1)  # the latest counts
    AttemptFactory(course=long_course, user=bob, time_spent_s=300)
    AttemptFactory(course=short_course, user=bob, time_spent_s=50)

    assert top_contents_by_time(workspace) == [
        {"id": "long", "name": "Long", "time_spent": 1000, "results": 2},
        {"id": "short", "name": "Short", "time_spent": 50, "results": 1},
    ]


def test_chapter_quiz_time_lists_every_chapter_in_position_order(workspace, three_learners):
    ann, bob, _ = three_learners
    course = CourseFactory(workspace=workspace, key="web-101")
    ChapterFactory(course=course, key="c2", title="Second", position=2)
    ChapterFactory(course=course, key="c1", title="First", position=1)
    for user, seconds in ((ann, 120), (bob, 60), (ann, 30)):
        PageSessionFactory(
            workspace=workspace,
            user=user,
            page="Quiz",
            path="/quiz/web-101/c2",
            course_key="web-101",
            chapter_key="c2",
            duration_s=seconds,
        )
    PageSessionFactory(
        workspace=workspace,
        user=ann,
        page="Quiz",
        path="/quiz/web-101/old",
        course_key="web-101",
        chapter_key="old",
        duration_s=10,
    )
    PageSessionFactory(
        workspace=workspace,
        user=ann,
        page="Home",
        path="/quiz/web-101/c1",
        course_key="web-101",
        chapter_key="c1",
        duration_s=999,
    )  # an excluded page

    assert course_chapter_quiz_time(course) == [
        {"chapter_key": "c1", "chapter_title": "First", "quiz_duration_s": 0, "quiz_sessions": 0, "learners": 0},
        {"chapter_key": "c2", "chapter_title": "Second", "quiz_duration_s": 210, "quiz_sessions": 3, "learners": 2},
        {"chapter_key": "old", "chapter_title": "old", "quiz_duration_s": 10, "quiz_sessions": 1, "learners": 1},
    ]


def test_video_retention_counts_distinct_learners_per_segment(workspace, three_learners):
    ann, bob, cy = three_learners
    video = VideoFactory(course=CourseFactory(workspace=workspace), duration_s=20, segment_length_s=5)
    VideoViewFactory(video=video, user=ann, segments=[0, 1, 2, 3])
    VideoViewFactory(video=video, user=ann, segments=[0, 1])  # ann again: counted once
    VideoViewFactory(video=video, user=bob, segments=[0, 1])
    VideoViewFactory(video=video, user=cy, segments=[0, 9])  # 9 is past the end

    retention = video_retention(video)

    assert [segment["viewers"] for segment in retention.segments] == [3, 2, 1, 1]
    assert [segment["start_s"] for segment in retention.segments] == [0, 5, 10, 15]
    assert (retention.largest_drop_segment, retention.largest_drop) == (1, 1)


def test_drop_off_is_the_share_that_started_and_did_not_finish():
    assert drop_off_rate(8, 2) == 0.75
    assert drop_off_rate(0, 0) is None
    assert drop_off_rate(2, 3) == 0.0


def test_course_video_drop_off_adds_titles_and_drop_off_to_course_videos(workspace, three_learners):
    ann, bob, _ = three_learners
    course = CourseFactory(workspace=workspace)
    video = VideoFactory(course=course, key="intro", title="Intro")
    VideoViewFactory(video=video, user=ann, watched_first_segment=True, watched_last_segment=True)
    VideoViewFactory(video=video, user=bob, watched_first_segment=True)

    rebuild_video_audiences()  # what Celery does every 30 s
    [row] = course_video_drop_off(course)

    assert (row["title"], row["users_at_start"], row["users_at_end"], row["drop_off"], row["drop_off_rate"]) == (
        "Intro",
        2,
        1,
        1,
        0.5,
    )
