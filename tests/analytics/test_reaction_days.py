"""The reaction_days rollup (ReactionDay: a workspace's reactions per UTC day and type, every
user's and its learners'): equal to an independent recount after each kind of write and after a
role change or a user's deletion; other workspaces untouched; the VideoCloud summary and users
figures read from it.

The clock is pinned to Saturday 2024-03-30 15:30:00Z: 30d = 03-01 .. 03-31.
"""

from collections import defaultdict
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from accounts.models import Membership, Role
from analytics.models import ReactionDay, VideoReaction
from analytics.queries.video_cloud import periods
from analytics.rollups.check import check_rollups
from analytics.services.records.behaviour import upsert_video_reactions
from tests.factories import CourseFactory, VideoFactory, VideoReactionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2024, 3, 30, 15, 30, tzinfo=UTC)
TYPES = ("like", "comment", "share")


def at(month, day, hour=12, minute=0):
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(periods, "utc_now", lambda: NOW)


def stored(workspace):
    """{day: (likes, comments, shares, learner likes, learner comments, learner shares)}."""
    return {
        row.day: (row.likes, row.comments, row.shares, row.learner_likes, row.learner_comments, row.learner_shares)
        for row in ReactionDay.objects.filter(workspace=workspace)
    }


def recount(workspace):
    """The same counts from the raw reactions and the memberships, one reaction at a time."""
    learners = set(Membership.objects.filter(workspace=workspace, role=Role.LEARNER).values_list("user_id", flat=True))
    counts = defaultdict(lambda: [0] * 6)
    for reaction in VideoReaction.objects.filter(workspace=workspace):
        row = counts[reaction.at.astimezone(UTC).date()]
        row[TYPES.index(reaction.type)] += 1
        if reaction.user_id in learners:
            row[3 + TYPES.index(reaction.type)] += 1
    return {day: tuple(row) for day, row in counts.items()}


def reaction_days_clean(workspace):
    (result,) = check_rollups(workspace.pk, names=["reaction_days"]).rollups
    return result.differences == 0


@pytest.fixture
def world(workspace, make_member):
    """Two learners and an instructor (a non-learner) reacting on three days."""
    video = VideoFactory(course=CourseFactory(workspace=workspace, key="course-1"), key="intro")
    ada = make_member(workspace, email="ada@acme.test")
    bob = make_member(workspace, email="bob@acme.test")
    teacher = make_member(workspace, Role.INSTRUCTOR, email="teacher@acme.test")
    for user, kind, moment in (
        (ada, "like", at(3, 10, 9)),
        (ada, "comment", at(3, 10, 23, 59)),
        (bob, "like", at(3, 10, 11)),
        (bob, "share", at(3, 11, 0)),
        (teacher, "like", at(3, 11, 8)),
        (teacher, "comment", at(3, 11, 9)),
        (bob, "like", at(2, 20)),  # before the 30-day period
    ):
        VideoReactionFactory(workspace=workspace, video=video, user=user, type=kind, at=moment)
    return SimpleNamespace(video=video, ada=ada, bob=bob, teacher=teacher)


def test_reaction_days_count_every_user_and_the_learners_apart(workspace, world):
    expected = {
        at(3, 10).date(): (2, 1, 0, 2, 1, 0),  # ada's comment at 23:59 stays on the 10th
        at(3, 11).date(): (1, 1, 1, 0, 0, 1),  # the instructor's like and comment: not a learner's
        at(2, 20).date(): (1, 0, 0, 1, 0, 0),
    }
    assert stored(workspace) == expected == recount(workspace)
    assert reaction_days_clean(workspace)


def test_the_record_writer_recounts_the_days_it_wrote(workspace, world):
    rows = [
        {"user_id": world.ada.pk, "video_id": world.video.pk, "type": "share", "at": at(3, 12, 7)},
        {"user_id": world.ada.pk, "video_id": world.video.pk, "type": "like", "at": at(3, 10, 9)},  # re-sent
    ]
    result = upsert_video_reactions(workspace, rows)

    assert (result.created, result.unchanged) == (1, 1)
    assert stored(workspace)[at(3, 12).date()] == (0, 0, 1, 0, 0, 1)
    assert stored(workspace) == recount(workspace)
    assert reaction_days_clean(workspace)


def test_moves_and_deletes_keep_the_days_equal_to_a_recount(workspace, world):
    VideoReaction.objects.filter(user=world.bob, type="share").update(at=at(3, 12))  # to another day
    VideoReaction.objects.filter(user=world.teacher, type="comment").delete()
    VideoReaction.objects.get(user=world.ada, type="comment").delete()  # a single-row delete

    assert stored(workspace) == recount(workspace)
    assert stored(workspace)[at(3, 11).date()] == (1, 0, 0, 0, 0, 0)
    assert reaction_days_clean(workspace)


def test_a_role_change_moves_the_users_reactions_in_and_out_of_the_learners(workspace, world):
    membership = Membership.objects.get(user=world.teacher)
    membership.role = Role.LEARNER
    membership.save()  # a saved membership tells the rollups (a queryset update of one does not)
    Membership.objects.get(user=world.ada).delete()  # no longer a member: not a learner

    assert stored(workspace) == recount(workspace)
    assert stored(workspace)[at(3, 10).date()] == (2, 1, 0, 1, 0, 0)  # bob's like alone
    assert stored(workspace)[at(3, 11).date()] == (1, 1, 1, 1, 1, 1)
    assert reaction_days_clean(workspace)


def test_deleting_a_user_takes_their_reactions_out(workspace, world):
    world.bob.delete()

    assert stored(workspace) == recount(workspace)
    assert at(2, 20).date() not in stored(workspace)  # bob's only day
    assert reaction_days_clean(workspace)


def test_other_workspaces_reactions_neither_count_nor_change(workspace, world, make_member, api_key_client):
    other = WorkspaceFactory(slug="globex")
    their_video = VideoFactory(course=CourseFactory(workspace=other, key="course-1"), key="intro")
    stranger = make_member(other, email="stranger@globex.test")
    before = stored(workspace)
    for hour in range(4):
        VideoReactionFactory(workspace=other, video=their_video, user=stranger, type="like", at=at(3, 10, hour))

    assert stored(workspace) == before
    assert stored(other) == {at(3, 10).date(): (4, 0, 0, 4, 0, 0)}
    client = api_key_client(workspace)
    # 30d: every user's 3 likes and 2 comments over 1 catalog video; learners' 2 + 1 comments, 2 likes, 1 share.
    summary = client.get("/analytics/videos/summary?period=30d").json()["data"]
    assert (summary["averageEngagement"]["likes"], summary["averageEngagement"]["comments"]) == (3, 2)
    actions = client.get("/analytics/users?period=30d&metrics=activity").json()["data"]["activity"]["actions"]
    assert (actions["likes"], actions["comments"], actions["shares"]) == (2, 1, 1)
