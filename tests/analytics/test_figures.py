"""Each figure with one definition (issue 20) against a recount, in plain Python, of the rows the
test writes: active learners (both counting strategies) and their trend, video views per video and
UTC day, and the per-learner daily sums of the export."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

import pytest

from accounts.models import Role
from analytics.definitions import resolve_period
from analytics.queries import activity
from analytics.queries.activity import DAY_SUMS
from analytics.queries.dashboards import active_learners_trend
from analytics.queries.video_cloud import video_analytics, video_summary
from analytics.queries.video_cloud.users import ACTIVE_WINDOWS
from analytics.queries.video_cloud.videos import video_daily_stats
from exports.periods import export_window
from exports.sources import ExportScope, learner_daily_activity
from tests.factories import CourseFactory, LearningEventFactory, PageSessionFactory, VideoFactory, VideoViewFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)  # a Monday
TODAY = NOW.date()


def days_ago(days, hour=10):
    return datetime.combine(TODAY - timedelta(days=days), time(hour), UTC)


@pytest.fixture
def world(workspace, other_workspace, make_member):
    """Learners active on chosen days (days before today) through each kind of activity, an
    instructor active like a learner, and a learner of another workspace. Returns
    {"learners": {name: user}, "rows": [(user, moment)] of every activity written}."""
    course = CourseFactory(workspace=workspace)
    video = VideoFactory(course=course)
    plan = {  # name: [(days ago, kind)]
        "ann": [(0, "page")],
        "bob": [(3, "event"), (40, "page")],
        "cy": [(10, "video"), (100, "video")],
        "dee": [(20, "page"), (150, "event")],
        "eve": [(60, "page")],
        "fay": [(5, "video"), (120, "page")],
        "gus": [(35, "event"), (36, "page")],
    }
    learners = {name: make_member(workspace, email=f"{name}@acme.test") for name in plan}
    staff = make_member(workspace, Role.INSTRUCTOR, email="staff@acme.test")
    stranger = make_member(other_workspace, email="stranger@globex.test")
    rows = []

    def write(user, moment, kind, target=workspace):
        if kind == "page":
            PageSessionFactory(workspace=target, user=user, started_at=moment)
        elif kind == "event":
            LearningEventFactory(course=course, user=user, occurred_at=moment)
        else:
            VideoViewFactory(video=video, user=user, started_at=moment)
        rows.append((user, moment))

    for name, activity_days in plan.items():
        for ago, kind in activity_days:
            write(learners[name], days_ago(ago), kind)
    write(staff, days_ago(0), "page")
    write(staff, days_ago(50), "video")
    PageSessionFactory(workspace=other_workspace, user=stranger, started_at=days_ago(1))
    return {"learners": learners, "rows": rows, "course": course, "video": video}


def recount_counts(world, period, windows, only=None):
    """active_learner_counts by hand: the learners' activity days, from the rows written."""
    learner_ids = {user.pk for user in world["learners"].values()}
    if only is not None:
        learner_ids &= set(only)
    days = defaultdict(set)
    for user, moment in world["rows"]:
        if user.pk in learner_ids:
            days[user.pk].add(moment.date())
    start, end, previous = period.start_day, period.end_day, period.previous.start_day

    def active(first, last):
        return {user for user, seen in days.items() if any(first <= day < last for day in seen)}

    now_active, before = active(start, end), active(previous, start)
    counts = {name: len(active(end - timedelta(days=length), end)) for name, length in windows.items()}
    counts.update(
        active=len(now_active),
        new=len({user for user in now_active if min(days[user]) >= start}),
        previous_active=len(before),
        churned=len(before - now_active),
    )
    return counts


@pytest.mark.parametrize("name", ["1d", "7d", "30d", "90d"])
def test_active_learner_counts_from_one_row_per_learner_equal_the_recount(workspace, world, name):
    period = resolve_period(name, NOW)

    assert activity.counting_strategy(workspace, period.end_day) == activity.LEARNER_ACTIVITY
    assert activity.active_learner_counts(workspace, period, ACTIVE_WINDOWS) == recount_counts(
        world, period, ACTIVE_WINDOWS
    )


@pytest.mark.parametrize("name", ["7d", "90d"])
def test_active_learner_counts_with_future_dated_activity_equal_the_recount(workspace, world, name):
    """A day after today sends the counts to the learner-day rows; it is in no window."""
    hal = world["learners"]["ann"]
    PageSessionFactory(workspace=workspace, user=hal, started_at=NOW + timedelta(days=2))
    PageSessionFactory(workspace=workspace, user=world["learners"]["eve"], started_at=NOW + timedelta(days=3))
    period = resolve_period(name, NOW)

    assert activity.counting_strategy(workspace, period.end_day) == activity.LEARNER_DAYS
    counts = activity.active_learner_counts(workspace, period, ACTIVE_WINDOWS)

    world["rows"] += [(hal, NOW + timedelta(days=2)), (world["learners"]["eve"], NOW + timedelta(days=3))]
    assert counts == recount_counts(world, period, ACTIVE_WINDOWS)


def test_active_learner_counts_of_some_learners_equal_the_recount(workspace, world):
    chosen = [world["learners"][name].pk for name in ("bob", "cy", "gus")]
    period = resolve_period("30d", NOW)

    assert activity.counting_strategy(workspace, period.end_day, chosen) == activity.LEARNER_DAYS
    counts = activity.active_learner_counts(workspace, period, ACTIVE_WINDOWS, learner_ids=chosen)

    assert counts == recount_counts(world, period, ACTIVE_WINDOWS, only=chosen)
    # the data reaches the branches: bob (40 days ago) and gus (35) before, gus gone since
    assert (counts["previous_active"], counts["churned"]) == (2, 1)


def test_active_learners_trend_per_day_week_and_month_equal_the_recount(workspace, world):
    period = resolve_period("90d", NOW)
    chosen = [user.pk for name, user in world["learners"].items() if name != "fay"]
    per_day = defaultdict(set)
    for user, moment in world["rows"]:
        if user.pk in chosen and period.start_day <= moment.date() < period.end_day:
            per_day[moment.date()].add(user.pk)

    def bucket(start_of):
        buckets = defaultdict(set)
        for day, users in per_day.items():
            buckets[start_of(day)] |= users
        return {start: len(users) for start, users in buckets.items()}

    trend = active_learners_trend(workspace, period, learner_ids=chosen)

    assert trend.total == len(set().union(*per_day.values())) == 6  # every learner active in 90 days but fay
    assert dict(trend.daily) == {
        period.start_day + timedelta(days=offset): len(per_day.get(period.start_day + timedelta(days=offset), ()))
        for offset in range(90)
    }
    assert {start: n for start, n in trend.weekly if n} == bucket(lambda day: day - timedelta(days=day.weekday()))
    assert {start: n for start, n in trend.monthly if n} == bucket(lambda day: day.replace(day=1))


# Video views per video and UTC day -------------------------------------------------------------


@pytest.fixture
def views(workspace, make_member):
    """Views of two videos by two learners and an instructor, near midnight UTC too."""
    course = CourseFactory(workspace=workspace)
    first, second = VideoFactory(course=course, key="intro"), VideoFactory(course=course, key="outro")
    ann, bob = make_member(workspace), make_member(workspace)
    staff = make_member(workspace, Role.INSTRUCTOR)
    plan = [
        (first, ann, days_ago(0, 1), 30, True),
        (first, ann, days_ago(0, 23), 40, False),
        (first, bob, days_ago(0, 9), 50, True),
        (first, staff, days_ago(1, 23), 60, True),
        (second, bob, days_ago(1, 0), 70, False),
        (second, ann, days_ago(6), 80, True),
        (first, bob, days_ago(9), 90, False),
    ]
    rows = []
    for video, user, moment, watched, completed in plan:
        VideoViewFactory(video=video, user=user, started_at=moment, watched_s=watched, is_completed=completed)
        rows.append({"video": video, "user": user.pk, "day": moment.date(), "watched": watched, "completed": completed})
    return {"first": first, "second": second, "rows": rows}


def recount_views(rows):
    """{(day, video key): (views, unique viewers, seconds watched, completed)} of the rows."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["day"], row["video"].key)].append(row)
    return {
        key: (
            len(group),
            len({row["user"] for row in group}),
            sum(row["watched"] for row in group),
            sum(row["completed"] for row in group),
        )
        for key, group in groups.items()
    }


def test_video_daily_stats_equal_the_recount(workspace, views):
    period = resolve_period("7d", NOW)

    count, rows = video_daily_stats(workspace, period.start, period.end)
    found = {
        (row["day"], row["video_key"]): (row["views"], row["unique"], row["watched_sum"], row["completed"])
        for row in rows
    }

    expected = recount_views([row for row in views["rows"] if row["day"] >= period.start_day])
    assert found == expected
    assert count == len(expected) == 4


def test_video_timeline_and_summary_equal_the_recount(workspace, views):
    period = resolve_period("7d", NOW)
    in_period = [row for row in views["rows"] if row["day"] >= period.start_day]
    per_day = recount_views(in_period)

    timeline = video_analytics(workspace, "intro", period, sections=("views", "engagement"))
    summary = video_summary(workspace, period, sections=("total_views", "total_watch_time"))

    for point, engagement in zip(timeline["views"]["timeline"], timeline["engagement"]["timeline"]):
        views_, unique, watched, _ = per_day.get((date.fromisoformat(point["date"]), "intro"), (0, 0, 0, 0))
        assert (point["views"], point["unique"], engagement["watch_time"]) == (views_, unique, watched)
    # every user's views, the instructor's too
    assert summary["total_views"] == sum(views_ for views_, _, _, _ in per_day.values()) == 6
    assert summary["total_watch_time"] == sum(watched for _, _, watched, _ in per_day.values())


# Per-learner daily sums of the export ----------------------------------------------------------


@pytest.mark.parametrize("by_course", [False, True])
def test_learner_day_export_sums_equal_the_recount(workspace, make_member, by_course):
    """Without a course scope the rows are LearnerDay's; with one, the raw rows of those courses."""
    course, elsewhere = CourseFactory(workspace=workspace), CourseFactory(workspace=workspace)
    video, other_video = VideoFactory(course=course), VideoFactory(course=elsewhere)
    ann, bob = make_member(workspace), make_member(workspace)
    sums = defaultdict(lambda: dict.fromkeys(DAY_SUMS, 0))

    def count(user, moment, where, **add):
        if not by_course or where == course:
            row = sums[(moment.date(), user.pk)]
            for name, value in add.items():
                row[name] += value

    for user, moment, where, seconds in (
        (ann, days_ago(0, 0), course, 30),
        (ann, days_ago(0, 23), elsewhere, 45),
        (bob, days_ago(2), course, 10),
    ):
        PageSessionFactory(workspace=workspace, user=user, started_at=moment, duration_s=seconds, course=where)
        count(user, moment, where, page_sessions=1, page_seconds=seconds)
    for user, moment, where in (
        (ann, days_ago(0, 5), course),
        (bob, days_ago(3), elsewhere),
        (bob, days_ago(2), course),
    ):
        LearningEventFactory(course=where, user=user, occurred_at=moment)
        count(user, moment, where, events=1)
    for user, moment, on, watched in ((ann, days_ago(1, 23), video, 20), (bob, days_ago(2, 8), other_video, 35)):
        VideoViewFactory(video=on, user=user, started_at=moment, watched_s=watched)
        count(user, moment, on.course, video_views=1, watch_seconds=watched)
    scope = ExportScope(workspace, course_ids=(course.pk,) if by_course else None)

    total, rows = learner_daily_activity(scope, export_window("7d", NOW))
    found = {(row["day"], row["user_id"]): {name: row[name] for name in DAY_SUMS} for row in rows}

    assert found == dict(sums)
    assert total == len(sums)
