"""POST /api/track/page-sessions and /api/track/events."""

import uuid

import pytest
from django.db import connection
from django.middleware.csrf import get_token
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.models import Role
from analytics.models import LearningEvent, PageSession, VideoReaction, VideoView
from tests.factories import CourseFactory, PageSessionFactory, VideoFactory

pytestmark = pytest.mark.django_db

SESSIONS = "/api/track/page-sessions"
EVENTS = "/api/track/events"


def session_item(**fields):
    item = {
        "id": str(uuid.uuid4()),
        "page": "Course Player",
        "path": "/player/course-v1:Acme+AN101+2026",
        "startedAt": "2026-03-01T09:30:00Z",
        "duration": 30,
    }
    item.update(fields)
    return item


def event_item(**fields):
    item = {"id": str(uuid.uuid4()), "type": "viewed", "occurredAt": "2026-03-01T09:30:00Z"}
    item.update(fields)
    return item


@pytest.fixture
def course(workspace):
    return CourseFactory(workspace=workspace, key="course-v1:Acme+AN101+2026")


@pytest.fixture
def learner_client(learner, bearer_client, workspace):
    return bearer_client(learner, workspace)


def test_session_sent_three_times_counts_once_at_its_largest_duration(learner_client, learner, course):
    item = session_item()

    for duration in (30, 60, 45):  # the third is a late retry of an older heartbeat
        response = learner_client.post(SESSIONS, {**item, "duration": duration}, format="json")
        assert response.status_code == 200

    session = PageSession.objects.get()
    assert (session.duration_s, session.user, session.course) == (60, learner, course)
    assert (session.course_key, session.chapter_key, session.page) == ("course-v1:Acme+AN101+2026", "", "Course Player")


def test_resend_answers_updated_then_unchanged(learner_client):
    item = session_item()
    learner_client.post(SESSIONS, item, format="json")

    grown = learner_client.post(SESSIONS, {**item, "duration": 90}, format="json").json()
    same = learner_client.post(SESSIONS, {**item, "duration": 90}, format="json").json()

    assert (grown["created"], grown["updated"], grown["unchanged"]) == (0, 1, 0)
    assert (same["created"], same["updated"], same["unchanged"]) == (0, 0, 1)


def test_quiz_path_gives_url_decoded_course_and_chapter(learner_client, course):
    learner_client.post(
        SESSIONS, session_item(path="/quiz/course-v1%3AAcme%2BAN101%2B2026/chapter%201?x=1"), format="json"
    )

    session = PageSession.objects.get()
    assert (session.course, session.course_key, session.chapter_key) == (
        course,
        "course-v1:Acme+AN101+2026",
        "chapter 1",
    )


def test_path_naming_an_unknown_course_keeps_the_key_without_a_link(learner_client):
    learner_client.post(SESSIONS, session_item(path="/player/unknown-course"), format="json")

    session = PageSession.objects.get()
    assert (session.course, session.course_key) == (None, "unknown-course")


def test_mixed_batch_keeps_good_items_and_names_bad_fields(learner_client):
    items = [
        session_item(),
        session_item(startedAt="last tuesday"),
        session_item(),
        {"page": "Home", "path": "/", "startedAt": "2026-03-01T09:30:00Z", "duration": -5},
    ]

    response = learner_client.post(SESSIONS, items, format="json")

    assert response.status_code == 207
    assert response.json() == {
        "accepted": 2,
        "rejected": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [
            {"index": 1, "field": "startedAt", "reason": "must be an ISO 8601 time such as 2026-03-01T09:30:00Z"},
            {"index": 3, "field": "id", "reason": "is required"},
            {"index": 3, "field": "duration", "reason": "must be between 0 and 604800 seconds"},
        ],
    }
    assert PageSession.objects.count() == 2


def test_batch_of_only_bad_items_is_400_and_stores_nothing(learner_client):
    response = learner_client.post(SESSIONS, [session_item(duration="long"), {"id": "x"}], format="json")

    assert response.status_code == 400
    assert response.json()["accepted"] == 0
    assert [e["index"] for e in response.json()["errors"]] == [0, 1, 1, 1, 1, 1]
    assert not PageSession.objects.exists()


def test_single_good_object_is_200(learner_client):
    response = learner_client.post(SESSIONS, session_item(), format="json")

    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_malformed_json_is_400(learner_client):
    response = learner_client.post(SESSIONS, data="[{", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_more_than_1000_items_is_400(learner_client):
    response = learner_client.post(SESSIONS, [session_item() for _ in range(1001)], format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "At most 1000 items per request, got 1001."}


def test_body_neither_object_nor_list_is_400(learner_client):
    assert learner_client.post(SESSIONS, data="42", content_type="application/json").status_code == 400


def test_admin_api_key_sends_for_a_named_user(workspace, learner, api_key_client):
    response = api_key_client(workspace).post(SESSIONS, session_item(user="LEARNER@acme.test"), format="json")

    assert response.status_code == 200
    assert PageSession.objects.get().user == learner


def test_admin_api_key_item_without_user_is_refused(workspace, api_key_client):
    response = api_key_client(workspace).post(SESSIONS, session_item(), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "user", "reason": "is required"}]


def test_api_key_cannot_send_for_a_member_of_another_workspace(workspace, other_workspace, make_member, api_key_client):
    make_member(other_workspace, email="outsider@globex.test")

    response = api_key_client(workspace).post(SESSIONS, session_item(user="outsider@globex.test"), format="json")

    assert response.json()["errors"] == [
        {"index": 0, "field": "user", "reason": "no member of this workspace has this email"}
    ]


def test_non_admin_api_key_is_403(workspace, api_key_client):
    response = api_key_client(workspace, Role.INSTRUCTOR).post(
        SESSIONS, session_item(user="learner@acme.test"), format="json"
    )

    assert response.status_code == 403


def test_learner_cannot_send_for_another_user(learner_client, workspace, make_member):
    make_member(workspace, email="other@acme.test")

    response = learner_client.post(SESSIONS, session_item(user="other@acme.test"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "user", "reason": "must be your own email: you can only send your own activity"}
    ]
    assert not PageSession.objects.exists()


def test_learner_may_name_themselves(learner_client, learner):
    response = learner_client.post(SESSIONS, session_item(user="Learner@Acme.test"), format="json")

    assert response.status_code == 200
    assert PageSession.objects.get().user == learner


def test_id_of_another_workspaces_session_is_refused_and_not_overwritten(learner_client, other_workspace):
    theirs = PageSessionFactory(workspace=other_workspace, duration_s=10, page="Theirs")

    response = learner_client.post(SESSIONS, session_item(id=str(theirs.id), duration=999), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "id", "reason": "is already used by another record"}]
    theirs.refresh_from_db()
    assert (theirs.duration_s, theirs.page, theirs.workspace) == (10, "Theirs", other_workspace)


def test_id_of_another_users_session_is_refused(learner_client, workspace, make_member):
    other = make_member(workspace, email="other@acme.test")
    theirs = PageSessionFactory(workspace=workspace, user=other, duration_s=10)

    response = learner_client.post(SESSIONS, session_item(id=str(theirs.id), duration=999), format="json")

    assert response.json()["errors"][0]["field"] == "id"
    theirs.refresh_from_db()
    assert (theirs.duration_s, theirs.user) == (10, other)


@pytest.mark.parametrize("size", [10, 1000])
def test_page_session_queries_do_not_grow_with_the_batch(size, learner_client, course, django_assert_max_num_queries):
    items = [session_item() for _ in range(size)]

    # + 5 for the learner-day rollup (role check, learners' day totals out, days upsert, totals
    # in, the learners' spans), + 1 lock on PostgreSQL; + 3 for the course information activity
    # by difference (presence, counts, PostgreSQL's shared lock)
    with django_assert_max_num_queries(8 + 6 + 3):
        response = learner_client.post(SESSIONS, items, format="json")

    assert response.json()["created"] == size


def test_one_heartbeat_statements(learner_client, course, django_assert_num_queries):
    item = session_item()
    learner_client.post(SESSIONS, item, format="json")  # the credential is cached from here on

    # The transaction (a savepoint inside the test's); PostgreSQL: the stored session read and its
    # duration grown in one statement (no course look-up, no upsert, no course activity
    # statement); the learner-day rollup: the lock, the role check, the day returning the totals'
    # difference, the span with the difference added to the day's totals, last. SQLite: the
    # stored session, the course key, the upsert; totals out, day, totals in, the span. Before
    # the heartbeat work (issue 21): 11 on both; then 9 on PostgreSQL.
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 10):
        response = learner_client.post(SESSIONS, {**item, "duration": 60}, format="json")

    assert response.json()["updated"] == 1


def test_first_send_of_a_session_statements(learner_client, course, django_assert_num_queries):
    learner_client.post(SESSIONS, session_item(), format="json")  # the credential is cached from here on

    # PostgreSQL: the savepoint, the stored session and the course key in one statement, the
    # upsert, the course activity (shared lock; presence and count), the learner-day rollup (lock,
    # role check, day returning the totals' difference, span with the totals) and the release.
    # SQLite: the stored session and the course key apart, no locks, the totals out and in apart.
    with django_assert_num_queries(10 if connection.vendor == "postgresql" else 11):
        response = learner_client.post(SESSIONS, session_item(), format="json")

    assert response.json()["created"] == 1


@pytest.mark.parametrize("size", [10, 1000])
def test_event_queries_do_not_grow_with_the_batch(size, learner_client, course, django_assert_max_num_queries):
    video = VideoFactory(course=course, key="intro")
    items = []
    for i in range(size):
        items.append(event_item(course=course.key) if i % 3 == 0 else None)
        if i % 3 == 1:
            items[-1] = {
                "kind": "video_view",
                "id": str(uuid.uuid4()),
                "video": video.key,
                "startedAt": "2026-03-01T09:30:00Z",
                "watchedSeconds": 5,
                "segments": [0],
            }
        if i % 3 == 2:
            items[-1] = {
                "kind": "video_reaction",
                "video": video.key,
                "type": "like",
                "at": f"2026-03-01T09:{i % 60:02d}:{i // 60:02d}Z",
            }

    # + 6 for the learner-day rollup, once for both kinds of activity written (events, video views);
    # + 4 for video_days (a lock, VideoDay moved, the viewer-days deleted and inserted); + 6 for
    # the summary's video windows on the workspace's first views (whether it has windows, then
    # built: a lock, two deletes, two inserts; once built, 2: the probe and the difference added);
    # + 3 for reaction_days (a lock, the one day's row deleted and recounted); + 6 for the course
    # information counts by difference: activity presence and counts of the events, then of the
    # views with their audience presence and counts (PostgreSQL adds its shared lock per kind):
    # none grows with the batch
    with django_assert_max_num_queries(11 + 6 + 4 + 6 + 3 + 6):
        response = learner_client.post(EVENTS, items, format="json")

    assert response.status_code == 200, response.json()["errors"][:3]


def test_event_is_idempotent_by_id(learner_client, learner, course):
    item = event_item(course=course.key, object="block-v1:x", data={"score": 3})

    learner_client.post(EVENTS, item, format="json")
    again = learner_client.post(EVENTS, {**item, "type": "changed"}, format="json")

    assert again.json()["unchanged"] == 1
    event = LearningEvent.objects.get()
    assert (event.type, event.user, event.course, event.object, event.data, event.source) == (
        "viewed",
        learner,
        course,
        "block-v1:x",
        {"score": 3},
        "tracker",
    )


def test_event_naming_an_unknown_course_is_refused(learner_client):
    response = learner_client.post(EVENTS, event_item(course="nope"), format="json")

    assert response.json()["errors"] == [
        {"index": 0, "field": "course", "reason": "no course with this key in the workspace"}
    ]


def test_event_data_must_be_an_object(learner_client):
    response = learner_client.post(EVENTS, event_item(data=[1, 2]), format="json")

    assert response.json()["errors"] == [{"index": 0, "field": "data", "reason": "must be a JSON object"}]


def test_video_view_sets_first_and_last_segment_and_quality_fields(learner_client, course):
    video = VideoFactory(course=course, key="intro", duration_s=22, segment_length_s=5)  # segments 0..4
    item = {
        "kind": "video_view",
        "id": str(uuid.uuid4()),
        "video": "intro",
        "startedAt": "2026-03-01T09:30:00Z",
        "watchedSeconds": 12,
        "position": 22,
        "segments": [4, 0, 4],
        "device": "mobile",
        "platform": "ios",
        "country": "fr",
        "bufferingSeconds": 1.25,
        "bitrateKbps": 1800,
        "errors": 2,
    }

    response = learner_client.post(EVENTS, item, format="json")

    assert response.status_code == 200
    view = VideoView.objects.get()
    assert (view.video, view.course, view.segments, view.watched_first_segment, view.watched_last_segment) == (
        video,
        course,
        [0, 4],
        True,
        True,
    )
    assert (view.device, view.platform, view.country, view.buffering_s, view.bitrate_kbps, view.errors) == (
        "mobile",
        "ios",
        "FR",
        1.25,
        1800,
        2,
    )


def test_video_view_resend_merges_segments_and_keeps_the_furthest(learner_client, course):
    VideoFactory(course=course, key="intro", duration_s=50, segment_length_s=5)
    view_id = str(uuid.uuid4())
    base = {"kind": "video_view", "id": view_id, "video": "intro", "startedAt": "2026-03-01T09:30:00Z"}

    learner_client.post(EVENTS, {**base, "watchedSeconds": 20, "position": 20, "segments": [0, 1, 2, 3]}, format="json")
    learner_client.post(EVENTS, {**base, "watchedSeconds": 10, "position": 50, "segments": [9]}, format="json")

    view = VideoView.objects.get()
    assert (view.watched_s, view.position_s, view.segments, view.watched_last_segment) == (
        20,
        50,
        [0, 1, 2, 3, 9],
        True,
    )


def test_video_reaction_is_stored_once(learner_client, course):
    VideoFactory(course=course, key="intro")
    item = {"kind": "video_reaction", "video": "intro", "type": "like", "at": "2026-03-01T09:30:00Z"}

    learner_client.post(EVENTS, [item, item], format="json")
    learner_client.post(EVENTS, item, format="json")

    assert VideoReaction.objects.count() == 1


def test_page_session_kind_is_refused_on_the_events_endpoint(learner_client):
    response = learner_client.post(EVENTS, {"kind": "page_session", **session_item()}, format="json")

    assert response.json()["errors"] == [
        {"index": 0, "field": "kind", "reason": "must be one of event, video_view, video_reaction"}
    ]


def test_unauthenticated_is_401(db):
    assert APIClient().post(SESSIONS, session_item(), format="json").status_code == 401


# Session (browser) authentication and CSRF


@pytest.fixture
def browser(learner):
    """A logged-in browser session that enforces CSRF, with its masked token."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    request = RequestFactory().get("/")
    token = get_token(request)
    client.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    client.csrf_token = token
    return client


def test_session_without_csrf_token_is_403(browser):
    response = browser.post(SESSIONS, session_item(), format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_session_with_csrf_header_is_accepted(browser):
    response = browser.post(SESSIONS, session_item(), format="json", HTTP_X_CSRFTOKEN=browser.csrf_token)

    assert response.status_code == 200


def test_beacon_with_csrf_token_in_query_and_text_plain_body_is_accepted(browser, learner):
    import json

    response = browser.post(
        f"{SESSIONS}?csrfmiddlewaretoken={browser.csrf_token}",
        data=json.dumps([session_item(duration=42)]),
        content_type="text/plain;charset=UTF-8",
    )

    assert response.status_code == 200
    assert PageSession.objects.get().duration_s == 42


def test_beacon_with_wrong_csrf_token_in_query_is_403(browser):
    response = browser.post(f"{SESSIONS}?csrfmiddlewaretoken={'x' * 64}", session_item(), format="json")

    assert response.status_code == 403


def test_batch_refused_by_the_database_is_retried_item_by_item(learner_client, monkeypatch):
    from django.db import IntegrityError

    from analytics.services.records import behaviour

    real_upsert = behaviour.upsert_page_sessions

    def refuse_long_sessions(workspace, rows):
        if any(row["duration_s"] == 666 for row in rows):
            raise IntegrityError("simulated constraint violation")
        return real_upsert(workspace, rows)

    monkeypatch.setattr(behaviour, "upsert_page_sessions", refuse_long_sessions)

    response = learner_client.post(
        SESSIONS, [session_item(), session_item(duration=666), session_item()], format="json"
    )

    assert response.status_code == 207
    assert response.json()["errors"] == [
        {"index": 1, "field": "", "reason": "refused by the database: simulated constraint violation"}
    ]
    assert sorted(PageSession.objects.values_list("duration_s", flat=True)) == [30, 30]
