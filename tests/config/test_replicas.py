"""Read replicas (config/replicas.py): which database each read goes to.

A "replica" here is a second connection to the test database itself (as TEST MIRROR would give),
registered at run time, so that the queries each alias ran can be counted; lag and a lost server
are simulated at the points where the code learns of them.
"""

import copy
import logging

import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.credentials import Credential
from accounts.models import Role
from analytics.queries.sql import fetch_dicts
from config import replicas
from courses.models import Attempt, Course
from exports.models import ExportJob, ExportStatus
from exports.services import create_export_job
from tests.factories import AttemptFactory, CourseFactory

REPLICA = "replica_1"
STATS = "/api/v2/courses/stats"
VERSION = {"360-api-version": "v2.0"}

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def _register(alias, **changes):
    """A database alias registered when this module is collected, before the test databases are
    set up, so that the test runner points it at the test database (TEST MIRROR) and tests may
    allow it. Nothing reads it unless a test names it in REPLICA_ALIASES."""
    database = copy.deepcopy(connections.settings["default"])
    database.update(changes, TEST={"MIRROR": "default"})
    connections.settings[alias] = database
    settings.DATABASES[alias] = database


_register(REPLICA)


@pytest.fixture(autouse=True)
def _replica_configured(settings):
    settings.DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"]
    replicas.forget_health()
    yield
    connections[REPLICA].close()
    replicas.forget_health()


@pytest.fixture
def replica(settings):
    """Reads may go to a replica that reaches the test database."""
    settings.REPLICA_ALIASES = [REPLICA]
    return REPLICA


@pytest.fixture
def unreachable_replica(settings, monkeypatch):
    """A replica whose server does not answer."""
    settings.REPLICA_ALIASES = [REPLICA]

    def refuse():
        raise OperationalError("connection to server at 127.0.0.1, port 1 failed: Connection refused")

    monkeypatch.setattr(connections[REPLICA], "ensure_connection", refuse)
    monkeypatch.setattr(replicas, "replica_lag_s", lambda alias: refuse())
    return REPLICA


@pytest.fixture
def stats_world(workspace, api_key_client):
    """Two courses with 3 and 1 attempts; an admin API key client."""
    first, second = CourseFactory(workspace=workspace), CourseFactory(workspace=workspace)
    for _ in range(3):
        AttemptFactory(course=first)
    AttemptFactory(course=second)
    return api_key_client(workspace, Role.ADMIN)


def _stats(client):
    response = client.get(STATS, headers=VERSION)
    assert response.status_code == 200, response.content
    return response.json()


def test_without_replicas_reads_use_the_primary():
    assert replicas.replica_aliases() == []
    assert replicas.usable_replica() is None
    with replicas.replica_reads() as alias:
        assert alias is None
        assert replicas.read_alias() == "default"


def test_read_request_runs_its_reads_on_the_replica_with_the_same_answer(
    stats_world, replica, workspace, api_key_client
):
    expected = _stats(stats_world)
    client = api_key_client(workspace, Role.ADMIN)  # a new key: its first use reads the database
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        answer = _stats(client)
    assert answer == expected
    assert any("courses_attempt" in query["sql"] for query in on_replica.captured_queries)
    assert not any("courses_" in query["sql"] for query in on_primary.captured_queries)
    # The credential (accounts) is read from the primary: a new key works at once.
    assert any("accounts_apikey" in query["sql"] for query in on_primary.captured_queries)
    assert not any("accounts_apikey" in query["sql"] for query in on_replica.captured_queries)


def test_write_request_never_touches_the_replica(workspace, learner, bearer_client, replica):
    client = bearer_client(learner, workspace)
    CourseFactory(workspace=workspace, key="course-v1:Acme+AN101+2026")
    session = {
        "id": "4f6c1b1e-8a51-4a4e-9a9c-1f1f7f7f0001",
        "page": "Course Player",
        "path": "/player/course-v1:Acme+AN101+2026",
        "startedAt": "2026-03-01T09:30:00Z",
        "duration": 30,
    }
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.post("/api/track/page-sessions", session, format="json")
    assert response.json()["created"] == 1
    assert on_replica.captured_queries == []


def test_lagging_replica_is_skipped_until_it_catches_up(stats_world, replica, monkeypatch, settings):
    settings.REPLICA_MAX_LAG_S = 30
    settings.REPLICA_CHECK_S = 0  # check at every read, so the test sees each change at once
    lag = {"s": 45.0}
    monkeypatch.setattr(replicas, "replica_lag_s", lambda alias: lag["s"])
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        _stats(stats_world)
    assert on_replica.captured_queries == []
    assert replicas.replica_health(REPLICA).lag_s == 45.0

    lag["s"] = 0.5
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        _stats(stats_world)
    assert on_replica.captured_queries != []


def test_health_is_checked_at_most_every_check_interval(replica, monkeypatch, settings):
    settings.REPLICA_CHECK_S = 5
    checks = []
    monkeypatch.setattr(replicas, "replica_lag_s", lambda alias: checks.append(alias) or 0.0)
    for now in (100.0, 101.0, 104.9):
        assert replicas.replica_health(REPLICA, now=now).is_usable
    assert checks == [REPLICA]
    replicas.replica_health(REPLICA, now=105.0)
    assert checks == [REPLICA, REPLICA]


def test_unreachable_replica_is_a_warning_and_reads_use_the_primary(stats_world, unreachable_replica, caplog):
    with caplog.at_level(logging.WARNING, logger="config.replicas"):
        replicas.warn_unreachable_replicas()  # what start-up does: no exception
        answer = _stats(stats_world)
    assert len(answer) == Attempt.objects.count() == 4
    assert replicas.replica_health(unreachable_replica).is_usable is False
    assert any("unreachable" in record.getMessage() for record in caplog.records)


def test_replica_lost_during_a_request_is_answered_again_from_the_primary(stats_world, replica):
    expected = _stats(stats_world)  # a first read also opens the replica's connection

    def lose_connection(execute, sql, params, many, context):
        raise OperationalError("terminating connection due to administrator command")

    connections[REPLICA].execute_wrappers.append(lose_connection)
    try:
        answer = _stats(stats_world)
    finally:
        connections[REPLICA].execute_wrappers.remove(lose_connection)
    assert answer == expected
    assert replicas.replica_health(REPLICA).is_usable is False


def test_replica_lost_after_its_check_is_answered_again_from_the_primary(stats_world, replica, monkeypatch):
    """The server goes away just after the request checked the connection: the view's first
    cursor fails in Django's `_cursor`, outside every execute wrapper, and the request is still
    answered from the primary."""
    expected = _stats(stats_world)  # opens the replica's connection

    class WatchAfterTheServerWentAway(replicas._FailureWatch):
        def __init__(self):
            super().__init__()
            connections[REPLICA].connection.close()  # the socket is gone; Django does not know yet

    monkeypatch.setattr(replicas, "_FailureWatch", WatchAfterTheServerWentAway)
    answer = _stats(stats_world)
    assert answer == expected
    assert replicas.replica_health(REPLICA).is_usable is False


def test_reads_inside_a_transaction_on_the_primary_stay_on_the_primary(replica):
    with replicas.replica_reads(REPLICA):
        assert replicas.read_alias() == REPLICA
        with transaction.atomic():
            assert replicas.read_alias() == "default"
        with replicas.primary_reads():
            assert replicas.read_alias() == "default"
    assert replicas.read_alias() == "default"


def test_models_read_back_after_writing_stay_on_the_primary(workspace, replica):
    router = replicas.ReplicaRouter()
    with replicas.replica_reads(REPLICA):
        assert router.db_for_read(ExportJob) == "default"
        assert router.db_for_read(Course) == REPLICA
        assert router.db_for_write(Course) == "default"
    assert router.allow_migrate(REPLICA, "courses") is False
    assert router.allow_migrate("default", "courses") is True


def test_lrs_reads_stay_on_the_primary(workspace, api_key_client, replica):
    client = api_key_client(workspace, Role.ADMIN)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        client.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
    assert on_replica.captured_queries == []


def test_export_rows_are_read_from_the_replica(workspace, admin_user, replica):
    course = CourseFactory(workspace=workspace)
    for _ in range(2):
        AttemptFactory(course=course)
    credential = Credential(workspace=workspace, role=Role.ADMIN, kind="session", user=admin_user)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        job = create_export_job(credential, "attempts", "all", [], "json", {})  # runs it (eager)
    job.refresh_from_db()
    assert job.status == ExportStatus.COMPLETED
    assert job.row_count == 2
    assert on_replica.captured_queries != []
    assert not any("exports_exportjob" in query["sql"] for query in on_replica.captured_queries)


def test_hand_written_read_sql_follows_the_same_choice(replica):
    with replicas.replica_reads(REPLICA), CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert fetch_dicts("SELECT 41 + 1 AS answer", []) == [{"answer": 42}]
    assert [query["sql"] for query in on_replica.captured_queries] == ["SELECT 41 + 1 AS answer"]
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        fetch_dicts("SELECT 1 AS one", [])  # outside: the primary
    assert on_replica.captured_queries == []


def test_video_cloud_users_raw_sql_reads_the_replica(workspace, api_key_client, replica):
    client = api_key_client(workspace, Role.ADMIN)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.get("/analytics/users?period=7d")
    assert response.status_code == 200, response.content
    assert any("analytics_learneractivity" in query["sql"] for query in on_replica.captured_queries)
