"""The learner-day rollups (LearnerDay, LearnerActivity) equal a recount of the raw rows after
every write path, rebuilt or incremental; the figures read from them keep their definitions."""

import threading
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.db import connection, connections

from accounts.models import Membership, Role
from analytics.models import (
    CourseActivityWeek,
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    VideoView,
    WorkspaceDay,
)
from analytics.queries.dashboards import active_learners_trend
from analytics.definitions import Period
from analytics.queries import activity
from analytics.queries.activity import active_learner_counts
from analytics.queries.video_cloud import (
    periods,
    resolve_period,
    user_analytics,
    user_engagement,
    user_period,
    video_period,
    video_summary,
)
from analytics.rollups.check import check_rollups
from analytics.services import learner_activity
from analytics.services.learner_activity import rebuild_learner_activity, refresh_learner_days, refreshed_together
from analytics.services.records.pipeline import ingest_records
from analytics.services.tracking_logs import copy_events, import_tracking_logs
from tests.analytics.test_tracking_logs import write_log
from tests.factories import (
    CourseFactory,
    LearningEventFactory,
    PageSessionFactory,
    VideoFactory,
    VideoViewFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


TOTAL_COLUMNS = (
    "page_days",
    "bounce_days",
    "page_sessions",
    "page_seconds",
    "desktop_sessions",
    "mobile_sessions",
    "tablet_sessions",
    "forum_posts",
    "video_views",
    "watch_seconds",
    "completed_views",
)


def recount():
    """{(workspace, user, day): figures} and {(workspace, user): span} counted from the raw rows."""
    days = defaultdict(
        lambda: dict.fromkeys(
            (
                "page_sessions",
                "page_seconds",
                "desktop_sessions",
                "mobile_sessions",
                "tablet_sessions",
                "page_hours",
                "events",
                "forum_posts",
                "video_views",
                "watch_seconds",
                "completed_views",
            ),
            0,
        )
    )
    for workspace_id, user_id, started_at, seconds, device in PageSession.objects.values_list(
        "workspace_id", "user_id", "started_at", "duration_s", "device"
    ):
        row = days[(workspace_id, user_id, started_at.astimezone(UTC).date())]
        row["page_sessions"] += 1
        row["page_seconds"] += seconds
        if device:
            row[f"{device}_sessions"] += 1
        row["page_hours"] |= 1 << started_at.astimezone(UTC).hour
    for workspace_id, user_id, occurred_at, event_type in LearningEvent.objects.values_list(
        "workspace_id", "user_id", "occurred_at", "type"
    ):
        row = days[(workspace_id, user_id, occurred_at.astimezone(UTC).date())]
        row["events"] += 1
        row["forum_posts"] += event_type == "posted_forum"
    for workspace_id, user_id, started_at, watched, completed in VideoView.objects.values_list(
        "workspace_id", "user_id", "started_at", "watched_s", "is_completed"
    ):
        row = days[(workspace_id, user_id, started_at.astimezone(UTC).date())]
        row["video_views"] += 1
        row["watch_seconds"] += watched
        row["completed_views"] += completed
    learners = set(Membership.objects.filter(role=Role.LEARNER).values_list("workspace_id", "user_id"))
    spans, totals = {}, defaultdict(lambda: dict.fromkeys(TOTAL_COLUMNS, 0))
    for workspace_id, user_id, day in sorted(days):
        row = days[(workspace_id, user_id, day)]
        span = spans.setdefault(
            (workspace_id, user_id),
            {
                "is_learner": (workspace_id, user_id) in learners,
                "first_day": day,
                "recent_days": 0,
                "last_page_day": None,
                "page_days": 0,
                "page_sessions": 0,
                "page_seconds": 0,
                **{f"hour{hour}_last_day": None for hour in range(24)},
            },
        )
        span["last_day"] = day
        if row["page_sessions"]:
            span["last_page_day"] = day
            span["page_days"] += 1
            span["page_sessions"] += row["page_sessions"]
            span["page_seconds"] += row["page_seconds"]
            for hour in range(24):
                if row["page_hours"] & (1 << hour):
                    span[f"hour{hour}_last_day"] = day
        total = totals[(workspace_id, day)]
        for name in ("video_views", "watch_seconds", "completed_views"):  # every user's
            total[name] += row[name]
        if span["is_learner"]:
            total["page_days"] += row["page_sessions"] > 0
            total["bounce_days"] += row["page_sessions"] == 1
            for name in (
                "page_sessions",
                "page_seconds",
                "desktop_sessions",
                "mobile_sessions",
                "tablet_sessions",
                "forum_posts",
            ):
                total[name] += row[name]
    active = set(days)
    for (workspace_id, user_id), span in spans.items():
        for n in (1, 7, 30):
            span[f"is_back_day{n}"] = (workspace_id, user_id, span["first_day"] + timedelta(days=n)) in active
        for word, low in (("recent_days", 0), ("recent_days_2", 63), ("recent_days_3", 126)):
            span[word] = sum(
                1 << back
                for back in range(63)
                if (workspace_id, user_id, span["last_day"] - timedelta(days=low + back)) in active
            )
    return dict(days), spans, {key: total for key, total in totals.items() if any(total.values())}


def stored():
    days = {
        (row.pop("workspace_id"), row.pop("user_id"), row.pop("day")): row
        for row in LearnerDay.objects.values(
            "workspace_id",
            "user_id",
            "day",
            "page_sessions",
            "page_seconds",
            "desktop_sessions",
            "mobile_sessions",
            "tablet_sessions",
            "page_hours",
            "events",
            "forum_posts",
            "video_views",
            "watch_seconds",
            "completed_views",
        )
    }
    spans = {
        (row.pop("workspace_id"), row.pop("user_id")): row
        for row in LearnerActivity.objects.values(
            "workspace_id",
            "user_id",
            "is_learner",
            "first_day",
            "last_day",
            "is_back_day1",
            "is_back_day7",
            "is_back_day30",
            "recent_days",
            "recent_days_2",
            "recent_days_3",
            "last_page_day",
            "page_days",
            "page_sessions",
            "page_seconds",
            *(f"hour{hour}_last_day" for hour in range(24)),
        )
    }
    # Rows whose sums went back to zero may stay: they change no figure.
    totals = {
        (row.pop("workspace_id"), row.pop("day")): row
        for row in WorkspaceDay.objects.values("workspace_id", "day", *TOTAL_COLUMNS)
        if any(row[name] for name in TOTAL_COLUMNS)
    }
    return days, spans, totals


def clear_rollups():
    for model in (LearnerDay, LearnerActivity, WorkspaceDay):
        model.objects.all().delete()


def assert_rollup_is_recount():
    expected = recount()
    assert stored() == expected
    return expected


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setattr(periods, "utc_now", lambda: NOW)
    return NOW


# --- Write paths -----------------------------------------------------------------------------------


def session_item(**fields):
    return {
        "id": str(uuid.uuid4()),
        "page": "Home",
        "path": "/",
        "startedAt": "2026-03-01T09:30:00Z",
        "duration": 30,
        **fields,
    }


def test_tracking_api_sessions_and_events(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    sessions = [
        session_item(startedAt="2026-03-01T09:30:00Z", duration=30, device="mobile"),
        session_item(startedAt="2026-03-01T23:59:59Z", duration=10),
        session_item(startedAt="2026-03-02T00:00:00Z", duration=5, device="desktop"),
    ]
    events = [
        {"id": str(uuid.uuid4()), "type": "posted_forum", "occurredAt": "2026-03-01T10:00:00Z"},
        {"id": str(uuid.uuid4()), "type": "viewed", "occurredAt": "2026-03-03T10:00:00Z"},
    ]
    assert client.post("/api/track/page-sessions", sessions, format="json").status_code == 200
    assert client.post("/api/track/events", events, format="json").status_code == 200

    days, spans, _ = assert_rollup_is_recount()
    march1 = days[(workspace.pk, learner.pk, at(3, 1).date())]
    assert (march1["page_sessions"], march1["page_seconds"], march1["mobile_sessions"]) == (2, 40, 1)
    assert (march1["page_hours"], march1["forum_posts"]) == ((1 << 9) | (1 << 23), 1)
    span = spans[(workspace.pk, learner.pk)]
    assert (span["first_day"], span["last_day"], span["is_back_day1"]) == (at(3, 1).date(), at(3, 3).date(), True)
    assert (span["recent_days"], span["page_days"], span["last_page_day"]) == (0b111, 2, at(3, 2).date())
    assert (span["hour9_last_day"], span["hour0_last_day"], span["hour10_last_day"]) == (
        at(3, 1).date(),
        at(3, 2).date(),
        None,
    )


def test_workspace_day_totals_follow_the_learner_role(workspace, learner, make_member):
    teacher = make_member(workspace, Role.INSTRUCTOR)
    for user, seconds in ((learner, 30), (learner, 12), (teacher, 100)):
        PageSessionFactory(workspace=workspace, user=user, started_at=at(3, 1), duration_s=seconds, device="tablet")
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 2), duration_s=5)

    *_, totals = assert_rollup_is_recount()
    march1 = totals[(workspace.pk, at(3, 1).date())]
    assert (march1["page_days"], march1["bounce_days"], march1["page_sessions"]) == (1, 0, 2)
    assert (march1["page_seconds"], march1["tablet_sessions"]) == (42, 2)
    assert totals[(workspace.pk, at(3, 2).date())]["bounce_days"] == 1

    membership = learner.memberships.get(workspace=workspace)
    membership.role = Role.INSTRUCTOR
    membership.save()
    assert assert_rollup_is_recount()[2] == {}
    teacher.memberships.update(role=Role.LEARNER)  # a bulk update sends no signal: the next write syncs
    PageSessionFactory(workspace=workspace, user=teacher, started_at=at(3, 3), duration_s=1)
    *_, totals = assert_rollup_is_recount()
    assert sorted(day for _, day in totals) == [at(3, 1).date(), at(3, 3).date()]
    membership.role = Role.LEARNER
    membership.save()
    assert_rollup_is_recount()
    membership.delete()
    *_, totals = assert_rollup_is_recount()
    assert totals[(workspace.pk, at(3, 1).date())]["page_seconds"] == 100


def test_heartbeat_grows_the_day_seconds_and_a_moved_session_leaves_its_old_day(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    item = session_item(startedAt="2026-03-01T09:30:00Z", duration=30)
    client.post("/api/track/page-sessions", [item], format="json")

    client.post("/api/track/page-sessions", [{**item, "duration": 90}], format="json")  # heartbeat
    assert LearnerDay.objects.get().page_seconds == 90

    client.post("/api/track/page-sessions", [{**item, "startedAt": "2026-03-04T08:00:00Z"}], format="json")
    days, *_ = assert_rollup_is_recount()
    assert list(days) == [(workspace.pk, learner.pk, at(3, 4).date())]


def test_import_records_of_every_activity_kind(workspace, learner):
    course = CourseFactory(workspace=workspace, key="course-v1:Acme+A1+2026")
    video = VideoFactory(course=course, key="v1")
    records = [
        (
            "1",
            {
                "kind": "page_session",
                "id": str(uuid.uuid4()),
                "user": learner.email,
                "page": "Home",
                "path": "/",
                "startedAt": "2026-03-05T08:00:00Z",
                "duration": 12,
            },
        ),
        (
            "2",
            {
                "kind": "event",
                "id": str(uuid.uuid4()),
                "user": learner.email,
                "type": "posted_forum",
                "occurredAt": "2026-03-05T09:00:00Z",
            },
        ),
        (
            "3",
            {
                "kind": "video_view",
                "id": str(uuid.uuid4()),
                "user": learner.email,
                "video": video.key,
                "startedAt": "2026-03-06T09:00:00Z",
                "watchedSeconds": 40,
            },
        ),
    ]

    report = ingest_records(workspace, records)

    assert not report.errors
    days, *_ = assert_rollup_is_recount()
    assert days[(workspace.pk, learner.pk, at(3, 6).date())]["watch_seconds"] == 40


def test_xapi_statements_and_voiding(workspace, api_key_client):
    client = api_key_client(workspace, Role.ADMIN)
    version = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for statement_id, timestamp in ((first, "2026-03-01T09:30:00Z"), (second, "2026-03-02T09:30:00Z")):
        body = {
            "id": statement_id,
            "actor": {"objectType": "Agent", "mbox": "mailto:ada@acme.test"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
            "object": {"id": "http://lms.example.com/course/course-v1:Acme+A1+2026/page/1"},
            "timestamp": timestamp,
        }
        assert client.post("/xapi/statements", body, format="json", **version).status_code == 200
    assert len(assert_rollup_is_recount()[0]) == 2

    voiding = {
        "actor": {"objectType": "Agent", "mbox": "mailto:admin@acme.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": second},
    }
    assert client.post("/xapi/statements", voiding, format="json", **version).status_code == 200

    days, *_ = assert_rollup_is_recount()
    assert [day for _, _, day in days] == [at(3, 1).date()]


def test_an_xapi_batch_refreshes_learner_days_once(workspace, api_key_client):
    """Statements and voiding in one batch: one refresh, so one round of advisory locks (two
    concurrent batches taking theirs in several rounds could deadlock)."""
    client = api_key_client(workspace, Role.ADMIN)
    version = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
    voided_id = str(uuid.uuid4())

    def statement(statement_id, email, day):
        return {
            "id": statement_id,
            "actor": {"objectType": "Agent", "mbox": f"mailto:{email}"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
            "object": {"id": "http://lms.example.com/course/course-v1:Acme+A1+2026/page/1"},
            "timestamp": f"2026-03-0{day}T09:30:00Z",
        }

    first = client.post("/xapi/statements", statement(voided_id, "ada@acme.test", 1), format="json", **version)
    assert first.status_code == 200
    voiding = {
        "actor": {"objectType": "Agent", "mbox": "mailto:admin@acme.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": voided_id},
    }
    batch = [statement(str(uuid.uuid4()), "bob@acme.test", 2), voiding]
    day_inserts = []

    def count_inserts(execute, sql, params, many, context):
        day_inserts.extend(
            [sql] if f"INSERT INTO {connection.ops.quote_name(LearnerDay._meta.db_table)}" in sql else []
        )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_inserts):
        assert client.post("/xapi/statements", batch, format="json", **version).status_code == 200

    assert len(day_inserts) == 1
    days, *_ = assert_rollup_is_recount()
    assert [day for _, _, day in days] == [at(3, 2).date()]


def test_tracking_log_import(workspace, tmp_path):
    import_tracking_logs(workspace, [write_log(tmp_path)])

    days, *_ = assert_rollup_is_recount()
    assert sum(row["events"] for row in days.values()) == LearningEvent.objects.count() > 0
    assert sum(row["video_views"] for row in days.values()) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_tracking_log_copy_path(workspace, learner):
    course = CourseFactory(workspace=workspace)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": learner.pk,
            "course_id": course.pk,
            "type": "posted_forum",
            "object": "t1",
            "occurred_at": at(3, day),
            "data": {},
        }
        for day in (1, 1, 2)
    ]

    assert copy_events(workspace, rows) == 3
    assert copy_events(workspace, rows) == 0

    days, *_ = assert_rollup_is_recount()
    assert days[(workspace.pk, learner.pk, at(3, 1).date())]["forum_posts"] == 2


def test_orm_save_update_and_delete(workspace, learner):
    course = CourseFactory(workspace=workspace)
    session = PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1), duration_s=20)
    event = LearningEventFactory(course=course, user=learner, occurred_at=at(3, 2))
    VideoViewFactory(video=VideoFactory(course=course), user=learner, started_at=at(3, 2), watched_s=7)
    assert_rollup_is_recount()

    session.started_at, session.duration_s = at(3, 2, 15), 50
    session.save()
    days, *_ = assert_rollup_is_recount()
    assert list(days) == [(workspace.pk, learner.pk, at(3, 2).date())]

    event.delete()
    session.delete()
    days, spans, _ = assert_rollup_is_recount()
    assert days[(workspace.pk, learner.pk, at(3, 2).date())]["video_views"] == 1
    VideoView.objects.get().delete()
    assert stored() == ({}, {}, {})


def test_rebuild_equals_incremental(workspace, other_workspace, make_member):
    course = CourseFactory(workspace=workspace)
    for index, learner in enumerate([make_member(workspace), make_member(other_workspace)]):
        for day in (1, 2, 8, 31):
            PageSessionFactory(
                workspace=learner.memberships.get().workspace,
                user=learner,
                started_at=at(3, 1) + timedelta(days=day - 1, hours=index),
                device="tablet",
            )
        LearningEventFactory(course=course, user=learner, occurred_at=at(3, 3), type="posted_forum")
    incremental = assert_rollup_is_recount()

    assert rebuild_learner_activity() == (len(incremental[0]), len(incremental[1]))
    assert stored() == incremental
    rebuild_learner_activity(other_workspace)
    assert stored() == incremental


def test_refresh_query_count_is_bounded(workspace, learner, django_assert_max_num_queries):
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    pairs = {(learner.pk, at(3, day).date()) for day in range(1, 29)}

    # (lock on PostgreSQL), role check, learners' totals out, DELETE and INSERT of the days,
    # learners' totals in, DELETE and INSERT of the span
    with django_assert_max_num_queries(8):
        refresh_learner_days(workspace.pk, pairs)


def test_heartbeat_refresh_is_one_statement_for_days_and_totals_on_postgresql(
    workspace, learner, django_assert_num_queries
):
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    pairs = {(learner.pk, at(3, 1).date())}

    # PostgreSQL: lock, role check, the days upserted returning the totals' difference, the span
    # with the difference added to the totals. SQLite: role check, totals out, days upsert,
    # totals in, the span.
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 5):
        refresh_learner_days(workspace.pk, pairs, may_empty=False)


def grow_durations(duration_s):
    """Every stored page session's duration set in SQL, out of the rollups' sight (a heartbeat
    before its refresh)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(PageSession._meta.db_table)} SET duration_s = %s", [duration_s]
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the totals' difference is deferred on PostgreSQL")
def test_heartbeat_adds_to_the_workspace_day_in_its_last_statement(workspace, learner):
    # WorkspaceDay's row of the day is locked by every write of the day until it commits: the
    # refresh writes it last, so concurrent heartbeats wait for little more than a commit.
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1), duration_s=30)
    refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1))}, may_empty=False)
    grow_durations(45)
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1))}, may_empty=False)

    workspace_day = connection.ops.quote_name(WorkspaceDay._meta.db_table)
    assert [index for index, sql in enumerate(statements) if f"INSERT INTO {workspace_day}" in sql] == [
        len(statements) - 1
    ]
    assert WorkspaceDay.objects.get(workspace=workspace, day=at(3, 1).date()).page_seconds == 45
    assert_rollup_is_recount()


def test_heartbeats_of_users_in_several_chunks_keep_the_totals(workspace, make_member, monkeypatch):
    # The totals' difference of every chunk of pairs goes in with the last chunk of users.
    monkeypatch.setattr(learner_activity, "MAX_PAIRS", 2)
    monkeypatch.setattr(learner_activity, "MAX_PARAMS", 2)
    learners = [make_member(workspace) for _ in range(5)]
    for index, learner in enumerate(learners):
        PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1, hour=index), duration_s=10)
    refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1)) for learner in learners}, may_empty=False)
    grow_durations(20)

    refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1)) for learner in learners}, may_empty=False)

    *_, totals = assert_rollup_is_recount()
    march1 = totals[(workspace.pk, at(3, 1).date())]
    assert (march1["page_days"], march1["page_sessions"], march1["page_seconds"]) == (5, 5, 100)


def test_heartbeats_keep_the_totals_of_learners_only(workspace, learner, make_member, bearer_client, monkeypatch):
    # Rows only grow (may_empty=False): the totals move by the difference of each refresh, in
    # chunks of 2 pairs; the instructor's days count in video totals only (none here).
    monkeypatch.setattr(learner_activity, "MAX_PAIRS", 2)
    teacher = make_member(workspace, Role.INSTRUCTOR)
    learner_item = session_item(startedAt="2026-03-01T09:30:00Z", duration=30)
    other_day = session_item(startedAt="2026-03-02T10:00:00Z", duration=7)
    teacher_item = session_item(startedAt="2026-03-01T11:00:00Z", duration=50)
    learner_client, teacher_client = bearer_client(learner, workspace), bearer_client(teacher, workspace)

    learner_client.post("/api/track/page-sessions", [learner_item, other_day], format="json")
    teacher_client.post("/api/track/page-sessions", [teacher_item], format="json")
    for duration in (60, 90):
        learner_client.post("/api/track/page-sessions", [{**learner_item, "duration": duration}], format="json")
        teacher_client.post("/api/track/page-sessions", [{**teacher_item, "duration": duration * 2}], format="json")
    learner_client.post("/api/track/page-sessions", [{**other_day, "duration": 8}, session_item()], format="json")

    *_, totals = assert_rollup_is_recount()
    march1, march2 = totals[(workspace.pk, at(3, 1).date())], totals[(workspace.pk, at(3, 2).date())]
    # 1 March: the learner's 90 s session and a new 30 s one; 2 March: one session of 8 s.
    assert (march1["page_days"], march1["bounce_days"], march1["page_sessions"], march1["page_seconds"]) == (
        1,
        0,
        2,
        120,
    )
    assert (march2["page_days"], march2["bounce_days"], march2["page_sessions"], march2["page_seconds"]) == (
        1,
        1,
        1,
        8,
    )


def test_refresh_of_pairs_over_many_days_and_users_in_several_chunks(workspace, make_member, monkeypatch):
    monkeypatch.setattr(learner_activity, "MAX_PAIRS", 4)
    course = CourseFactory(workspace=workspace)
    learners = [make_member(workspace) for _ in range(3)]
    for index, learner in enumerate(learners):
        for day in range(1, 6):
            PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, day, hour=index), duration_s=day)
            LearningEventFactory(course=course, user=learner, occurred_at=at(3, day, hour=23, minute=59))
    clear_rollups()

    # 15 pairs with activity (4 chunks), plus days without any
    refresh_learner_days(workspace.pk, {(learner.pk, at(3, day)) for learner in learners for day in range(1, 8)})

    days, spans, _ = assert_rollup_is_recount()
    assert len(days) == 15 and len(spans) == 3


def test_refreshed_together_refreshes_once_as_the_block_ends(workspace, learner):
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    clear_rollups()
    day_inserts = []

    def count_inserts(execute, sql, params, many, context):
        day_inserts.extend(
            [sql] if f"INSERT INTO {connection.ops.quote_name(LearnerDay._meta.db_table)}" in sql else []
        )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_inserts), refreshed_together():
        refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1))}, may_empty=False)
        refresh_learner_days(workspace.pk, {(learner.pk, at(3, 2))})
        assert not LearnerDay.objects.exists() and not day_inserts

    assert len(day_inserts) == 1
    assert list(assert_rollup_is_recount()[0]) == [(workspace.pk, learner.pk, at(3, 1).date())]


def test_refreshed_together_drops_its_pairs_when_the_block_fails(workspace, learner):
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    clear_rollups()

    with pytest.raises(ZeroDivisionError), refreshed_together():
        refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1))})
        1 / 0

    assert not LearnerDay.objects.exists()
    refresh_learner_days(workspace.pk, {(learner.pk, at(3, 1))})  # outside a block: at once
    assert LearnerDay.objects.count() == 1


def test_management_command_if_empty(workspace, learner, capsys):
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    clear_rollups()

    call_command("rebuild_learner_activity", "--workspace", workspace.slug, "--if-empty")
    assert LearnerDay.objects.count() == 1
    call_command("rebuild_learner_activity", "--if-empty")
    assert "nothing done" in capsys.readouterr().out


# --- Figures read from the rollups -------------------------------------------------------------------


@pytest.fixture
def mixed(workspace, make_member):
    """Learners: today (03-30) only; 03-25 and a future day 04-02; only a future day; 03-02 only;
    an instructor today. Hours: today's learner at 8h and 20h."""
    learners = {name: make_member(workspace, email=f"{name}@acme.test") for name in ("today", "both", "future", "old")}
    staff = make_member(workspace, Role.INSTRUCTOR, email="staff@acme.test")
    PageSessionFactory(workspace=workspace, user=learners["today"], started_at=at(3, 30, 8), duration_s=10)
    PageSessionFactory(workspace=workspace, user=learners["today"], started_at=at(3, 30, 20), duration_s=30)
    PageSessionFactory(workspace=workspace, user=learners["both"], started_at=at(3, 25), duration_s=60)
    PageSessionFactory(workspace=workspace, user=learners["both"], started_at=at(4, 2), duration_s=60)
    PageSessionFactory(workspace=workspace, user=learners["future"], started_at=at(4, 3))
    PageSessionFactory(workspace=workspace, user=learners["old"], started_at=at(3, 2))
    PageSessionFactory(workspace=workspace, user=staff, started_at=at(3, 30))
    return learners


def test_active_users_with_future_dated_activity(workspace, mixed, now):
    analytics = user_analytics(workspace, user_period(workspace, "7d", NOW), sections=("activity",))
    active = analytics["activity"]["active_users"]

    assert active == {"daily": 1, "weekly": 2, "monthly": 3}


def test_dashboard_trend_totals_equal_active_users(workspace, mixed, now):
    analytics = user_analytics(workspace, user_period(workspace, "30d", NOW), sections=("activity",))
    active = analytics["activity"]["active_users"]

    assert active_learners_trend(workspace, resolve_period("7d", now)).daily[-1][1] == active["daily"]
    assert active_learners_trend(workspace, resolve_period("7d", now)).total == active["weekly"]
    assert active_learners_trend(workspace, resolve_period("30d", now)).total == active["monthly"]
    assert sum(n for _, n in active_learners_trend(workspace, resolve_period("30d", now)).monthly) == 3


def test_growth_previous_period_probe_for_learners_active_before_and_after(workspace, make_member, now):
    """7d: the period is 03-24..03-30, the previous one 03-17..03-23. `gap` was active before and
    after the previous period but not in it; `kept` was active in both."""
    gap, kept = make_member(workspace), make_member(workspace)
    for learner, days in ((gap, (1, 28)), (kept, (1, 20, 28))):
        for day in days:
            PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, day))

    growth = user_analytics(workspace, user_period(workspace, "7d", NOW), sections=("growth",))["growth"]

    assert (growth["new_users"], growth["returning_users"], growth["churn_rate"]) == (0, 2, 0.0)


def test_growth_over_a_previous_period_of_90_days(workspace, make_member, now):
    """90d: the period starts 01-01, the previous one is 10-03..12-31. Each learner takes one way
    to "active in the previous period": `new_then` started in it (first day); `mid`, `early` and
    `earliest` have a day of it in the first, second and third word of recent_days (45, 70 and
    133 days before their last day); `skipped` has days before and after it only, 181 and 0 days
    before their last one. `gone` was active only in the previous period."""

    def day(year, month, day_):
        return datetime(year, month, day_, 9, tzinfo=UTC)

    learners = {
        "new_then": (day(2025, 12, 20), at(3, 2)),
        "mid": (day(2025, 9, 1), day(2025, 12, 1), day(2026, 1, 15)),
        "early": (day(2025, 9, 1), day(2025, 10, 23), day(2026, 1, 1)),
        "earliest": (day(2025, 9, 1), day(2025, 10, 20), at(3, 2)),
        "skipped": (day(2025, 9, 1), at(3, 1)),
        "gone": (day(2025, 11, 5),),
    }
    for moments in learners.values():
        learner = make_member(workspace)
        for moment in moments:
            PageSessionFactory(workspace=workspace, user=learner, started_at=moment)

    growth = user_analytics(workspace, user_period(workspace, "90d", NOW), sections=("growth",))["growth"]

    # previously active: new_then, mid, early, earliest, gone; churned: gone
    assert (growth["new_users"], growth["returning_users"], growth["churn_rate"]) == (0, 5, 0.2)


def test_previous_period_beyond_the_recent_days_is_probed(workspace, make_member, now):
    """A 100-day period (no endpoint offers one; `all` never reaches past the bitmap with a learner
    who began before it) and the one before it span 200 days, more than the 189 of recent_days:
    12-21..03-30, previous 09-12..12-20. `probed` was active there only 198 days before their
    last day (found by the LearnerDay probe), `bits` 149 days before (the third word), `none`
    only before it; `gone` only in it."""

    def day(year, month, day_):
        return datetime(year, month, day_, 9, tzinfo=UTC)

    learners = {
        "probed": (day(2025, 8, 1), day(2025, 9, 13), at(3, 30)),
        "bits": (day(2025, 8, 1), day(2025, 11, 1), at(3, 30)),
        "none": (day(2025, 8, 1), at(3, 30)),
        "gone": (day(2025, 10, 1),),
    }
    for moments in learners.values():
        learner = make_member(workspace)
        for moment in moments:
            PageSessionFactory(workspace=workspace, user=learner, started_at=moment)
    end = datetime(2026, 3, 31, tzinfo=UTC)
    period = Period("100d", end - timedelta(days=100), end, NOW)

    assert activity.counting_strategy(workspace, period.end_day) == activity.LEARNER_ACTIVITY
    counts = active_learner_counts(workspace, period, {"daily": 1, "weekly": 7, "monthly": 30})

    assert counts == {"daily": 3, "weekly": 3, "monthly": 3, "active": 3, "new": 0, "previous_active": 3, "churned": 1}


def test_engagement_hours_and_new_learners(workspace, mixed, now):
    engagement = user_engagement(workspace, user_period(workspace, "7d", NOW))

    # learner-days with sessions in 03-24..03-30: today (2 sessions, 40 s), both on 03-25 (1, 60 s)
    # 3 sessions / 2 learner-days = 1.5 and 100 s / 3 = 33.33, whole numbers half up
    assert (engagement["pages_per_session"], engagement["average_session_duration"]) == (2, 33)
    assert engagement["bounce_rate"] == 0.5
    # both learners' first day is in the period: every learner-day is a new learner's
    assert engagement["by_user_type"] == {
        "new": {"session_duration": 33, "pages_per_session": 2},
        "returning": {"session_duration": 0, "pages_per_session": 0},
    }
    assert [hour["users"] for hour in engagement["by_time_of_day"] if hour["users"]] == [1, 1, 1]
    assert engagement["by_time_of_day"][20] == {"hour": 20, "users": 1, "engagement": 0.5}


def test_another_workspace_is_never_refreshed(workspace, learner):
    other = WorkspaceFactory()
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    PageSessionFactory(workspace=other, user=learner, started_at=at(3, 1))

    refresh_learner_days(other.pk, {(learner.pk, at(3, 1).date())})

    assert LearnerDay.objects.filter(workspace=workspace).count() == 1
    assert_rollup_is_recount()


def test_figures_of_periods_ending_today_equal_the_learner_day_recount(workspace, make_member, now, monkeypatch):
    """The fast paths (per-day totals and one row per learner) give the figures the learner-day
    path gives, on varied activity: gaps over each 63-day word of recent_days, every hour, several
    devices, new and returning learners, an instructor and a former learner."""
    import random

    rng = random.Random(7)
    course = CourseFactory(workspace=workspace)
    video = VideoFactory(course=course)
    people = [make_member(workspace) for _ in range(12)] + [make_member(workspace, Role.INSTRUCTOR)]
    for person in people:
        for _ in range(rng.randint(1, 14)):
            moment = NOW - timedelta(
                days=rng.choice(
                    [0, 1, 2, 5, 8, 13, 20, 29, 31, 45, 59, 62, 64, 80, 100, 125, 127, 150, 170, 188, 189, 200, 260]
                ),
                hours=rng.randint(0, 23),
            )
            PageSessionFactory(
                workspace=workspace,
                user=person,
                started_at=moment,
                duration_s=rng.randint(1, 600),
                device=rng.choice(["", "desktop", "mobile", "tablet"]),
            )
            if rng.random() < 0.3:
                LearningEventFactory(course=course, user=person, occurred_at=moment, type="posted_forum")
            if rng.random() < 0.5:
                VideoViewFactory(
                    video=video,
                    user=person,
                    started_at=moment + timedelta(minutes=5),
                    watched_s=rng.randint(0, 300),
                    is_completed=rng.random() < 0.4,
                )
    people[0].memberships.update(role=Role.INSTRUCTOR)
    call_command("rebuild_learner_activity")

    # The video summary's totals (every user's views, from the per-day totals) against the rows
    for name in ("1d", "7d", "30d", "90d", "all"):
        period = resolve_period(name, NOW, earliest=lambda: min(VideoView.objects.values_list("started_at", flat=True)))
        views = VideoView.objects.filter(started_at__gte=period.start, started_at__lt=period.end)
        summary = video_summary(workspace, video_period(workspace, name, NOW), compare=True)
        assert summary["total_views"] == views.count()
        assert summary["total_watch_time"] == sum(views.values_list("watched_s", flat=True))
        previous = VideoView.objects.filter(started_at__gte=period.previous.start, started_at__lt=period.start)
        assert summary["previous"]["total_views"] == previous.count()

    def figures(name):
        period = user_period(workspace, name, NOW)
        return user_analytics(workspace, period), user_engagement(workspace, period)

    fast = {name: figures(name) for name in ("1d", "7d", "30d", "90d", "all")}
    monkeypatch.setattr(activity, "has_days_from", lambda workspace, day: True)
    slow = {name: figures(name) for name in ("1d", "7d", "30d", "90d", "all")}

    assert fast == slow
    # the data reaches the branches: returning learners, churn, a learner of every hour
    assert fast["90d"][0]["growth"]["returning_users"] > 0
    assert any(analytics["growth"]["churn_rate"] for analytics, _ in fast.values())
    assert fast["all"][1]["by_time_of_day"][0]["users"] and fast["all"][1]["by_time_of_day"][23]["users"]


def test_deleting_a_user_takes_their_days_out_of_the_totals(workspace, learner, make_member):
    other = make_member(workspace)
    course = CourseFactory(workspace=workspace)
    for person in (learner, other):
        PageSessionFactory(workspace=workspace, user=person, started_at=at(3, 1), duration_s=10)
        VideoViewFactory(video=VideoFactory(course=course), user=person, started_at=at(3, 1), watched_s=7)

    learner.delete()

    days, spans, totals = assert_rollup_is_recount()
    assert list(spans) == [(workspace.pk, other.pk)]
    march1 = totals[(workspace.pk, at(3, 1).date())]
    assert (march1["page_seconds"], march1["watch_seconds"]) == (10, 7)


def test_deleting_a_workspace_deletes_its_rollups(workspace, learner):
    course = CourseFactory(workspace=workspace)
    PageSessionFactory(workspace=workspace, user=learner, started_at=at(3, 1))
    VideoViewFactory(video=VideoFactory(course=course), user=learner, started_at=at(3, 2))

    workspace.delete()

    assert stored() == ({}, {}, {})
    assert not WorkspaceDay.objects.exists()


# --- Heartbeats: a re-sent session whose duration only grows (one UPDATE on PostgreSQL) ------------


def heartbeat_figures(workspace, learner):
    """(duration stored, the learner's day: sessions, seconds, desktop, mobile, tablet; the
    workspace's day: sessions, seconds; the learner's span seconds)."""
    day = LearnerDay.objects.get(workspace=workspace, user=learner)
    totals = WorkspaceDay.objects.get(workspace=workspace, day=at(3, 1).date())
    return (
        PageSession.objects.get(user=learner).duration_s,
        (day.page_sessions, day.page_seconds, day.desktop_sessions, day.mobile_sessions, day.tablet_sessions),
        (totals.page_sessions, totals.page_seconds),
        LearnerActivity.objects.get(workspace=workspace, user=learner).page_seconds,
    )


def assert_every_rollup_checks(workspace):
    assert [check.differences for check in check_rollups(workspace.pk).rollups if check.differences] == []


def test_heartbeats_keep_every_rollup_exact_and_a_shorter_one_changes_nothing(workspace, learner, bearer_client):
    course = CourseFactory(workspace=workspace, key="course-v1:Acme+H1+2026")
    client = bearer_client(learner, workspace)
    item = session_item(path=f"/player/{course.key}", startedAt="2026-03-01T09:30:00Z", device="mobile")
    answers = []
    # 45: a late retry of an older heartbeat; the last re-send leaves the device out (kept).
    for fields in ({"duration": 30}, {"duration": 60}, {"duration": 45}, {"duration": 120, "device": None}):
        sent = {**item, **fields}
        sent = {name: value for name, value in sent.items() if value is not None}
        body = client.post("/api/track/page-sessions", sent, format="json").json()
        answers.append((body["created"], body["updated"], body["unchanged"]))

    assert answers == [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0)]
    assert heartbeat_figures(workspace, learner) == (120, (1, 120, 0, 1, 0), (1, 120), 120)
    assert PageSession.objects.get().course_id == course.pk
    assert [(week.course_id, week.any) for week in CourseActivityWeek.objects.all()] == [(course.pk, 1)]
    assert_every_rollup_checks(workspace)


def test_a_resend_with_another_device_moves_the_session_between_device_counts(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    item = session_item(startedAt="2026-03-01T09:30:00Z", duration=30, device="mobile")
    client.post("/api/track/page-sessions", item, format="json")

    body = client.post("/api/track/page-sessions", {**item, "duration": 50, "device": "tablet"}, format="json").json()

    assert body["updated"] == 1
    assert heartbeat_figures(workspace, learner) == (50, (1, 50, 0, 0, 1), (1, 50), 50)
    assert PageSession.objects.get().device == "tablet"
    assert_every_rollup_checks(workspace)


def test_a_heartbeat_sent_by_another_learner_with_the_same_fields_is_refused(
    workspace, learner, make_member, bearer_client
):
    other = make_member(workspace, Role.LEARNER, email="other@acme.test")
    item = session_item(startedAt="2026-03-01T09:30:00Z", duration=30)
    bearer_client(learner, workspace).post("/api/track/page-sessions", item, format="json")

    response = bearer_client(other, workspace).post(
        "/api/track/page-sessions", {**item, "duration": 999}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "id", "reason": "is already used by another record"}]
    assert heartbeat_figures(workspace, learner) == (30, (1, 30, 0, 0, 0), (1, 30), 30)
    assert not LearnerDay.objects.filter(user=other).exists()
    assert_every_rollup_checks(workspace)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent transactions: PostgreSQL")
def test_concurrent_heartbeats_of_one_session_keep_the_largest_duration_once(workspace, learner, bearer_client):
    item = session_item(startedAt="2026-03-01T09:30:00Z", duration=10)
    bearer_client(learner, workspace).post("/api/track/page-sessions", item, format="json")
    errors, durations = [], [40, 100, 70, 20, 90, 60, 30, 80]
    start = threading.Barrier(len(durations))

    def send(duration):
        try:
            client = bearer_client(learner, workspace)
            start.wait()
            response = client.post("/api/track/page-sessions", {**item, "duration": duration}, format="json")
            assert response.status_code == 200, response.content
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(duration,)) for duration in durations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # No device sent: the session counts in no device's column.
    assert heartbeat_figures(workspace, learner) == (100, (1, 100, 0, 0, 0), (1, 100), 100)
    assert_every_rollup_checks(workspace)
