"""The video_days rollup (VideoDay per workspace, UTC day and video; VideoViewerDay per user, day
and video) and the VideoCloud summary's top videos read from it: equal to an independent recount
of the raw views after each kind of write, every user's views (not only learners'), other
workspaces untouched.

The clock is pinned to Saturday 2024-03-30 15:30:00Z: 30d = 03-01 .. 03-31, 7d = 03-24 .. 03-31.
"""

from collections import defaultdict
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from accounts.models import Role
from analytics.models import RollupState, VideoDay, VideoView, VideoViewerDay
from analytics.queries.video_cloud import periods
from analytics.rollups.check import check_rollups
from analytics.services.video_days import rebuild_video_days
from tests.factories import CourseFactory, VideoFactory, VideoViewFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2024, 3, 30, 15, 30, tzinfo=UTC)


def at(month, day, hour=12, minute=0):
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(periods, "utc_now", lambda: NOW)


def stored(workspace):
    """{(day, video_id): (views, seconds, completed)} of VideoDay, rows of zeros left out."""
    return {
        (row.day, row.video_id): (row.views, row.watch_seconds, row.completed_views)
        for row in VideoDay.objects.filter(workspace=workspace)
        if row.views or row.watch_seconds or row.completed_views
    }


def recount(workspace):
    """The same figures counted from the raw views in Python, one view at a time."""
    totals = defaultdict(lambda: [0, 0, 0])
    for view in VideoView.objects.filter(workspace=workspace):
        figures = totals[(view.started_at.astimezone(UTC).date(), view.video_id)]
        figures[0] += 1
        figures[1] += view.watched_s
        figures[2] += int(view.is_completed)
    return {key: tuple(figures) for key, figures in totals.items()}


def video_days_clean(workspace):
    (result,) = check_rollups(workspace.pk, names=["video_days"]).rollups
    return result.differences == 0


@pytest.fixture
def world(workspace, make_member):
    """Two videos, two learners and an instructor (a non-learner: the summary counts every user's
    views), views on three days, one just before midnight."""
    course = CourseFactory(workspace=workspace, key="course-1")
    intro = VideoFactory(course=course, key="intro", title="Intro")
    second = VideoFactory(course=course, key="second", title="Second")
    ada = make_member(workspace, email="ada@acme.test")
    bob = make_member(workspace, email="bob@acme.test")
    teacher = make_member(workspace, Role.INSTRUCTOR, email="teacher@acme.test")
    views = [
        (ada, intro, at(3, 10, 9), 100, True),
        (ada, intro, at(3, 10, 23, 59), 40, False),
        (ada, second, at(3, 10, 10), 30, True),
        (bob, intro, at(3, 10, 11), 60, True),
        (bob, intro, at(3, 11, 0, 0), 20, False),
        (teacher, second, at(3, 11, 8), 90, True),
        (teacher, second, at(3, 25, 8), 15, False),
        (bob, second, at(2, 20), 500, True),  # before the 30-day period
    ]
    for user, video, moment, seconds, completed in views:
        VideoViewFactory(
            workspace=workspace, user=user, video=video, started_at=moment, watched_s=seconds, is_completed=completed
        )
    return SimpleNamespace(intro=intro, second=second, ada=ada, bob=bob, teacher=teacher)


def test_video_days_hold_every_users_views_per_video_and_utc_day(workspace, world):
    intro, second = world.intro.pk, world.second.pk
    expected = {
        (at(3, 10).date(), intro): (3, 200, 2),  # ada 100 + 40 (23:59 stays on the 10th), bob 60
        (at(3, 10).date(), second): (1, 30, 1),
        (at(3, 11).date(), intro): (1, 20, 0),  # bob at 00:00 the next day
        (at(3, 11).date(), second): (1, 90, 1),  # the instructor counts
        (at(3, 25).date(), second): (1, 15, 0),
        (at(2, 20).date(), second): (1, 500, 1),
    }
    assert stored(workspace) == expected == recount(workspace)
    assert VideoViewerDay.objects.filter(workspace=workspace).count() == 7  # (user, day, video) with views
    assert video_days_clean(workspace)


def test_saves_moves_and_deletes_keep_the_video_days_equal_to_a_recount(workspace, world):
    view = VideoView.objects.get(user=world.ada, started_at=at(3, 10, 9))
    view.watched_s = 130  # a heartbeat: the view grows
    view.save()
    VideoView.objects.filter(user=world.bob, started_at=at(3, 11, 0, 0)).update(started_at=at(3, 12))  # moved
    VideoView.objects.filter(user=world.teacher).delete()
    VideoView.objects.filter(user=world.ada, video=world.second).update(video=world.intro)  # another video

    intro = world.intro.pk
    assert stored(workspace) == recount(workspace)
    assert stored(workspace) == {
        (at(3, 10).date(), intro): (4, 260, 3),  # ada 130 + 40 + 30 (moved from Second), bob 60
        (at(3, 12).date(), intro): (1, 20, 0),
        (at(2, 20).date(), world.second.pk): (1, 500, 1),
    }
    assert video_days_clean(workspace)


def test_deleting_a_user_takes_their_views_out(workspace, world):
    world.ada.delete()

    assert stored(workspace) == recount(workspace)
    assert stored(workspace)[(at(3, 10).date(), world.intro.pk)] == (1, 60, 1)  # bob's alone
    assert not VideoViewerDay.objects.filter(user_id=world.ada.pk).exists()
    assert video_days_clean(workspace)


def test_deleting_a_video_takes_its_days_out(workspace, world):
    world.second.delete()

    assert stored(workspace) == recount(workspace)
    assert {video for _, video in stored(workspace)} == {world.intro.pk}
    assert video_days_clean(workspace)


def test_summary_top_videos_from_video_days_match_a_recount(workspace, world, api_key_client):
    # 30d (03-01 .. 03-31): Intro 3 + 1 views (220 s, 2 completed); Second 1 + 1 + 1 (135 s, 2).
    response = api_key_client(workspace).get("/analytics/videos/summary?period=30d")

    assert response.status_code == 200
    assert response.json()["data"]["topVideos"] == [
        {"id": "intro", "title": "Intro", "views": 4, "watchTime": 220, "engagement": 0.5},
        {"id": "second", "title": "Second", "views": 3, "watchTime": 135, "engagement": 0.6667},
    ]


def test_summary_top_videos_leave_out_videos_whose_views_were_all_deleted(workspace, world, api_key_client):
    VideoView.objects.filter(video=world.second).delete()  # VideoDay keeps rows of zeros

    response = api_key_client(workspace).get("/analytics/videos/summary?period=30d")

    assert [video["id"] for video in response.json()["data"]["topVideos"]] == ["intro"]


def test_other_workspaces_views_neither_count_nor_change(workspace, world, api_key_client, make_member):
    other = WorkspaceFactory(slug="globex")
    other_video = VideoFactory(course=CourseFactory(workspace=other, key="course-1"), key="intro", title="Theirs")
    stranger = make_member(other, email="stranger@globex.test")
    before = stored(workspace)
    for hour in range(5):
        VideoViewFactory(workspace=other, user=stranger, video=other_video, started_at=at(3, 10, hour), watched_s=9)

    assert stored(workspace) == before
    assert stored(other) == {(at(3, 10).date(), other_video.pk): (5, 45, 0)}
    top = api_key_client(workspace).get("/analytics/videos/summary?period=30d").json()["data"]["topVideos"]
    assert [(video["title"], video["views"]) for video in top] == [("Intro", 4), ("Second", 3)]
    rebuild_video_days(other.pk)  # one workspace's rebuild leaves the others' rows alone
    assert stored(workspace) == before


def test_migration_0017_marks_the_rollup_when_views_exist(workspace, world):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("analytics.migrations.0018_video_days")
    RollupState.objects.all().delete()
    migration.mark_for_rebuild(apps, type("Editor", (), {"connection": connection})())

    assert RollupState.objects.filter(name="rebuild:video_days").exists()
