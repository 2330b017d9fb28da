"""The video_windows rollup (VideoWindow, VideoWindowTotal: per-video sums of VideoDay over the
summary's periods 1d / 7d / 30d / 90d, for the day they were built for) and the VideoCloud
summary's top videos read from it: equal to an independent recount of the raw views after writes,
moves across a window's edge, deletes, a user's deletion and an erasure; used on the day the
windows were built for only; other workspaces untouched.

The clock is pinned to Saturday 2024-03-30 15:30:00Z (the summary's and the windows' today):
1d = 03-30, 7d = 03-24 .. 03-30, 30d = 03-01 .. 03-30, 90d = 01-01 .. 03-30.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from analytics.models import RollupState, VideoView, VideoWindow, VideoWindowTotal
from analytics.queries.video_cloud import periods
from analytics.rollups.check import check_rollups
from analytics.services import video_windows
from analytics.services.video_windows import refresh_stale_video_windows, rebuild_video_windows
from privacy import services as privacy
from tests.factories import CourseFactory, VideoFactory, VideoViewFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2024, 3, 30, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
WINDOWS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}


def at(year, month, day, hour=12):
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(periods, "utc_now", lambda: NOW)
    monkeypatch.setattr(video_windows, "today", lambda: TODAY)


def recount(workspace, days):
    """{video_id: (views, seconds, completed)} of the raw views of the `days` UTC days ending
    today, counted in Python one view at a time."""
    first = TODAY - timedelta(days=days - 1)
    totals = defaultdict(lambda: [0, 0, 0])
    for view in VideoView.objects.filter(workspace=workspace):
        if first <= view.started_at.astimezone(UTC).date() <= TODAY:
            figures = totals[view.video_id]
            figures[0] += 1
            figures[1] += view.watched_s
            figures[2] += int(view.is_completed)
    return {video: tuple(figures) for video, figures in totals.items()}


def stored(workspace, days):
    return {
        row.video_id: (row.views, row.watch_seconds, row.completed_views)
        for row in VideoWindowTotal.objects.filter(workspace=workspace, window_days=days)
        if row.views or row.watch_seconds or row.completed_views
    }


def expected_top(workspace, days, limit=10):
    """The summary's top videos from the recount: most viewed first, ties by key."""
    keys = {video.pk: (video.key, video.title) for video in workspace_videos(workspace)}
    rows = sorted(recount(workspace, days).items(), key=lambda item: (-item[1][0], keys[item[0]][0]))[:limit]
    return [
        {
            "id": keys[video][0],
            "title": keys[video][1],
            "views": views,
            "watchTime": seconds,
            "engagement": round(completed / views, 4) if views else 0.0,
        }
        for video, (views, seconds, completed) in rows
    ]


def workspace_videos(workspace):
    from courses.models import Video

    return Video.objects.filter(workspace=workspace)


def top_videos(client, period):
    response = client.get(f"/analytics/videos/summary?period={period}&metrics=topVideos")
    assert response.status_code == 200
    return response.json()["data"]["topVideos"]


def windows_clean(workspace):
    (result,) = check_rollups(workspace.pk, names=["video_windows"]).rollups
    return result.differences == 0 and not result.is_stale


def assert_everything_agrees(workspace, client):
    for period, days in WINDOWS.items():
        assert stored(workspace, days) == recount(workspace, days), period
        assert top_videos(client, period) == expected_top(workspace, days), period
    assert windows_clean(workspace)


@pytest.fixture
def world(workspace, make_member):
    """Three videos; views on each window's first day and on the day before it, today and one
    after today (future-dated: in no period)."""
    course = CourseFactory(workspace=workspace, key="course-1")
    intro = VideoFactory(course=course, key="intro", title="Intro")
    second = VideoFactory(course=course, key="second", title="Second")
    third = VideoFactory(course=course, key="third", title="Third")
    ada = make_member(workspace, email="ada@acme.test")
    bob = make_member(workspace, email="bob@acme.test")
    views = [
        (ada, intro, at(2024, 3, 30, 9), 100, True),  # today
        (bob, intro, at(2024, 3, 30, 23), 40, False),
        (ada, second, at(2024, 3, 29), 30, True),
        (ada, second, at(2024, 3, 24, 0), 20, True),  # 7d's first day
        (bob, third, at(2024, 3, 23, 23), 60, False),  # the day before it
        (bob, third, at(2024, 3, 1), 70, True),  # 30d's first day
        (ada, intro, at(2024, 2, 29), 80, True),  # the day before it
        (bob, second, at(2024, 1, 1, 0), 90, True),  # 90d's first day
        (ada, third, at(2023, 12, 31, 23), 500, True),  # the day before it
        (bob, second, at(2024, 3, 31, 1), 7, True),  # tomorrow: in no period
    ]
    for user, video, moment, seconds, completed in views:
        VideoViewFactory(
            workspace=workspace, user=user, video=video, started_at=moment, watched_s=seconds, is_completed=completed
        )
    return SimpleNamespace(intro=intro, second=second, third=third, ada=ada, bob=bob)


def test_windows_hold_the_sums_of_their_days_and_the_summary_reads_them(workspace, world, api_key_client):
    # Built with the workspace's first views (for today), kept by difference since.
    assert set(VideoWindow.objects.filter(workspace=workspace).values_list("window_days", "first_day", "last_day")) == {
        (1, TODAY, TODAY),
        (7, date(2024, 3, 24), TODAY),
        (30, date(2024, 3, 1), TODAY),
        (90, date(2024, 1, 1), TODAY),
    }
    assert stored(workspace, 7) == {
        world.intro.pk: (2, 140, 1),
        world.second.pk: (2, 50, 2),
    }
    assert stored(workspace, 90) == {
        world.intro.pk: (3, 220, 2),
        world.second.pk: (3, 140, 3),
        world.third.pk: (2, 130, 1),
    }
    assert_everything_agrees(workspace, api_key_client(workspace))


def test_saves_moves_and_deletes_keep_the_windows_equal_to_a_recount(workspace, world, api_key_client):
    client = api_key_client(workspace)
    view = VideoView.objects.get(user=world.ada, started_at=at(2024, 3, 30, 9))
    view.watched_s = 130  # a heartbeat: the view grows
    view.save()
    assert_everything_agrees(workspace, client)

    # Across the edges: into 7d from the day before it, out of 30d, into 90d from before it.
    VideoView.objects.filter(started_at=at(2024, 3, 23, 23)).update(started_at=at(2024, 3, 24, 1))
    VideoView.objects.filter(started_at=at(2024, 3, 1)).update(started_at=at(2024, 2, 28))
    VideoView.objects.filter(started_at=at(2023, 12, 31, 23)).update(started_at=at(2024, 1, 1, 2))
    assert_everything_agrees(workspace, client)

    VideoView.objects.filter(video=world.second).delete()
    VideoView.objects.filter(user=world.ada, video=world.intro).update(video=world.third)  # another video
    VideoViewFactory(workspace=workspace, user=world.bob, video=world.second, started_at=at(2024, 3, 30, 10))
    assert_everything_agrees(workspace, client)
    assert [video["id"] for video in top_videos(client, "1d")] == ["intro", "second", "third"]


def test_deleting_a_user_takes_their_views_out_of_the_windows(workspace, world, api_key_client):
    world.ada.delete()

    assert stored(workspace, 90) == {
        world.intro.pk: (1, 40, 0),
        world.second.pk: (1, 90, 1),
        world.third.pk: (2, 130, 1),
    }
    assert_everything_agrees(workspace, api_key_client(workspace))


def test_an_erasure_takes_the_persons_views_out_of_the_windows(
    workspace, world, api_key_client, django_capture_on_commit_callbacks
):
    subject = privacy.find_subject(workspace, email="ada@acme.test")
    job, _ = privacy.request_erasure(workspace, subject, "api_key:test")
    with django_capture_on_commit_callbacks(execute=True):
        privacy.run_erasure(job.pk)

    assert not VideoView.objects.filter(workspace=workspace, user=world.ada).exists()
    assert stored(workspace, 7) == {world.intro.pk: (1, 40, 0)}
    assert_everything_agrees(workspace, api_key_client(workspace))


def test_summary_reads_the_windows_on_the_day_they_were_built_for_only(workspace, world, api_key_client):
    client = api_key_client(workspace)
    VideoWindowTotal.objects.filter(workspace=workspace, window_days=7, video_id=world.intro.pk).update(views=1000)
    assert top_videos(client, "7d")[0] == {
        "id": "intro",
        "title": "Intro",
        "views": 1000,
        "watchTime": 140,
        "engagement": 0.001,
    }
    (check,) = check_rollups(workspace.pk, names=["video_windows"]).rollups
    assert check.differences == 1 and not check.ok

    rebuild_video_windows(workspace.pk, TODAY - timedelta(days=1))  # yesterday's: stale today
    assert video_windows.video_windows_stale(workspace.pk)
    for period, days in WINDOWS.items():  # VideoDay summed instead
        assert top_videos(client, period) == expected_top(workspace, days), period

    assert refresh_stale_video_windows() == 1
    assert not video_windows.video_windows_stale(workspace.pk)
    assert refresh_stale_video_windows() == 0
    assert_everything_agrees(workspace, client)


def test_other_workspaces_views_neither_count_nor_change(workspace, world, api_key_client, make_member):
    other = WorkspaceFactory(slug="globex")
    other_video = VideoFactory(course=CourseFactory(workspace=other, key="course-1"), key="intro", title="Theirs")
    stranger = make_member(other, email="stranger@globex.test")
    before = {days: stored(workspace, days) for days in WINDOWS.values()}
    for hour in range(5):
        VideoViewFactory(workspace=other, user=stranger, video=other_video, started_at=at(2024, 3, 30, hour))

    assert {days: stored(workspace, days) for days in WINDOWS.values()} == before
    assert stored(other, 1) == {
        other_video.pk: (
            5,
            sum(v.watched_s for v in VideoView.objects.filter(workspace=other)),
            5 - VideoView.objects.filter(workspace=other, is_completed=False).count(),
        )
    }
    assert_everything_agrees(workspace, api_key_client(workspace))
    assert_everything_agrees(other, api_key_client(other))
    rebuild_video_windows(other.pk)  # one workspace's rebuild leaves the others' rows alone
    assert {days: stored(workspace, days) for days in WINDOWS.values()} == before


def test_summary_with_windows_keeps_its_statement_count(
    workspace, world, api_key_client, django_assert_max_num_queries
):
    client = api_key_client(workspace)
    # credential (2), catalog count, totals, reactions, top videos (windows checked in it)
    with django_assert_max_num_queries(6):
        client.get("/analytics/videos/summary?period=90d&compare=previous")


def test_a_workspace_without_views_has_no_windows(workspace, api_key_client):
    assert rebuild_video_windows(workspace.pk) == 0
    assert not VideoWindow.objects.filter(workspace=workspace).exists()
    assert not video_windows.video_windows_stale(workspace.pk)
    assert top_videos(api_key_client(workspace), "7d") == []


def test_migration_0022_marks_the_rollup_when_video_days_exist(workspace, world):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("analytics.migrations.0022_video_windows")
    RollupState.objects.all().delete()
    migration.mark_for_rebuild(apps, type("Editor", (), {"connection": connection})())

    assert RollupState.objects.filter(name="rebuild:video_windows").exists()
