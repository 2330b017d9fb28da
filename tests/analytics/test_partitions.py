"""Monthly partitions of the raw activity tables on PostgreSQL (analytics.services.partitions,
migration analytics 0021): made by the migration and ahead by the beat, a row of a month without
a partition is kept in DEFAULT and moved, identity by id still holds, retention drops whole
months."""

import uuid
from datetime import datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from accounts.models import Role
from analytics.models import PageSession, VideoView, XapiStatement, XapiStatementKey
from analytics.services import partitions
from analytics.services.partitions import add_months, ensure_month_partitions, existing_months, month_of
from analytics.services.records import upsert_page_sessions
from analytics.services.retention import prune_activity
from tests.factories import CourseFactory, PageSessionFactory, VideoFactory, VideoViewFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="partitions are PostgreSQL's; SQLite keeps plain tables"
    ),
]

OLD_MONTH = datetime(2019, 5, 17, 10, 0, tzinfo=timezone.utc)  # long before any partition


def partitions_of(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY 1",
            [table],
        )
        return dict(cursor.fetchall())


def rows_in(relation):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{relation}"')
        return cursor.fetchone()[0]


def make_months(*months, tables=("analytics_pagesession", "analytics_videoview")):
    for table in tables:
        column = "started_at"
        for month in months:
            partitions.create_partition(table, column, month_of(month))


@pytest.fixture(autouse=True)
def _fresh_known_months():
    partitions._known_months.clear()
    yield
    partitions._known_months.clear()


def test_the_migration_partitions_each_raw_table_by_month_with_the_id_and_time_as_key():
    current = month_of(datetime.now(timezone.utc))
    for label, column in partitions.PARTITIONED.items():
        table = label.split(".")[0] + "_" + label.split(".")[1].lower()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
                "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                "WHERE p.partrelid = %s::regclass",
                [table],
            )
            assert cursor.fetchone() == ("r", column)
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [table],
            )
            assert cursor.fetchone()[0] == f"PRIMARY KEY (id, {column})"
        names = partitions_of(table)
        assert f"{table}_default" in names and names[f"{table}_default"] == "DEFAULT"
        for ahead in range(partitions.MONTHS_AHEAD + 1):
            month = add_months(current, ahead)
            following = add_months(month, 1)
            assert names[f"{table}_p{month:%Y%m}"] == (
                f"FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00') TO ('{following:%Y-%m-%d} 00:00:00+00')"
            )


def test_partitions_are_made_ahead_and_the_command_reports_them():
    current = month_of(datetime.now(timezone.utc))
    out = StringIO()
    call_command("partitions", "--ahead", "5", stdout=out)
    for table in ("analytics_pagesession", "analytics_learningevent", "analytics_videoview", "analytics_xapistatement"):
        months = existing_months(table)
        assert {add_months(current, ahead) for ahead in range(6)} <= months
        assert f"{table}: {len(months)} month partitions; created {add_months(current, 4):%Y-%m}, " in out.getvalue()
    again = ensure_month_partitions(5)
    assert [report.created for report in again] == [[], [], [], []]


def test_a_row_of_a_month_without_partition_is_kept_then_moved_to_its_own(
    workspace, learner, django_capture_on_commit_callbacks
):
    session_id = uuid.uuid4()
    with django_capture_on_commit_callbacks() as callbacks:
        result = upsert_page_sessions(
            workspace,
            [
                {
                    "id": session_id,
                    "user_id": learner.pk,
                    "page": "p",
                    "path": "/p",
                    "started_at": OLD_MONTH,
                    "duration_s": 30,
                }
            ],
        )
    assert result.created == 1
    assert rows_in("analytics_pagesession_default") == 1  # kept, not refused
    assert len(callbacks) == 1  # the partitions' task is queued once the batch commits
    callbacks[0]()  # what the queued task runs (eager here)
    assert "analytics_pagesession_p201905" in partitions_of("analytics_pagesession")
    assert rows_in("analytics_pagesession_default") == 0
    assert rows_in("analytics_pagesession_p201905") == 1
    assert PageSession.objects.get(pk=session_id).duration_s == 30
    # The month is known now: a second row of it queues nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        upsert_page_sessions(
            workspace,
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": learner.pk,
                    "page": "p",
                    "path": "/p",
                    "started_at": OLD_MONTH + timedelta(days=1),
                    "duration_s": 5,
                }
            ],
        )
    assert callbacks == []
    assert rows_in("analytics_pagesession_p201905") == 2


def test_a_resent_session_whose_start_moves_to_another_month_stays_one_row(workspace, learner):
    make_months(OLD_MONTH, add_months(month_of(OLD_MONTH), 1))
    session_id = uuid.uuid4()
    row = {
        "id": session_id,
        "user_id": learner.pk,
        "page": "p",
        "path": "/p",
        "started_at": OLD_MONTH,
        "duration_s": 30,
    }
    upsert_page_sessions(workspace, [row])
    moved = OLD_MONTH + timedelta(days=20)  # June
    result = upsert_page_sessions(workspace, [{**row, "started_at": moved, "duration_s": 10}])
    assert (result.created, result.updated) == (0, 1)
    assert list(PageSession.objects.filter(pk=session_id).values_list("started_at", "duration_s")) == [(moved, 30)]
    assert rows_in("analytics_pagesession_p201905") == 0 and rows_in("analytics_pagesession_p201906") == 1


def test_a_resent_video_view_whose_start_moves_stays_one_row(workspace, learner):
    make_months(OLD_MONTH, add_months(month_of(OLD_MONTH), 1))
    video = VideoFactory(course=CourseFactory(workspace=workspace))
    view = VideoViewFactory(video=video, user=learner, started_at=OLD_MONTH, watched_s=40)
    from analytics.services.records import upsert_video_views

    moved = OLD_MONTH + timedelta(days=20)
    upsert_video_views(workspace, [{"id": view.pk, "user_id": learner.pk, "video_id": video.pk, "started_at": moved}])
    assert list(VideoView.objects.filter(pk=view.pk).values_list("started_at", "watched_s")) == [(moved, 40)]


def _statement(workspace, pk, stored):
    return XapiStatement(
        id=pk,
        workspace=workspace,
        statement={"id": str(pk)},
        verb_id="http://adlnet.gov/expapi/verbs/experienced",
        actor_key="mailto:a@example.org",
        timestamp=stored,
        stored=stored,
    )


def test_a_statement_id_is_stored_once_across_months_and_free_again_once_deleted(workspace):
    pk = uuid.uuid4()
    now = datetime.now(timezone.utc)
    _statement(workspace, pk, now).save(force_insert=True)
    assert XapiStatementKey.objects.filter(pk=pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        # Another month's partition would take it, were it not for the key table.
        _statement(workspace, pk, now - timedelta(days=45)).save(force_insert=True)
    assert XapiStatement.objects.filter(pk=pk).count() == 1
    XapiStatement.objects.filter(pk=pk).delete()
    assert not XapiStatementKey.objects.filter(pk=pk).exists()
    _statement(workspace, pk, now).save(force_insert=True)
    assert XapiStatement.objects.filter(pk=pk).count() == 1


@pytest.fixture
def old_month_world(workspace, other_workspace, make_member):
    """Two page sessions of `workspace` in May 2019 (its own month partition), one of it now."""
    make_months(OLD_MONTH)
    learner = make_member(workspace, Role.LEARNER, email="old@example.org")
    for day in (0, 1):
        PageSessionFactory(workspace=workspace, user=learner, started_at=OLD_MONTH + timedelta(days=day))
    PageSessionFactory(workspace=workspace, user=learner, started_at=datetime.now(timezone.utc))
    workspace.raw_activity_retention_days = 30
    workspace.save()
    return learner


def test_retention_drops_a_month_that_holds_only_expired_rows(workspace, old_month_world):
    [result] = prune_activity(workspace.slug)
    assert "analytics_pagesession_p201905" not in partitions_of("analytics_pagesession")
    assert result.deleted["analytics.PageSession"] == 2
    assert PageSession.objects.filter(workspace=workspace).count() == 1


def test_retention_keeps_a_month_that_holds_another_workspaces_rows(workspace, other_workspace, old_month_world):
    other_learner = old_month_world.__class__.objects.create_user(email="keep@example.org", password="x")
    PageSessionFactory(workspace=other_workspace, user=other_learner, started_at=OLD_MONTH)
    [result] = prune_activity(workspace.slug)
    assert "analytics_pagesession_p201905" in partitions_of("analytics_pagesession")
    assert result.deleted["analytics.PageSession"] == 2  # row by row
    assert rows_in("analytics_pagesession_p201905") == 1  # the other workspace's row
