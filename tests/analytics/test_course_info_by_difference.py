"""Course information kept on write: page sessions, learning events and video views written
through the tracking API add to the weekly activity counts (CourseActivityWeek) and the video
audiences (VideoAudience) by difference, in the writing transaction, without marking their course
stale; the counts equal a recount by hand and the rebuild from the raw rows (rollups check)."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from analytics.models import (
    CourseActivityKind,
    CourseActivityLearner,
    CourseActivityWeek,
    CourseInfoState,
    VideoAudience,
)
from analytics.queries.course_info import (
    ROLLUP,
    course_activity_by_week,
    course_info_sources,
    course_videos,
    stale_course_ids,
    week_start,
)
from analytics.rollups.check import check_rollups
from analytics.services.course_info_rollups import rebuild_course_info, record_course_activity
from tests.factories import CourseFactory, MembershipFactory, VideoFactory

pytestmark = pytest.mark.django_db

EVENTS, SESSIONS = "/api/track/events", "/api/track/page-sessions"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def weeks():
    """Moments in this week, the previous one and three weeks back, and their week starts."""
    now = timezone.now().replace(microsecond=0)
    this_week = week_start(now)
    moments = {
        "w0": max(now - timedelta(minutes=5), this_week),
        "w1": this_week - timedelta(days=3),
        "w3": this_week - timedelta(days=20),
    }
    return {name: (moment, week_start(moment)) for name, moment in moments.items()}


@pytest.fixture
def world(workspace, other_workspace, make_member):
    course_a = CourseFactory(workspace=workspace, key="course-v1:Acme+A+2026")
    course_b = CourseFactory(workspace=workspace, key="course-v1:Acme+B+2026")
    # 60 s in 10 s segments: segments 0..5, the last is 5.
    video_1 = VideoFactory(course=course_a, key="intro", duration_s=60, segment_length_s=10)
    video_2 = VideoFactory(course=course_a, key="outro", duration_s=60, segment_length_s=10)
    learner_1 = make_member(workspace, Role.LEARNER, email="l1@acme.test")
    learner_2 = make_member(workspace, Role.LEARNER, email="l2@acme.test")
    instructor = make_member(workspace, Role.INSTRUCTOR, email="teacher@acme.test")
    # A learner elsewhere does not make them a learner here.
    MembershipFactory(user=instructor, workspace=other_workspace, role=Role.LEARNER)
    rebuild_course_info(workspace.pk)  # both courses fresh (empty) before the writes
    return {
        "a": course_a,
        "b": course_b,
        "video_1": video_1,
        "video_2": video_2,
        "l1": learner_1,
        "l2": learner_2,
        "teacher": instructor,
    }


@pytest.fixture
def send(workspace, api_key_client, django_capture_on_commit_callbacks):
    """send(path, items): POST through the tracking API with an admin key, commit callbacks run."""
    client = api_key_client(workspace, Role.ADMIN)

    def post(path, items):
        cache.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, items, format="json")
        assert response.status_code == 200, response.content
        assert response.json().get("errors", []) == []
        return response

    return post


def session(user, course, moment, session_id=None, duration=30):
    return {
        "id": session_id or str(uuid.uuid4()),
        "user": user.email,
        "page": "Course Player",
        "path": f"/player/{course.key}",
        "startedAt": iso(moment),
        "duration": duration,
    }


def event(user, course, kind, moment):
    return {
        "id": str(uuid.uuid4()),
        "user": user.email,
        "type": kind,
        "occurredAt": iso(moment),
        "course": course.key,
    }


def view(user, video, moment, segments, view_id=None):
    return {
        "kind": "video_view",
        "id": view_id or str(uuid.uuid4()),
        "user": user.email,
        "video": video.key,
        "startedAt": iso(moment),
        "watchedSeconds": 10 * len(segments),
        "segments": segments,
    }


def stored_weeks(*courses):
    return {
        (row.course_id, row.week_start): (row.any, row.attempted_problem, row.played_video, row.posted_forum)
        for row in CourseActivityWeek.objects.filter(course__in=courses)
    }


def write_everything(world, weeks, send):
    l1, l2, teacher, a, b = world["l1"], world["l2"], world["teacher"], world["a"], world["b"]
    w0, w1, w3 = weeks["w0"][0], weeks["w1"][0], weeks["w3"][0]
    heartbeat = str(uuid.uuid4())
    send(SESSIONS, session(l1, a, w0, heartbeat, duration=15))
    send(SESSIONS, session(l1, a, w0, heartbeat, duration=45))  # heartbeat: nothing new
    send(
        SESSIONS,
        [
            session(l1, a, w0 + timedelta(seconds=1)),  # the same learner again this week
            session(l1, a, w3),  # back-dated
            session(l2, b, w0),
            session(teacher, a, w0),  # not a learner
            {**session(l2, a, w0), "path": "/profile"},  # no course
        ],
    )
    send(
        EVENTS,
        [
            event(l1, a, "attempted_problem", w0),
            event(l2, a, "problem_check", w0),  # the raw Open edX name counts too
            event(l1, a, "edx.forum.thread.created", w1),
            event(l2, a, "viewed", w1),
            event(teacher, a, "attempted_problem", w0),
            event(teacher, a, "posted_forum", w1),
        ],
    )
    send(
        EVENTS,
        [
            view(l1, world["video_1"], w0, [0, 5]),
            view(l1, world["video_1"], w0, [0]),  # again: nothing new
            view(l2, world["video_1"], w1, [5]),
            view(teacher, world["video_1"], w0, [0]),  # every user counts in the audience
            view(l2, world["video_2"], w1, [1, 2]),  # neither edge
        ],
    )


def test_tracked_writes_are_counted_by_hand_and_leave_the_courses_fresh(world, weeks, send):
    write_everything(world, weeks, send)
    a, b = world["a"], world["b"]
    # Recount by hand (any, attempted_problem, played_video, posted_forum), learners only:
    # a this week: l1 (sessions, problem, video), l2 (problem_check); instructor left out.
    # a previous week: l1 (forum), l2 (viewed event, video view); three weeks back: l1's session.
    # b this week: l2's session.
    assert stored_weeks(a, b) == {
        (a.pk, weeks["w0"][1]): (2, 2, 1, 0),
        (a.pk, weeks["w1"][1]): (2, 0, 1, 1),
        (a.pk, weeks["w3"][1]): (1, 0, 0, 0),
        (b.pk, weeks["w0"][1]): (1, 0, 0, 0),
    }
    # video 1: at start l1 and the instructor, at end l1 and l2; video 2: no row (zeros).
    assert dict(VideoAudience.objects.values_list("video_id", "users_at_start")) == {world["video_1"].pk: 2}
    assert VideoAudience.objects.get().users_at_end == 2
    # Never marked (the refresh that runs after a mark in tests would hide it: see changed_at).
    assert list(CourseInfoState.objects.filter(course__in=[a, b]).values_list("changed_at", flat=True)) == [None] * 2
    assert stale_course_ids([a.pk, b.pk]) == set()
    assert course_info_sources([a.pk, b.pk]) == {a.pk: ROLLUP, b.pk: ROLLUP}
    assert not any(check.differences for check in check_rollups(names=["course_info"]).rollups)


def test_reads_from_the_rollups_equal_the_raw_path(world, weeks, send):
    write_everything(world, weeks, send)
    a, now = world["a"], timezone.now()
    start = weeks["w3"][1]
    rollup = course_activity_by_week(a, start, None, now)
    assert rollup == course_activity_by_week(a, start, None, now, from_raw=True)
    assert [row["any"] for row in rollup] == [1, 0, 2, 2]
    videos = course_videos(a)
    assert videos == course_videos(a, from_raw=True)
    assert [(row["video_key"], row["users_at_start"], row["users_at_end"]) for row in videos] == [
        ("intro", 2, 2),
        ("outro", 0, 0),
    ]


def test_a_repeated_heartbeat_runs_no_presence_statement_and_no_count_update(world, weeks, send):
    # Its session was counted when it was first written, in the same course and week.
    heartbeat = session(world["l1"], world["a"], weeks["w0"][0])
    send(SESSIONS, heartbeat)
    with CaptureQueriesContext(connection) as queries:
        send(SESSIONS, {**heartbeat, "duration": 300})
    presence = [q["sql"] for q in queries if "analytics_courseactivitylearner" in q["sql"]]
    counts = [q["sql"] for q in queries if "analytics_courseactivityweek" in q["sql"]]
    assert (presence, counts) == ([], [])
    assert [q for q in queries if "analytics_courseinfostate" in q["sql"]] == []
    assert stored_weeks(world["a"]) == {(world["a"].pk, weeks["w0"][1]): (1, 0, 0, 0)}


def test_a_heartbeat_whose_course_was_created_since_its_first_send_counts_in_that_course(world, weeks, send, workspace):
    key = "course-v1:Acme+Later+2026"
    first = {**session(world["l1"], world["a"], weeks["w0"][0]), "path": f"/player/{key}"}
    send(SESSIONS, first)  # no such course yet: the session is in no course
    later = CourseFactory(workspace=workspace, key=key)
    rebuild_course_info(workspace.pk)

    send(SESSIONS, {**first, "duration": 300})

    assert stored_weeks(later) == {(later.pk, weeks["w0"][1]): (1, 0, 0, 0)}


def test_a_session_moved_to_another_week_marks_its_course_stale_and_the_refresh_repairs_it(world, weeks, send):
    moved = session(world["l1"], world["a"], weeks["w0"][0])
    send(SESSIONS, moved)
    send(SESSIONS, {**moved, "startedAt": iso(weeks["w1"][0]), "duration": 60})
    # Marked after commit; the queued refresh (Celery runs in-process in tests) rebuilt it.
    assert CourseInfoState.objects.get(course=world["a"]).changed_at is not None
    assert stale_course_ids([world["a"].pk]) == set()
    assert stored_weeks(world["a"]) == {(world["a"].pk, weeks["w1"][1]): (1, 0, 0, 0)}
    assert CourseActivityLearner.objects.count() == 1


def test_writes_in_another_workspace_leave_these_counts_alone(world, weeks, send, other_workspace, api_key_client):
    send(SESSIONS, session(world["l1"], world["a"], weeks["w0"][0]))
    other_course = CourseFactory(workspace=other_workspace, key=world["a"].key)
    other = api_key_client(other_workspace, Role.ADMIN)
    # The instructor is a learner of the other workspace: counted there, in its course only.
    response = other.post(SESSIONS, session(world["teacher"], other_course, weeks["w0"][0]), format="json")
    assert response.status_code == 200 and response.json().get("errors", []) == []
    assert stored_weeks(world["a"]) == {(world["a"].pk, weeks["w0"][1]): (1, 0, 0, 0)}
    assert stored_weeks(other_course) == {(other_course.pk, weeks["w0"][1]): (1, 0, 0, 0)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent transactions: PostgreSQL")
def test_concurrent_writers_count_a_shared_presence_once_and_both_new_ones(world, weeks, workspace):
    a, moment, week = world["a"], weeks["w0"][0], weeks["w0"][1]
    errors = []

    def write(user, hold=0):
        try:
            with transaction.atomic():
                record_course_activity(workspace.pk, [(a.pk, user.pk, moment, CourseActivityKind.PLAYED_VIDEO)])
                time.sleep(hold)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    # l1 twice (the second blocks on the first's uncommitted presence row, then inserts nothing)
    # and l2 once, all while the first transaction is open.
    first = threading.Thread(target=write, args=(world["l1"], 1.0))
    first.start()
    time.sleep(0.3)
    others = [threading.Thread(target=write, args=(user,)) for user in (world["l1"], world["l2"])]
    for thread in others:
        thread.start()
    for thread in (first, *others):
        thread.join()
    assert errors == []
    assert stored_weeks(a) == {(a.pk, week): (2, 0, 2, 0)}
    assert CourseActivityLearner.objects.filter(course=a).count() == 4
