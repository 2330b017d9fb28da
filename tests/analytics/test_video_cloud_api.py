"""VideoCloud analytics API (/analytics/videos/..., /analytics/users..., /analytics/system/...):
exact numbers on small hand-built worlds.

The clock is pinned to Saturday 2024-03-30 15:30:00Z, so (whole UTC days ending today):
    7d  = 03-24 00:00 .. 03-31 00:00, previous 03-17 .. 03-24
    30d = 03-01 00:00 .. 03-31 00:00, previous 01-31 .. 03-01
    1h  = 15:00 .. 16:00 (30 minutes elapsed); 24h = 03-29 16:00 .. 03-30 16:00
ISO weeks start on Monday: 02-26, 03-04, 03-11, 03-18, 03-25.
"""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.models import Role
from analytics.models import HealthCheck, RequestMetric
from analytics.queries.video_cloud import periods
from exports.models import ExportJob, ExportStatus
from tests.factories import (
    CourseFactory,
    LearningEventFactory,
    PageSessionFactory,
    VideoFactory,
    VideoReactionFactory,
    VideoViewFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2024, 3, 30, 15, 30, tzinfo=UTC)


def at(month, day, hour=12, minute=0, second=0):
    return datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(periods, "utc_now", lambda: NOW)


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_client(workspace, api_key_client):
    return api_key_client(workspace)


@pytest.fixture
def course(workspace):
    return CourseFactory(workspace=workspace, key="course-1")


@pytest.fixture
def video(course):
    return VideoFactory(course=course, key="vid_123456", title="Intro")


def get_data(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is (status == 200)
    return body["data"] if status == 200 else body["error"]


# --- /analytics/videos/{id}: views ------------------------------------------------------------------


@pytest.fixture
def three_views(video, make_member, workspace):
    """Three views of the video in the 7d period by two learners, and views that must not count."""
    alice = make_member(workspace, email="alice@acme.test")
    bob = make_member(workspace, email="bob@acme.test")
    VideoViewFactory(
        video=video,
        user=alice,
        started_at=at(3, 24, 0, 0, 0),
        watched_s=100,
        is_completed=True,
        country="US",
        device="desktop",
        platform="web",
    )
    VideoViewFactory(
        video=video,
        user=alice,
        started_at=at(3, 25, 10),
        watched_s=50,
        is_completed=False,
        country="US",
        device="mobile",
        platform="ios",
    )
    VideoViewFactory(
        video=video,
        user=bob,
        started_at=at(3, 30, 14),
        watched_s=30,
        is_completed=True,
        country="",
        device="desktop",
        platform="web",
    )
    # Another video of the workspace, and a video with the same key in another workspace.
    VideoViewFactory(video=VideoFactory(course=video.course, key="other"), user=bob, started_at=at(3, 26))
    elsewhere = VideoFactory(course=CourseFactory(workspace=WorkspaceFactory(slug="globex")), key="vid_123456")
    VideoViewFactory(video=elsewhere, started_at=at(3, 26))
    return alice, bob


def test_video_views_count_total_unique_and_breakdowns(admin_client, three_views):
    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    assert views["total"] == 3
    assert views["unique"] == 2
    assert views["byCountry"] == {"US": 2, "unknown": 1}
    assert views["byDevice"] == {"desktop": 2, "mobile": 1}
    assert views["byPlatform"] == {"web": 2, "ios": 1, "android": 0}


def test_breakdowns_carry_every_documented_key_in_document_order(admin_client, video):
    VideoViewFactory(video=video, started_at=at(3, 29), country="DE", device="tablet", platform="android")
    VideoViewFactory(video=video, started_at=at(3, 29), country="DE", device="", platform="")

    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    # desktop and mobile (the document's) always, zeros included; tablet and unknown only when seen
    assert list(views["byDevice"].items()) == [("desktop", 0), ("mobile", 0), ("tablet", 1), ("unknown", 1)]
    assert list(views["byPlatform"].items()) == [("web", 0), ("ios", 0), ("android", 1), ("unknown", 1)]
    assert views["byCountry"] == {"DE": 2}


def test_breakdowns_sum_each_field_over_the_others(admin_client, video):
    # Countries, devices and platforms vary independently (they are counted from one query grouped
    # by the three): DE 2 and FR 2 tie (by name), US 1; desktop 3, mobile 1, tablet 1.
    for country, device, platform in [
        ("FR", "desktop", "web"),
        ("DE", "mobile", "web"),
        ("FR", "tablet", "ios"),
        ("US", "desktop", "ios"),
        ("DE", "desktop", ""),
    ]:
        VideoViewFactory(video=video, started_at=at(3, 29), country=country, device=device, platform=platform)

    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    assert list(views["byCountry"].items()) == [("DE", 2), ("FR", 2), ("US", 1)]
    assert list(views["byDevice"].items()) == [("desktop", 3), ("mobile", 1), ("tablet", 1)]
    assert list(views["byPlatform"].items()) == [("web", 2), ("ios", 2), ("android", 0), ("unknown", 1)]


def test_breakdowns_of_an_empty_period_are_zeros_without_unknown(admin_client, video):
    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    assert views["byDevice"] == {"desktop": 0, "mobile": 0}
    assert views["byPlatform"] == {"web": 0, "ios": 0, "android": 0}
    assert views["byCountry"] == {}


def test_view_one_second_before_period_start_is_excluded(admin_client, video):
    VideoViewFactory(video=video, started_at=at(3, 23, 23, 59, 59))

    data = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&compare=previous&metrics=views")

    assert data["views"]["total"] == 0
    assert data["views"]["previous"] == {"total": 1, "unique": 1}


def test_period_is_whole_utc_days_ending_today(admin_client, video):
    data = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&compare=previous")

    assert data["period"] == {
        "start": "2024-03-24T00:00:00Z",
        "end": "2024-03-31T00:00:00Z",
        "previous": {"start": "2024-03-17T00:00:00Z", "end": "2024-03-24T00:00:00Z"},
    }


def test_change_is_0_when_previous_period_is_empty(admin_client, three_views):
    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    assert views["change"] == 0


def test_change_is_relative_to_previous_period(admin_client, video, three_views):
    VideoViewFactory(video=video, started_at=at(3, 17, 0, 0, 0))
    VideoViewFactory(video=video, started_at=at(3, 23, 23, 59, 59))

    views = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]

    assert views["change"] == 0.5  # (3 - 2) / 2


def test_without_compare_period_previous_is_there_but_no_previous_blocks(admin_client, three_views):
    data = get_data(admin_client, "/analytics/videos/vid_123456?period=7d")

    assert data["period"]["previous"] == {"start": "2024-03-17T00:00:00Z", "end": "2024-03-24T00:00:00Z"}
    assert "previous" not in data["views"]
    assert "previous" not in data["engagement"]


@pytest.mark.parametrize("value", ["previous", "true", "1"])
def test_compare_accepts_previous_true_and_1(admin_client, three_views, value):
    views = get_data(admin_client, f"/analytics/videos/vid_123456?period=7d&metrics=views&compare={value}")["views"]

    assert views["previous"] == {"total": 0, "unique": 0}


@pytest.mark.parametrize("value", ["false", "0"])
def test_compare_false_or_0_adds_no_previous_block(admin_client, three_views, value):
    views = get_data(admin_client, f"/analytics/videos/vid_123456?period=7d&metrics=views&compare={value}")["views"]

    assert "previous" not in views


def test_metrics_select_the_sections(admin_client, three_views):
    data = get_data(admin_client, "/analytics/videos/vid_123456?metrics=views,performance")

    assert set(data) == {"period", "views", "performance"}


def test_metrics_may_be_repeated(admin_client, three_views):
    data = get_data(admin_client, "/analytics/videos/vid_123456?metrics=views&metrics=engagement")

    assert set(data) == {"period", "views", "engagement"}


# --- /analytics/videos/{id}: timelines --------------------------------------------------------------


def test_daily_timeline_has_every_day_with_zeros(admin_client, three_views):
    timeline = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=views")["views"]["timeline"]

    assert timeline == [
        {"date": "2024-03-24", "views": 1, "unique": 1},
        {"date": "2024-03-25", "views": 1, "unique": 1},
        {"date": "2024-03-26", "views": 0, "unique": 0},
        {"date": "2024-03-27", "views": 0, "unique": 0},
        {"date": "2024-03-28", "views": 0, "unique": 0},
        {"date": "2024-03-29", "views": 0, "unique": 0},
        {"date": "2024-03-30", "views": 1, "unique": 1},
    ]


def test_hourly_timeline_has_24_buckets_a_day(admin_client, three_views):
    timeline = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&groupBy=hour&metrics=views")["views"][
        "timeline"
    ]

    assert len(timeline) == 7 * 24
    assert timeline[0] == {"date": "2024-03-24T00:00:00Z", "views": 1, "unique": 1}
    assert timeline[24 + 10] == {"date": "2024-03-25T10:00:00Z", "views": 1, "unique": 1}
    assert sum(bucket["views"] for bucket in timeline) == 3


def test_weekly_timeline_buckets_are_iso_weeks_overlapping_the_period(admin_client, three_views):
    week_7d = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&groupBy=week&metrics=views")
    week_30d = get_data(admin_client, "/analytics/videos/vid_123456?period=30d&groupBy=week&metrics=views")

    assert week_7d["views"]["timeline"] == [
        {"date": "2024-03-18", "views": 1, "unique": 1},  # Sunday 03-24 only
        {"date": "2024-03-25", "views": 2, "unique": 2},
    ]
    assert [bucket["date"] for bucket in week_30d["views"]["timeline"]] == [
        "2024-02-26",
        "2024-03-04",
        "2024-03-11",
        "2024-03-18",
        "2024-03-25",
    ]


def test_period_all_starts_on_the_day_of_the_first_view(admin_client, video):
    VideoViewFactory(video=video, started_at=at(3, 28, 18))

    data = get_data(admin_client, "/analytics/videos/vid_123456?period=all&metrics=views")

    assert data["period"] == {
        "start": "2024-03-28T00:00:00Z",
        "end": "2024-03-31T00:00:00Z",
        "previous": {"start": "2024-03-25T00:00:00Z", "end": "2024-03-28T00:00:00Z"},
    }
    assert [bucket["date"] for bucket in data["views"]["timeline"]] == ["2024-03-28", "2024-03-29", "2024-03-30"]


# --- /analytics/videos/{id}: engagement and performance ---------------------------------------------


def test_engagement_watch_time_completion_and_reactions(admin_client, video, three_views):
    alice, bob = three_views
    VideoReactionFactory(video=video, user=alice, type="like", at=at(3, 25))
    VideoReactionFactory(video=video, user=bob, type="like", at=at(3, 30))
    VideoReactionFactory(video=video, user=bob, type="comment", at=at(3, 30))
    VideoReactionFactory(video=video, user=bob, type="share", at=at(3, 23, 23, 59, 59))  # previous period

    engagement = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=engagement")["engagement"]

    assert engagement["averageWatchTime"] == 60  # (100 + 50 + 30) / 3
    assert engagement["completionRate"] == 0.6667  # 2 of 3
    assert (engagement["likes"], engagement["comments"], engagement["shares"]) == (2, 1, 0)
    assert engagement["timeline"][:2] == [
        {"date": "2024-03-24", "watchTime": 100, "completionRate": 1.0},
        {"date": "2024-03-25", "watchTime": 50, "completionRate": 0.0},
    ]
    assert engagement["timeline"][2] == {"date": "2024-03-26", "watchTime": 0, "completionRate": 0}


def test_average_watch_time_is_a_whole_number_rounded_half_up(admin_client, video):
    VideoViewFactory(video=video, started_at=at(3, 29), watched_s=100)
    VideoViewFactory(video=video, started_at=at(3, 29), watched_s=101)

    data = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=engagement&compare=previous")

    assert data["engagement"]["averageWatchTime"] == 101  # 100.5, half up
    assert type(data["engagement"]["averageWatchTime"]) is int
    assert data["engagement"]["previous"]["averageWatchTime"] == 0  # no view: 0, not null


def test_engagement_previous_figures_with_compare(admin_client, video, three_views):
    VideoViewFactory(video=video, started_at=at(3, 20), watched_s=40, is_completed=True)
    VideoReactionFactory(video=video, type="share", at=at(3, 20))

    engagement = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&compare=previous")["engagement"]

    assert engagement["previous"] == {
        "averageWatchTime": 40,
        "completionRate": 1.0,
        "likes": 0,
        "comments": 0,
        "shares": 1,
    }


def test_both_windows_figures_from_one_query_per_table(admin_client, video):
    # Period 24-31 March, previous 17-24 March (the totals and reactions are grouped by window).
    VideoViewFactory(video=video, started_at=at(3, 24), watched_s=90, buffering_s=9, bitrate_kbps=1000, errors=1)
    VideoViewFactory(video=video, started_at=at(3, 17), watched_s=60, buffering_s=3, bitrate_kbps=2001, errors=0)
    VideoViewFactory(video=video, started_at=at(3, 23, 23, 59, 59), watched_s=40, bitrate_kbps=2000, errors=4)
    VideoViewFactory(video=video, started_at=at(3, 16, 23, 59, 59), watched_s=999, errors=9)  # before both
    for kind, moment in [("like", at(3, 24)), ("like", at(3, 17)), ("like", at(3, 18)), ("comment", at(3, 30))]:
        VideoReactionFactory(video=video, type=kind, at=moment)
    VideoReactionFactory(video=video, type="share", at=at(3, 31))  # after the period

    data = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&compare=previous")

    assert data["views"]["previous"] == {"total": 2, "unique": 2}
    assert (data["views"]["total"], data["views"]["change"]) == (1, -0.5)
    engagement, previous = data["engagement"], data["engagement"]["previous"]
    assert (engagement["averageWatchTime"], engagement["likes"], engagement["comments"], engagement["shares"]) == (
        90,
        1,
        1,
        0,
    )
    assert previous == {"averageWatchTime": 50, "completionRate": 0.0, "likes": 2, "comments": 0, "shares": 0}
    # previous: buffering 3 s over the 60 s of the view that reported it; bitrate (2001 + 2000) / 2
    # = 2000.5, half up; errors 4 over 2 views
    assert data["performance"]["previous"] == {"bufferingRate": 0.05, "averageBitrate": "2001k", "errorRate": 2.0}
    assert (data["performance"]["bufferingRate"], data["performance"]["averageBitrate"]) == (0.1, "1000k")


def test_performance_rates_from_views_that_reported_quality(admin_client, video):
    VideoViewFactory(video=video, started_at=at(3, 29), watched_s=100, buffering_s=2, bitrate_kbps=3000, errors=0)
    VideoViewFactory(video=video, started_at=at(3, 30), watched_s=50, buffering_s=3, bitrate_kbps=2000, errors=2)
    VideoViewFactory(video=video, started_at=at(3, 30), watched_s=500)  # reported nothing

    performance = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=performance")["performance"]

    assert performance["bufferingRate"] == 0.0333  # 5 s buffering / 150 s watched
    assert performance["averageBitrate"] == "2500k"
    assert performance["errorRate"] == 1.0  # 2 errors / 2 reporting views
    assert performance["timeline"][-2:] == [
        {"date": "2024-03-29", "bufferingRate": 0.02, "errorRate": 0.0},
        {"date": "2024-03-30", "bufferingRate": 0.06, "errorRate": 2.0},
    ]


def test_performance_is_zero_when_no_view_reported_quality(admin_client, three_views):
    performance = get_data(admin_client, "/analytics/videos/vid_123456?period=7d&metrics=performance")["performance"]

    assert (performance["bufferingRate"], performance["averageBitrate"], performance["errorRate"]) == (0, "0k", 0)
    assert performance["timeline"][0] == {"date": "2024-03-24", "bufferingRate": 0, "errorRate": 0}


def test_video_endpoint_query_count_is_bounded(admin_client, three_views, django_assert_num_queries):
    # credential (the key, its last-use stamp), video, totals, timeline, breakdowns, reactions
    with django_assert_num_queries(7):
        get_data(admin_client, "/analytics/videos/vid_123456?period=30d&compare=previous")


# --- /analytics/videos/summary ----------------------------------------------------------------------


@pytest.fixture
def catalog(course, video):
    """Three videos; in the 30d period: video A 3 views (2 completed), B 1 view; previous: 2 views."""
    second = VideoFactory(course=course, key="vid_b", title="Second")
    VideoFactory(course=course, key="vid_c", title="Never watched")
    VideoViewFactory(video=video, started_at=at(3, 1, 0, 0, 0), watched_s=100, is_completed=True)
    VideoViewFactory(video=video, started_at=at(3, 10), watched_s=60, is_completed=True)
    VideoViewFactory(video=video, started_at=at(3, 30), watched_s=20)
    VideoViewFactory(video=second, started_at=at(3, 12), watched_s=20, is_completed=True)
    VideoViewFactory(video=second, started_at=at(2, 29, 23, 59, 59), watched_s=50)
    VideoViewFactory(video=second, started_at=at(2, 10), watched_s=50, is_completed=True)
    VideoReactionFactory(video=video, type="like", at=at(3, 5))
    VideoReactionFactory(video=second, type="like", at=at(3, 6))
    VideoReactionFactory(video=second, type="comment", at=at(3, 6))
    VideoReactionFactory(video=second, type="like", at=at(2, 6))  # previous period
    return video, second


def test_summary_totals(admin_client, catalog):
    data = get_data(admin_client, "/analytics/videos/summary?period=30d")

    assert data["totalVideos"] == 3
    assert data["totalViews"] == 4
    assert data["totalWatchTime"] == 200
    assert data["averageEngagement"] == {
        "watchTime": 50,  # 200 s / 4 views
        "completionRate": 0.75,
        "likes": 1,  # 2 likes / 3 videos = 0.67, a whole number as the document shows it
        "comments": 0,  # 1 / 3 = 0.33
    }
    assert all(type(data["averageEngagement"][name]) is int for name in ("watchTime", "likes", "comments"))


def test_summary_top_videos_by_views(admin_client, catalog):
    top = get_data(admin_client, "/analytics/videos/summary?period=30d")["topVideos"]

    assert top == [
        {"id": "vid_123456", "title": "Intro", "views": 3, "watchTime": 180, "engagement": 0.6667},
        {"id": "vid_b", "title": "Second", "views": 1, "watchTime": 20, "engagement": 1.0},
    ]


def test_summary_top_videos_limit(admin_client, catalog):
    top = get_data(admin_client, "/analytics/videos/summary?period=30d&limit=1")["topVideos"]

    assert [video["id"] for video in top] == ["vid_123456"]


def test_summary_trends_against_previous_period(admin_client, catalog):
    trends = get_data(admin_client, "/analytics/videos/summary?period=30d")["trends"]

    # views 4 vs 2; watch time 200 vs 100; completion 0.75 vs 0.5
    assert trends == {"views": 1.0, "watchTime": 1.0, "engagement": 0.5}


def test_summary_trends_are_0_without_previous_views(admin_client, catalog):
    trends = get_data(admin_client, "/analytics/videos/summary?period=7d")["trends"]

    assert trends == {"views": 0, "watchTime": 0, "engagement": 0}


def test_summary_of_an_empty_workspace_has_numbers_not_nulls(admin_client):
    data = get_data(admin_client, "/analytics/videos/summary?period=30d&compare=true")

    assert data["averageEngagement"] == {"watchTime": 0, "completionRate": 0, "likes": 0, "comments": 0}
    assert data["previous"] == {"totalViews": 0, "totalWatchTime": 0, "completionRate": 0}
    assert data["period"]["previous"] == {"start": "2024-01-31T00:00:00Z", "end": "2024-03-01T00:00:00Z"}


def test_summary_never_counts_another_workspace(admin_client, catalog):
    elsewhere = VideoFactory(course=CourseFactory(workspace=WorkspaceFactory(slug="globex")))
    VideoViewFactory(video=elsewhere, started_at=at(3, 20))

    data = get_data(admin_client, "/analytics/videos/summary?period=30d&metrics=totalVideos,totalViews")

    assert data == {"totalVideos": 3, "totalViews": 4}


def test_summary_query_count_is_bounded(admin_client, catalog, django_assert_max_num_queries):
    # credential (2), catalog count, totals, reactions, top videos
    with django_assert_max_num_queries(6):
        get_data(admin_client, "/analytics/videos/summary?period=30d&compare=previous")


# --- /analytics/users: activity ---------------------------------------------------------------------


def test_active_users_daily_weekly_monthly(admin_client, workspace, make_member, course, video):
    today = make_member(workspace, email="today@acme.test")
    week = make_member(workspace, email="week@acme.test")
    month = make_member(workspace, email="month@acme.test")
    too_old = make_member(workspace, email="old@acme.test")
    staff = make_member(workspace, Role.INSTRUCTOR, email="teacher@acme.test")
    PageSessionFactory(workspace=workspace, user=today, started_at=at(3, 30, 0, 0, 0))
    LearningEventFactory(course=course, user=week, occurred_at=at(3, 24, 0, 0, 0))
    VideoViewFactory(video=video, user=month, started_at=at(3, 1, 0, 0, 0))
    VideoViewFactory(video=video, user=too_old, started_at=at(2, 29, 23, 59, 59))
    PageSessionFactory(workspace=workspace, user=staff, started_at=at(3, 30))

    activity = get_data(admin_client, "/analytics/users?metrics=activity")["activity"]

    assert activity["activeUsers"] == {"daily": 1, "weekly": 2, "monthly": 3}


def test_sessions_and_actions(admin_client, workspace, make_member, course, video):
    learner = make_member(workspace)
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 2), duration_s=100, device="desktop")
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 3), duration_s=200, device="mobile")
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 4), duration_s=600)
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(2, 4), duration_s=600)  # previous period
    VideoReactionFactory(video=video, user=learner, type="like", at=at(3, 5))
    VideoReactionFactory(video=video, user=learner, type="comment", at=at(3, 5))
    VideoReactionFactory(video=video, user=learner, type="share", at=at(3, 6))
    LearningEventFactory(course=course, user=learner, type="posted_forum", occurred_at=at(3, 7))
    LearningEventFactory(course=course, user=learner, type="viewed", occurred_at=at(3, 7))

    activity = get_data(admin_client, "/analytics/users?period=30d&metrics=activity")["activity"]

    assert activity["sessions"] == {
        "total": 3,
        "averageDuration": 300.0,
        "byDevice": {"desktop": 1, "mobile": 1, "unknown": 1},
    }
    assert activity["actions"] == {"uploads": 0, "comments": 2, "likes": 1, "shares": 1}


# --- /analytics/users: growth and retention ---------------------------------------------------------


@pytest.fixture
def cohorts(workspace, make_member):
    """Learners around the 30d period (03-01 .. 03-30):

    new1  first 03-04, back 03-05 (day 1)                 cohort week 03-04
    new2  first 03-05, back 03-12 (day 7)                 cohort week 03-04
    new3  first 03-29, back 03-30 (day 1; day 7 not yet)  cohort week 03-25
    new4  first 03-30 (today: no day 1 yet)               cohort week 03-25
    back  active 02-20 and 03-05: returning
    gone  active 02-10 only: churned
    """
    learners = {}
    for name, source, days in (
        ("new1", "organic", [at(3, 4), at(3, 5)]),
        ("new2", "referral", [at(3, 5, 23, 0), at(3, 12, 0, 30)]),
        ("new3", "organic", [at(3, 29), at(3, 30, 1)]),
        ("new4", "", [at(3, 30, 9)]),
        ("back", "social", [at(2, 20), at(3, 5)]),
        ("gone", "social", [at(2, 10)]),
    ):
        learners[name] = make_member(workspace, email=f"{name}@acme.test", source=source)
        for moment in days:
            PageSessionFactory(workspace=workspace, user=learners[name], started_at=moment)
    return learners


def test_growth_new_returning_churn_and_sources(admin_client, cohorts):
    growth = get_data(admin_client, "/analytics/users?period=30d&metrics=growth")["growth"]

    assert growth == {
        "newUsers": 4,
        "returningUsers": 1,
        "churnRate": 0.5,  # back and gone were active in the previous period; gone is not now
        "bySource": {"organic": 2, "referral": 1, "social": 0, "unknown": 1},
    }


def test_by_source_keeps_the_documented_keys_and_other_sources_seen(admin_client, workspace, make_member):
    for source in ("newsletter", "newsletter", "organic"):
        learner = make_member(workspace, source=source)
        PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 29))

    by_source = get_data(admin_client, "/analytics/users?period=7d&metrics=growth")["growth"]["bySource"]

    assert list(by_source.items()) == [("organic", 1), ("referral", 0), ("social", 0), ("newsletter", 2)]


def test_sessions_by_device_of_an_empty_period_has_the_documented_keys(admin_client):
    sessions = get_data(admin_client, "/analytics/users?period=7d&metrics=activity")["activity"]["sessions"]

    assert sessions == {"total": 0, "averageDuration": 0, "byDevice": {"desktop": 0, "mobile": 0}}


def test_churn_is_0_without_previous_activity(admin_client, workspace, make_member):
    PageSessionFactory(workspace=workspace, user=make_member(workspace), started_at=at(3, 29))

    growth = get_data(admin_client, "/analytics/users?period=7d&metrics=growth")["growth"]

    assert growth["churnRate"] == 0


def test_retention_overall_counts_only_days_that_have_come(admin_client, cohorts):
    retention = get_data(admin_client, "/analytics/users?period=30d&metrics=retention")["retention"]

    # day 1: new1, new2, new3 eligible; new1 and new3 came back. day 7: new1, new2; new2 came back.
    assert (retention["day1"], retention["day7"], retention["day30"]) == (0.6667, 0.5, 0)


def test_retention_weekly_cohorts(admin_client, cohorts):
    cohort_rows = get_data(admin_client, "/analytics/users?period=30d&metrics=retention")["retention"]["cohorts"]

    assert cohort_rows == [
        {"date": "2024-02-26", "users": 0, "day1": 0, "day7": 0, "day30": 0},
        {"date": "2024-03-04", "users": 2, "day1": 0.5, "day7": 0.5, "day30": 0},
        {"date": "2024-03-11", "users": 0, "day1": 0, "day7": 0, "day30": 0},
        {"date": "2024-03-18", "users": 0, "day1": 0, "day7": 0, "day30": 0},
        {"date": "2024-03-25", "users": 2, "day1": 1.0, "day7": 0, "day30": 0},
    ]


def test_retention_day30(admin_client, workspace, make_member):
    learner = make_member(workspace)
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(1, 5))
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(2, 4, 23, 59, 59))

    retention = get_data(admin_client, "/analytics/users?period=90d&metrics=retention")["retention"]

    assert retention["day30"] == 1.0


def test_users_never_counts_another_workspace(admin_client, cohorts, make_member):
    globex = WorkspaceFactory(slug="globex")
    PageSessionFactory(workspace=globex, user=make_member(globex), started_at=at(3, 30))

    data = get_data(admin_client, "/analytics/users?period=30d&metrics=activity,growth")

    assert data["activity"]["activeUsers"]["daily"] == 2  # new3 and new4
    assert data["growth"]["newUsers"] == 4


def test_users_query_count_is_bounded(admin_client, cohorts, django_assert_max_num_queries):
    # credential (2), future-dated days, active users with the growth counts, sessions by device
    # and forum posts, reactions, new learners by source, retention
    with django_assert_max_num_queries(8):
        get_data(admin_client, "/analytics/users?period=30d")


# --- /analytics/users/engagement --------------------------------------------------------------------


@pytest.fixture
def sessions_world(workspace, make_member):
    """Returning learner A (active 02-01): 03-25 three page sessions at 14h (10, 20, 30 s),
    03-26 one at 9h (40 s). New learner B: 03-25 one at 14h (100 s)."""
    alice = make_member(workspace, email="a@acme.test")
    bob = make_member(workspace, email="b@acme.test")
    PageSessionFactory(workspace=workspace, user=alice, started_at=at(2, 1), duration_s=5)
    for minute, seconds in ((0, 10), (10, 20), (20, 30)):
        PageSessionFactory(workspace=workspace, user=alice, started_at=at(3, 25, 14, minute), duration_s=seconds)
    PageSessionFactory(workspace=workspace, user=alice, started_at=at(3, 26, 9), duration_s=40)
    PageSessionFactory(workspace=workspace, user=bob, started_at=at(3, 25, 14, 30), duration_s=100)
    return alice, bob


def test_engagement_sessions_pages_and_bounces(admin_client, sessions_world):
    engagement = get_data(admin_client, "/analytics/users/engagement?period=7d")["engagement"]

    assert engagement["averageSessionDuration"] == 40  # 200 s / 5 sessions
    assert engagement["pagesPerSession"] == 2  # 5 sessions / 3 learner-days = 1.67, rounded
    assert type(engagement["averageSessionDuration"]) is type(engagement["pagesPerSession"]) is int
    assert engagement["bounceRate"] == 0.6667  # A on 03-26 and B on 03-25 had one page session


def test_engagement_by_user_type(admin_client, sessions_world):
    by_type = get_data(admin_client, "/analytics/users/engagement?period=7d")["engagement"]["byUserType"]

    assert by_type == {
        "new": {"sessionDuration": 100, "pagesPerSession": 1},
        "returning": {"sessionDuration": 25, "pagesPerSession": 2},
    }
    assert all(type(value) is int for figures in by_type.values() for value in figures.values())


def test_engagement_by_time_of_day(admin_client, sessions_world):
    hours = get_data(admin_client, "/analytics/users/engagement?period=7d")["engagement"]["byTimeOfDay"]

    assert [hour["hour"] for hour in hours] == list(range(24))
    assert hours[14] == {"hour": 14, "users": 2, "engagement": 1.0}
    assert hours[9] == {"hour": 9, "users": 1, "engagement": 0.5}
    assert sum(hour["users"] for hour in hours) == 3


def test_engagement_of_an_empty_workspace_is_zeros_not_nulls(admin_client):
    engagement = get_data(admin_client, "/analytics/users/engagement?period=7d")["engagement"]

    assert (engagement["averageSessionDuration"], engagement["pagesPerSession"], engagement["bounceRate"]) == (0, 0, 0)
    assert engagement["byUserType"]["new"] == {"sessionDuration": 0, "pagesPerSession": 0}
    assert engagement["byTimeOfDay"][0] == {"hour": 0, "users": 0, "engagement": 0}


def test_engagement_query_count_is_bounded(admin_client, sessions_world, django_assert_max_num_queries):
    # credential (2), learner-days, learner-days of new learners, hours
    with django_assert_max_num_queries(5):
        get_data(admin_client, "/analytics/users/engagement?period=7d")


# --- Errors, access and throttling ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, code, field",
    [
        ("/analytics/videos/vid_123456?period=5d", "ANALYTICS_INVALID_PERIOD", "period"),
        ("/analytics/videos/vid_123456?period=24h", "ANALYTICS_INVALID_PERIOD", "period"),
        ("/analytics/users?period=week", "ANALYTICS_INVALID_PERIOD", "period"),
        ("/analytics/system/health?period=2h", "ANALYTICS_INVALID_PERIOD", "period"),
        ("/analytics/videos/vid_123456?metrics=views,likes", "ANALYTICS_INVALID_METRICS", "metrics"),
        ("/analytics/users?metrics=engagement", "ANALYTICS_INVALID_METRICS", "metrics"),
        ("/analytics/system/performance?metrics=uptime", "ANALYTICS_INVALID_METRICS", "metrics"),
        ("/analytics/videos/vid_123456?groupBy=month", "ANALYTICS_INVALID_PARAMETER", "groupBy"),
        ("/analytics/videos/vid_123456?compare=last", "ANALYTICS_INVALID_PARAMETER", "compare"),
        ("/analytics/videos/summary?limit=0", "ANALYTICS_INVALID_PARAMETER", "limit"),
    ],
)
def test_bad_parameters_are_400_with_their_code(admin_client, video, url, code, field):
    error = get_data(admin_client, url, status=400)

    assert error["code"] == code
    assert error["field"] == field
    assert field in error["message"]


def test_hourly_timeline_over_more_than_90_days_is_400(admin_client, video):
    VideoViewFactory(video=video, started_at=datetime(2023, 12, 31, tzinfo=UTC))  # `all` = 91 days

    error = get_data(admin_client, "/analytics/videos/vid_123456?period=all&groupBy=hour", status=400)

    assert error["code"] == "ANALYTICS_INVALID_PARAMETER"


def test_unknown_video_is_404_data_unavailable(admin_client, video):
    error = get_data(admin_client, "/analytics/videos/nope", status=404)

    assert error["code"] == "ANALYTICS_DATA_UNAVAILABLE"


def test_video_of_another_workspace_is_404(admin_client, workspace):
    VideoFactory(course=CourseFactory(workspace=WorkspaceFactory(slug="globex")), key="theirs")

    assert get_data(admin_client, "/analytics/videos/theirs", status=404)["code"] == "ANALYTICS_DATA_UNAVAILABLE"


@pytest.mark.parametrize(
    "url",
    [
        "/analytics/videos/vid_123456",
        "/analytics/videos/summary",
        "/analytics/users",
        "/analytics/users/engagement",
        "/analytics/system/health",
        "/analytics/system/performance",
    ],
)
@pytest.mark.parametrize("role", [Role.LEARNER, Role.INSTRUCTOR])
def test_non_admins_are_403(workspace, make_member, bearer_client, video, url, role):
    client = bearer_client(make_member(workspace, role), workspace)

    assert get_data(client, url, status=403)["code"] == "ANALYTICS_FORBIDDEN"


def test_learner_api_key_is_403(workspace, api_key_client, video):
    assert get_data(api_key_client(workspace, Role.LEARNER), "/analytics/users", status=403)["code"] == (
        "ANALYTICS_FORBIDDEN"
    )


def test_admin_user_with_bearer_token_is_allowed(workspace, admin_user, bearer_client, video):
    assert "views" in get_data(bearer_client(admin_user, workspace), "/analytics/videos/vid_123456")


def test_no_credential_is_401(api_client, video):
    assert get_data(api_client, "/analytics/users", status=401)["code"] == "ANALYTICS_UNAUTHORIZED"


def test_rate_limit_is_429_with_retry_after(admin_client, settings):
    settings.VIDEOCLOUD_RATE_LIMIT = "2/min"
    for _ in range(2):
        get_data(admin_client, "/analytics/users/engagement")

    response = admin_client.get("/analytics/users/engagement")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "ANALYTICS_RATE_LIMIT"
    assert 0 < int(response["Retry-After"]) <= 60


def test_rate_limit_counts_per_credential(workspace, api_key_client, settings):
    settings.VIDEOCLOUD_RATE_LIMIT = "1/min"
    first, second = api_key_client(workspace), api_key_client(workspace)
    get_data(first, "/analytics/users/engagement")

    assert second.get("/analytics/users/engagement").status_code == 200
    assert first.get("/analytics/users/engagement").status_code == 429


# --- /analytics/system/health and /analytics/system/performance -------------------------------------


def metric(workspace, minutes_ago, latency_ms, status=200, endpoint="/analytics/users", method="GET"):
    return RequestMetric.objects.create(
        workspace=workspace,
        at=NOW - timedelta(minutes=minutes_ago),
        endpoint=endpoint,
        method=method,
        status=status,
        latency_ms=latency_ms,
    )


@pytest.fixture
def traffic(workspace):
    """Five requests of the workspace in the last 30 minutes, one 5xx; noise outside."""
    metric(workspace, 1, 10)
    metric(workspace, 2, 20, endpoint="/analytics/videos/{id}")
    metric(workspace, 3, 30, status=500)
    metric(workspace, 4, 40, status=404, endpoint="/analytics/videos/{id}")
    metric(workspace, 5, 100, endpoint="/analytics/videos/{id}")
    metric(WorkspaceFactory(slug="globex"), 1, 5000, status=500)
    metric(workspace, 60 * 25, 9000, status=500)  # 25 hours ago: outside 24h


def test_health_response_time_average_and_percentiles(admin_client, traffic):
    response_time = get_data(admin_client, "/analytics/system/health?period=24h")["responseTime"]

    # percentile_cont over 10, 20, 30, 40, 100: p95 at rank 3.8 -> 40 + 0.8 * 60; p99 at 3.96 -> 97.6
    assert response_time == {"average": 40, "p95": 88, "p99": 98}
    assert all(type(value) is int for value in response_time.values())


def test_health_response_time_without_requests_is_zeros(admin_client):
    response_time = get_data(admin_client, "/analytics/system/health?period=1h&metrics=responseTime")["responseTime"]

    assert response_time == {"average": 0, "p95": 0, "p99": 0}


def test_health_error_rates_share_one_denominator(admin_client, workspace, traffic):
    export_job(workspace, ExportStatus.FAILED, 9, 8)
    export_job(workspace, ExportStatus.COMPLETED, 9, 8)
    export_job(workspace, ExportStatus.QUEUED)

    errors = get_data(admin_client, "/analytics/system/health?period=24h")["errors"]

    # 5 requests + 2 finished jobs = 7 operations; 1 API 5xx, 1 failed job
    assert errors == {"rate": 0.2857, "byType": {"api": 0.1429, "processing": 0.1429, "storage": 0.0}}


def export_job(workspace, status, started=None, finished=None):
    """An export job of the workspace, started and finished that many minutes before NOW."""
    return ExportJob.objects.create(
        workspace=workspace,
        requester_role="admin",
        type="video",
        period="7d",
        format="csv",
        status=status,
        started_at=NOW - timedelta(minutes=started) if started else None,
        finished_at=NOW - timedelta(minutes=finished) if finished else None,
    )


def check(minute, is_up=True):
    return HealthCheck.objects.create(minute=minute, is_up=is_up)


def test_uptime_is_share_of_minutes_with_a_successful_check_since_checks_began(admin_client):
    # Checks began at 15:20; now is 15:30, so 15:20 .. 15:29 are the 10 whole minutes of the 24h period.
    for minute in range(20, 28):
        check(at(3, 30, 15, minute))
    check(at(3, 30, 15, 28), is_up=False)  # 15:29: no check at all (nothing answered)
    check(at(3, 30, 15, 30))  # the current minute is still being checked: not counted

    # 8 minutes up of 10
    assert get_data(admin_client, "/analytics/system/health?period=24h&metrics=uptime") == {"uptime": 0.8}


def test_uptime_counts_the_whole_period_when_checks_began_before_it(admin_client):
    check(at(3, 28, 10, 0))  # checks began two days ago
    for minute in range(0, 27):
        check(at(3, 30, 15, minute))

    # 1h = 15:00 .. 16:00; 15:00 .. 15:29 have passed: 27 of 30 minutes up
    assert get_data(admin_client, "/analytics/system/health?period=1h&metrics=uptime") == {"uptime": 0.9}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's")
@pytest.mark.parametrize("period", ["1h", "24h", "all"])
def test_sqlite_percentiles_equal_postgresqls_percentile_cont(workspace, traffic, period):
    from analytics.queries.video_cloud import system

    metric(workspace, 90, 12.5, status=503)
    chosen = system.system_period(workspace, period, NOW)
    figures = system._health_figures(workspace, chosen, ("response_time",))

    # latency_percentiles is SQLite's stand-in for the statement's percentile_cont
    emulated = system.latency_percentiles(system._requests(workspace, chosen), figures["totals"]["count"])
    assert figures["totals"]["count"] > 2
    assert figures["percentiles"] == emulated


EXPORT_JOBS = [  # (in the workspace, status, started / finished minutes before NOW)
    (True, ExportStatus.QUEUED, None, None),
    (True, ExportStatus.PROCESSING, 3, None),
    (True, ExportStatus.COMPLETED, 50, 10),
    (True, ExportStatus.COMPLETED, 47.5, 2),
    (True, ExportStatus.COMPLETED, None, 5),
    (True, ExportStatus.FAILED, 20, 15),
    (True, ExportStatus.COMPLETED, 60 * 30, 60 * 26),
    (True, ExportStatus.CANCELLED, 8, 7),
    (False, ExportStatus.COMPLETED, 30, 1),
]


@pytest.mark.parametrize("period, within_minutes", [("24h", 24 * 60), ("7d", 7 * 24 * 60)])
def test_export_job_stats_count_the_jobs_finished_in_the_period(workspace, period, within_minutes):
    from analytics.queries.video_cloud import system

    other = WorkspaceFactory(slug="initech")
    for own, status, started, finished in EXPORT_JOBS:
        export_job(workspace if own else other, status, started, finished)
    ended = [
        (status, started, finished)
        for own, status, started, finished in EXPORT_JOBS
        if own
        and finished is not None
        and finished <= within_minutes
        and status in (ExportStatus.COMPLETED, ExportStatus.FAILED)
    ]
    timed = [started - finished for status, started, finished in ended if status == ExportStatus.COMPLETED and started]

    stats = system.export_job_stats(workspace, system.system_period(workspace, period, NOW))

    assert stats == system.ProcessingStats(
        queued=1,
        processing=1,
        finished=len(ended),
        failed=sum(status == ExportStatus.FAILED for status, *_ in ended),
        average_time_s=60 * sum(timed) / len(timed),
    )
    assert (stats.finished, stats.average_time_s) == ((4, 42.75 * 60) if period == "24h" else (5, 108.5 * 60))


def test_uptime_is_not_the_age_of_the_process(admin_client):
    # No check ever: nothing vouches for any minute, whatever the process's age.
    assert get_data(admin_client, "/analytics/system/health?period=24h&metrics=uptime") == {"uptime": 0}


@pytest.mark.parametrize("url", ["/analytics/system/health?period=90d", "/analytics/system/performance?period=90d"])
def test_system_period_older_than_the_kept_metrics_is_data_unavailable(admin_client, url):
    error = get_data(admin_client, url, status=404)

    # request metrics and health checks are kept 30 days; 90d starts 2024-01-01
    assert (error["code"], error["field"]) == ("ANALYTICS_DATA_UNAVAILABLE", "period")
    assert "30 days" in error["message"]


@pytest.mark.parametrize("period", ["30d", "all"])
def test_system_periods_within_the_kept_metrics_are_answered(admin_client, period):
    assert "uptime" in get_data(admin_client, f"/analytics/system/health?period={period}&metrics=uptime")


def test_health_resources_come_from_the_machine(admin_client):
    resources = get_data(admin_client, "/analytics/system/health?metrics=resources")["resources"]

    assert 0 <= resources["cpu"]["usage"] <= 1
    assert len(resources["cpu"]["load"]) == 3
    assert 0 < resources["memory"]["usage"] < 1
    assert resources["memory"]["available"][-1] == "B"
    assert 0 < resources["storage"]["usage"] < 1
    assert resources["database"]["bytes"] > 0


def test_database_size_is_read_once_per_cache_period(admin_client, monkeypatch, settings):
    from analytics.queries.video_cloud import system

    settings.DATABASE_SIZE_CACHE_S = 60
    readings = iter([1024, 2048, 4096])
    clock = [1000.0]
    monkeypatch.setattr(system, "_database_sizes", {})
    monkeypatch.setattr(system, "_read_database_size_bytes", lambda: next(readings))
    monkeypatch.setattr(system, "monotonic", lambda: clock[0])

    def database():
        return get_data(admin_client, "/analytics/system/health?metrics=resources")["resources"]["database"]

    assert database() == {"size": "1KB", "bytes": 1024}
    clock[0] += 59
    assert database() == {"size": "1KB", "bytes": 1024}
    clock[0] += 1
    assert database() == {"size": "2KB", "bytes": 2048}


def test_performance_requests_by_endpoint(admin_client, traffic):
    api = get_data(admin_client, "/analytics/system/performance?period=1h")["api"]

    assert api["requests"] == {
        "total": 5,
        "perSecond": 0.0,  # 5 requests / 1800 s elapsed, 2 places
        "byEndpoint": {"/analytics/videos/{id}": 3, "/analytics/users": 2},
    }
    assert api["responseTime"] == {
        "average": 40,
        "byEndpoint": {"/analytics/videos/{id}": 53, "/analytics/users": 20},  # 160 / 3 = 53.33
    }


def test_performance_per_second_over_elapsed_part_of_period(admin_client, workspace):
    for _ in range(90):
        metric(workspace, 10, 1)

    requests = get_data(admin_client, "/analytics/system/performance?period=1h&metrics=api")["api"]["requests"]

    assert requests["perSecond"] == 0.05  # 90 / 1800


def test_performance_processing_reports_export_jobs(admin_client, workspace):
    for status, started, finished in (
        (ExportStatus.QUEUED, None, None),
        (ExportStatus.PROCESSING, 5, None),
        (ExportStatus.COMPLETED, 20, 10),  # 10 minutes
        (ExportStatus.COMPLETED, 40, 10),  # 30 minutes
        (ExportStatus.COMPLETED, 60 * 30, 60 * 29),  # finished outside 1h
    ):
        export_job(workspace, status, started, finished)

    data = get_data(admin_client, "/analytics/system/performance?period=1h&metrics=processing,storage")

    assert data["processing"] == {
        "videos": {"queued": 0, "processing": 0, "averageTime": 0},
        "thumbnails": {"queued": 0, "processing": 0, "averageTime": 0},
        "exports": {"queued": 1, "processing": 1, "averageTime": 1200},
    }
    assert list(data["processing"]) == ["videos", "thumbnails", "exports"]
    assert data["storage"] == {
        "operations": {"reads": 0, "writes": 0, "errors": 0},
        "bandwidth": {"in": "0B/s", "out": "0B/s"},
    }


def test_system_endpoints_query_count_is_bounded(admin_client, traffic, django_assert_max_num_queries):
    # credential (2), one statement of the checks, totals and (PostgreSQL) percentiles, the export
    # jobs; PostgreSQL reads the database size, SQLite its two percentiles after the statement
    with django_assert_max_num_queries(5 if connection.vendor == "postgresql" else 6):
        get_data(admin_client, "/analytics/system/health?period=24h")
    # credential, totals, by endpoint, export jobs
    with django_assert_max_num_queries(4):
        get_data(admin_client, "/analytics/system/performance?period=24h")


def test_processing_without_jobs_is_zeros_not_nulls(admin_client):
    processing = get_data(admin_client, "/analytics/system/performance?period=1h&metrics=processing")["processing"]

    assert processing["exports"] == {"queued": 0, "processing": 0, "averageTime": 0}


def test_health_probe_is_public(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status": "ok"}}
