"""A learner's erasure (issue 22): the person who is a member of both workspaces of the isolation
world (tests/hardening/isolation_world.py, `sam@shared.test`) is erased from workspace A; A's
answers show nothing of them and count only A's other learner, B keeps everything, and the
rollups agree with a rebuild."""

import json
from urllib.parse import unquote, urlencode

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from accounts.models import CustomFieldValue, LearnerGroup, Membership, Role, User
from analytics.models import (
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    ProblemLearnerLatest,
    ProblemPartLatest,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
    VideoReaction,
    VideoView,
    XapiDocument,
    XapiStatement,
    XapiStatementRelation,
)
from analytics.rollups.check import check_rollups
from analytics.services.course_info_rollups import refresh_stale_courses
from courses.models import Attempt, Enrollment, Result
from exports.models import ExportJob, ExportStatus
from privacy import services
from privacy.models import ErasureJob, ErasureStatus
from tests.hardening.isolation_world import (
    SHARED_COURSE,
    SHARED_EMAIL,
    SHARED_PROBLEM,
    SHARED_SUBSECTION,
    SHARED_VIDEO,
    xapi_statement,
)
from tests.hardening.test_tenant_isolation import MATRIX, V360, XAPI_VERSION, _client_with, world  # noqa: F401

pytestmark = pytest.mark.django_db

PERSON_MODELS = (
    PageSession,
    LearningEvent,
    VideoView,
    VideoReaction,
    Enrollment,
    Attempt,
    Result,
    ProblemResponse,
    SubsectionOpen,
    ProblemPartLatest,
    ProblemLearnerLatest,
    SubsectionLearner,
    LearnerDay,
    LearnerActivity,
    Membership,
)
SHARED_AGENT = {"mbox": f"mailto:{SHARED_EMAIL}"}


def _person_rows(workspace, user):
    return {model.__name__: model.objects.filter(workspace=workspace, user=user).count() for model in PERSON_MODELS}


def _xapi_extras(a):
    """In A: a statement of the other learner naming the person as context instructor, and the
    person's state document and agent profile."""
    client = _client_with("api_key", a, Role.ADMIN)
    _, statement = xapi_statement("alphaxapi", a.users["other"].email)
    statement["context"] = {"instructor": SHARED_AGENT}
    assert client.post("/xapi/statements", statement, format="json", **XAPI_VERSION).status_code == 200
    headers = {**XAPI_VERSION, "HTTP_IF_NONE_MATCH": "*"}
    agent = json.dumps(SHARED_AGENT)
    state = urlencode({"activityId": "http://alphaxapi.example.com/activity", "agent": agent, "stateId": "s1"})
    profile = urlencode({"agent": agent, "profileId": "p1"})
    for path in (f"/xapi/activities/state?{state}", f"/xapi/agents/profile?{profile}"):
        assert client.put(path, {"x": 1}, format="json", **headers).status_code == 204


@pytest.fixture
def erasure_world(world):  # noqa: F811 (the fixture imported above)
    a, b = world
    _xapi_extras(a)
    return a, b


def _erase(a, capture):
    subject = services.find_subject(a.workspace, email=SHARED_EMAIL)
    job, _ = services.request_erasure(a.workspace, subject, "api_key:test")
    with capture(execute=True):
        services.run_erasure(job.pk)
    job.refresh_from_db()
    return job


# Rows of the person in A (isolation_world: 2 of each activity kind, one reaction, enrollment,
# attempt, answer and open; xAPI: their own statement and the one naming them as instructor).
EXPECTED_COUNTS = {
    "page_sessions": 2,
    "learning_events": 3,  # and the one their xAPI statement was mapped to
    "video_views": 2,
    "video_reactions": 1,
    "attempts": 1,
    "enrollments": 1,
    "problem_responses": 1,
    "subsection_opens": 1,
    "xapi_statements": 2,
    "xapi_documents": 2,
    "profile_values": 0,  # their custom field value is B's
    "group_memberships": 1,
    "courses_taught": 0,
    "memberships": 1,
    "export_files": 5,  # A's: the person's, the other learner's, instructor's, admin's, the report
}


def test_erasure_sent_through_the_api_runs_the_task_and_is_recorded(
    erasure_world, api_key_client, django_capture_on_commit_callbacks
):
    a, b = erasure_world
    shared = a.users["learner"]
    client = _client_with("api_key", a, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/privacy/erasures", {"email": SHARED_EMAIL.upper()}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and response["Location"].endswith(f"/api/privacy/erasures/{body['id']}")

    job = client.get(f"/api/privacy/erasures/{body['id']}").json()
    assert job["status"] == "done" and job["tries"] == 1 and job["finishedAt"]
    counts = {kind: number for kind, number in job["counts"].items() if kind != "xapi_statement_relations"}
    assert counts == EXPECTED_COUNTS
    assert job["requestedBy"].startswith("api_key:")
    # The record kept holds nothing of the person.
    record = ErasureJob.objects.get(public_id=body["id"])
    assert record.subject == {}
    stored = json.dumps([getattr(record, f.attname) for f in ErasureJob._meta.concrete_fields], default=str).lower()
    assert SHARED_EMAIL not in stored and shared.public_id not in stored


def test_nothing_of_the_person_remains_in_the_workspace_and_the_other_keeps_everything(
    erasure_world, django_capture_on_commit_callbacks
):
    a, b = erasure_world
    shared = a.users["learner"]
    b_before = _person_rows(b.workspace, shared)
    b_statements = XapiStatement.objects.filter(workspace=b.workspace).count()
    assert all(b_before[name] for name in ("PageSession", "Enrollment", "ProblemResponse", "LearnerDay"))
    assert _person_rows(a.workspace, shared)["PageSession"] == 2

    _erase(a, django_capture_on_commit_callbacks)

    assert set(_person_rows(a.workspace, shared).values()) == {0}
    assert _person_rows(b.workspace, shared) == b_before
    assert not LearnerGroup.members.through.objects.filter(learnergroup=a.group, user=shared).exists()
    assert LearnerGroup.members.through.objects.filter(learnergroup=b.group, user=shared).exists()
    assert CustomFieldValue.objects.filter(user=shared).count() == 1  # B's
    # The user row stays (B's member), unchanged.
    assert User.objects.filter(pk=shared.pk, email=SHARED_EMAIL).exists()
    # xAPI: no statement of A names them (actor or instructor), nor a relation row; B's untouched.
    keys = ["mailto:" + SHARED_EMAIL]
    assert not XapiStatement.objects.filter(workspace=a.workspace, actor_key__in=keys).exists()
    assert not XapiStatementRelation.objects.filter(workspace=a.workspace, key__in=keys).exists()
    assert XapiStatement.objects.filter(workspace=b.workspace).count() == b_statements
    assert not XapiDocument.objects.filter(workspace=a.workspace, agent_key__in=keys).exists()
    assert XapiDocument.objects.filter(workspace=b.workspace).count() == 3
    # Export files: A's deleted and marked expired; B's kept.
    for job in [a.export, a.export_other, *a.staff_exports, a.report]:
        stored_name = job.file_name
        job.refresh_from_db()
        assert job.status == ExportStatus.EXPIRED and job.file_name == "" and not default_storage.exists(stored_name)
    assert b.export.file_name and default_storage.exists(b.export.file_name)
    assert ExportJob.objects.get(pk=b.export.pk).status == ExportStatus.COMPLETED


def test_rollups_agree_with_a_rebuild_after_the_erasure(erasure_world, django_capture_on_commit_callbacks):
    a, b = erasure_world
    _erase(a, django_capture_on_commit_callbacks)
    for workspace in (a.workspace, b.workspace):
        result = check_rollups(workspace.pk)
        assert result.ok, result
    # Course information: stale courses read raw rows until refreshed; once refreshed, still clean.
    refresh_stale_courses()
    result = check_rollups(a.workspace.pk)
    assert result.ok and not any(each.is_stale for each in result.rollups), result


def test_a_user_without_another_workspace_is_deleted(erasure_world, django_capture_on_commit_callbacks):
    a, b = erasure_world
    other = a.users["other"]
    subject = services.find_subject(a.workspace, user_public_id=other.public_id)
    job, _ = services.request_erasure(a.workspace, subject, "api_key:test")
    with django_capture_on_commit_callbacks(execute=True):
        services.run_erasure(job.pk)
    job.refresh_from_db()
    assert job.counts["users"] == 1 and job.counts["page_sessions"] == 2
    assert not User.objects.filter(pk=other.pk).exists()
    assert check_rollups(a.workspace.pk).ok


def test_api_families_show_nothing_of_the_person_and_count_the_remaining_rows(
    erasure_world, django_capture_on_commit_callbacks
):
    a, b = erasure_world
    shared = a.users["learner"]
    _erase(a, django_capture_on_commit_callbacks)
    refresh_stale_courses()
    admin = _client_with("api_key", a, Role.ADMIN)
    markers = {SHARED_EMAIL, shared.public_id, "sam shared"}
    leaks = []
    # Every read of every API family in the isolation matrix (paths naming the person aside).
    for route, calls in MATRIX.items():
        for call in calls(a, b):
            if call.method != "get" or call.auth or call.addresses_b or SHARED_EMAIL in unquote(call.path):
                continue
            response = admin.get(call.path, **call.headers)
            content = b"".join(response.streaming_content) if response.streaming else response.content
            body = content.decode("utf-8", "replace").lower()
            leaks += [f"{call.path}: {marker}" for marker in markers if marker.lower() in body]
            assert response.status_code < 500, call.path
    assert leaks == []

    # Exact figures: one learner (the other) remains. Hand numbers, and a recount of raw rows.
    remaining_sessions = PageSession.objects.filter(workspace=a.workspace).count()
    remaining_views = VideoView.objects.filter(workspace=a.workspace, video__key=SHARED_VIDEO).count()
    assert (remaining_sessions, remaining_views) == (2, 2)
    enrollment = admin.get(f"/api/v0/courses/{SHARED_COURSE}/enrollment/").json()
    assert enrollment[-1]["count"] == Enrollment.objects.filter(workspace=a.workspace).count() == 1
    video = admin.get(f"/analytics/videos/{SHARED_VIDEO}?period=7d").json()["data"]
    assert video["views"]["total"] == remaining_views
    users = admin.get("/analytics/users?period=7d").json()["data"]
    assert users["activity"]["sessions"]["total"] == remaining_sessions
    statistics = admin.post("/analyse/statistics", {}, format="json").json()
    assert statistics["total"] == Attempt.objects.filter(workspace=a.workspace).count() == 1
    groups = admin.get("/analyse/groups").json()["results"]
    assert [(g["name"], g["membersCount"]) for g in groups] == [("Sales", 1)]
    assert len(admin.get("/api/v2/courses/stats", **V360).json()) == 1
    answers = admin.get(f"/api/v0/problems/{SHARED_PROBLEM}/answer_distribution/").json()
    assert [row["count"] for row in answers] == [1]
    opens = admin.get(f"/api/v0/problems/{SHARED_SUBSECTION}/sequential_open_distribution/").json()
    assert [row["count"] for row in opens] == [1]
    segments = admin.get(f"/api/v0/videos/{SHARED_COURSE}|{SHARED_VIDEO}/timeline/").json()
    assert [(row["segment"], row["num_views"], row["num_users"]) for row in segments[:3]] == [
        (0, 2, 1),
        (1, 2, 1),
        (2, 2, 1),
    ]
    # xAPI: the person's statements, agent and state are gone.
    agent = json.dumps(SHARED_AGENT)
    statements = admin.get(f"/xapi/statements?{urlencode({'agent': agent})}", **XAPI_VERSION).json()
    assert statements["statements"] == []
    related = urlencode({"agent": agent, "related_agents": "true"})
    assert admin.get(f"/xapi/statements?{related}", **XAPI_VERSION).json()["statements"] == []
    state = urlencode({"activityId": "http://alphaxapi.example.com/activity", "agent": agent, "stateId": "s1"})
    assert admin.get(f"/xapi/activities/state?{state}", **XAPI_VERSION).status_code == 404
    # The person's own credential for A no longer works (their membership is gone).
    learner_client = _client_with("bearer", a, Role.LEARNER)
    assert learner_client.get("/api/user/analytics").status_code in (401, 403)


def test_an_erasure_failing_midway_is_finished_by_a_retry(
    erasure_world, monkeypatch, django_capture_on_commit_callbacks
):
    a, b = erasure_world
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    calls = []

    def fail_after_first_batch(job, counted):
        calls.append(counted)
        if len(calls) == 1:
            raise RuntimeError("worker lost")

    monkeypatch.setattr(services, "after_batch", fail_after_first_batch)
    subject = services.find_subject(a.workspace, email=SHARED_EMAIL)
    job, _ = services.request_erasure(a.workspace, subject, "api_key:test")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.run_erasure(job.pk)
    job.refresh_from_db()
    assert job.status == ErasureStatus.RUNNING and job.counts == {"page_sessions": 1}
    assert "worker lost" in job.error and job.subject  # kept for the retry
    assert check_rollups(a.workspace.pk).ok  # the committed batch kept them right

    with django_capture_on_commit_callbacks(execute=True):
        services.run_erasure(job.pk)
    job.refresh_from_db()
    assert job.status == ErasureStatus.DONE and job.tries == 2 and job.subject == {}
    counts = {kind: number for kind, number in job.counts.items() if kind != "xapi_statement_relations"}
    assert counts == EXPECTED_COUNTS  # nothing counted twice
    assert set(_person_rows(a.workspace, a.users["learner"]).values()) == {0}
    assert check_rollups(a.workspace.pk).ok
    # A finished job run again does nothing.
    services.run_erasure(job.pk)
    job.refresh_from_db()
    assert job.tries == 2


def test_repeated_request_answers_the_queued_job(erasure_world, monkeypatch):
    from privacy import tasks

    a, b = erasure_world
    monkeypatch.setattr(tasks.run_erasure, "apply_async", lambda *args, **kwargs: None)  # stays queued
    client = _client_with("api_key", a, Role.ADMIN)
    first = client.post("/api/privacy/erasures", {"email": SHARED_EMAIL}, format="json")
    second = client.post("/api/privacy/erasures", {"userId": a.users["learner"].public_id}, format="json")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and ErasureJob.objects.count() == 1


def test_erasure_by_xapi_agent_account_finds_the_mapped_user(erasure_world, django_capture_on_commit_callbacks):
    a, b = erasure_world
    client = _client_with("api_key", a, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/privacy/erasures", {"agent": SHARED_AGENT}, format="json")
    assert response.status_code == 202
    job = ErasureJob.objects.get(public_id=response.json()["id"])
    assert job.status == ErasureStatus.DONE and job.counts["page_sessions"] == 2
    assert not Membership.objects.filter(workspace=a.workspace, user=a.users["learner"]).exists()


def test_unknown_person_is_404_and_nothing_is_done(erasure_world):
    a, b = erasure_world
    client = _client_with("api_key", a, Role.ADMIN)
    for body in (
        {"email": "nobody@acme.test"},
        {"email": "zed@bravo.test"},  # B's member only
        {"userId": b.users["only"].public_id},
        {"userId": "0" * 24},
        {"agent": {"account": {"homePage": "https://lms.example.com", "name": "ghost"}}},
    ):
        response = client.post("/api/privacy/erasures", body, format="json")
        assert response.status_code == 404, (body, response.content)
        assert "detail" in response.json()
    assert ErasureJob.objects.count() == 0
    assert Membership.objects.filter(user=b.users["only"]).exists()


@pytest.mark.parametrize(
    ("kind", "role"),
    [("api_key", Role.LEARNER), ("bearer", Role.LEARNER), ("api_key", Role.INSTRUCTOR), ("session", Role.INSTRUCTOR)],
)
def test_learner_and_instructor_credentials_are_refused(erasure_world, kind, role):
    a, b = erasure_world
    client = _client_with(kind, a, role)
    response = client.post("/api/privacy/erasures", {"email": SHARED_EMAIL}, format="json")
    assert response.status_code == 403
    assert ErasureJob.objects.count() == 0


def test_admin_session_may_erase(erasure_world):
    a, b = erasure_world
    client = _client_with("session", a, Role.ADMIN)
    response = client.post("/api/privacy/erasures", {"email": a.users["other"].email}, format="json")
    assert response.status_code == 202
    assert response.json()["requestedBy"] == f"user:{a.users['admin'].public_id}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"email": SHARED_EMAIL, "userId": "x"}, "non_field_errors"),
        ({"email": "not an email"}, "email"),
        ({"mail": SHARED_EMAIL}, "mail"),
        ({"userId": ""}, "userId"),
        ({"agent": "sam"}, "agent"),
        ({"agent": {"mbox": "sam@shared.test"}}, "agent.mbox"),
        ({"agent": {"mbox": f"mailto:{SHARED_EMAIL}", "openid": "https://id.example.com/sam"}}, "agent"),
        ({"agent": {"account": {"name": "sam"}}}, "agent.account.homePage"),
        ({"agent": {"mbox": f"mailto:{SHARED_EMAIL}", "colour": "red"}}, "agent.colour"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(erasure_world, body, field):
    a, b = erasure_world
    client = _client_with("api_key", a, Role.ADMIN)
    response = client.post("/api/privacy/erasures", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors and all(isinstance(messages, list) for messages in errors.values()), errors
    assert ErasureJob.objects.count() == 0


def test_another_workspaces_job_is_404(erasure_world):
    a, b = erasure_world
    subject = services.find_subject(b.workspace, email=SHARED_EMAIL)
    job, _ = services.request_erasure(b.workspace, subject, "api_key:bravo")
    client = _client_with("api_key", a, Role.ADMIN)
    assert client.get(f"/api/privacy/erasures/{job.public_id}").status_code == 404
    assert client.get("/api/privacy/erasures/era_unknown").status_code == 404


def test_erase_user_command_erases_synchronously_with_progress(erasure_world, django_capture_on_commit_callbacks):
    from io import StringIO

    a, b = erasure_world
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_user", "--workspace", "alpha", SHARED_EMAIL, stdout=out)
    text = out.getvalue()
    assert "page_sessions: 2 removed" in text and ": done (" in text
    assert set(_person_rows(a.workspace, a.users["learner"]).values()) == {0}
    with pytest.raises(Exception, match="nothing done"):
        call_command("erase_user", "--workspace", "alpha", "nobody@acme.test", stdout=StringIO())


def test_admin_lists_jobs_read_only_without_personal_data(erasure_world, client, django_capture_on_commit_callbacks):
    a, b = erasure_world
    job = _erase(a, django_capture_on_commit_callbacks)
    staff = User.objects.create_superuser("root@example.test", "pw")
    client.force_login(staff)
    listing = client.get("/admin/privacy/erasurejob/")
    assert listing.status_code == 200 and job.public_id in listing.content.decode()
    detail = client.get(f"/admin/privacy/erasurejob/{job.pk}/change/")
    assert detail.status_code == 200 and SHARED_EMAIL not in detail.content.decode()
    assert client.get("/admin/privacy/erasurejob/add/").status_code == 403


def test_attachments_only_the_persons_statements_named_are_deleted(erasure_world, django_capture_on_commit_callbacks):
    import uuid

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from analytics.models import XapiAttachment

    a, b = erasure_world
    own, shared_bytes = "a" * 64, "b" * 64

    def statement(actor, sha2s):
        body = {"actor": {"mbox": f"mailto:{actor}"}, "attachments": [{"sha2": sha2} for sha2 in sha2s]}
        return XapiStatement.objects.create(
            id=uuid.uuid4(),
            workspace=a.workspace,
            statement=body,
            verb_id="http://adlnet.gov/expapi/verbs/experienced",
            actor_key=f"mailto:{actor}",
            timestamp=timezone.now(),
        )

    statement(SHARED_EMAIL, [own, shared_bytes])
    kept_statement = statement(a.users["other"].email, [shared_bytes])
    for sha2 in (own, shared_bytes):
        XapiAttachment.objects.create(
            workspace=a.workspace, sha2=sha2, content_type="text/plain", length=1, file=ContentFile(b"x", name="x.txt")
        )
    own_file = XapiAttachment.objects.get(sha2=own).file.name

    job = _erase(a, django_capture_on_commit_callbacks)

    assert job.counts["xapi_attachments"] == 1
    assert list(XapiAttachment.objects.filter(workspace=a.workspace).values_list("sha2", flat=True)) == [shared_bytes]
    assert not default_storage.exists(own_file)
    assert XapiStatement.objects.filter(pk=kept_statement.pk).exists()


def test_an_erasure_that_cannot_be_queued_is_503_and_marked_failed(erasure_world, monkeypatch):
    from kombu.exceptions import OperationalError as BrokerError

    from privacy import tasks

    a, b = erasure_world

    def broker_down(*args, **kwargs):
        raise BrokerError("connection refused")

    monkeypatch.setattr(tasks.run_erasure, "apply_async", broker_down)
    client = _client_with("api_key", a, Role.ADMIN)
    response = client.post("/api/privacy/erasures", {"email": SHARED_EMAIL}, format="json")
    assert response.status_code == 503 and "nothing was done" in response.json()["detail"]
    assert ErasureJob.objects.get().status == ErasureStatus.FAILED
    assert Membership.objects.filter(workspace=a.workspace, user=a.users["learner"]).exists()


def test_dashboards_show_nothing_of_the_person_after_the_erasure(erasure_world, django_capture_on_commit_callbacks):
    a, _ = erasure_world
    client = _client_with("session", a, Role.ADMIN)
    paths = [
        "/dashboards/?wait=1",
        "/dashboards/courses/?wait=1",
        f"/dashboards/courses/{SHARED_COURSE}/?wait=1",
        "/dashboards/results/?wait=1",
        f"/dashboards/videos/{SHARED_VIDEO}/?wait=1",
    ]
    markers = (SHARED_EMAIL, "Sam Shared")

    def shown():
        found = set()
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            found |= {marker for marker in markers if marker in response.content.decode()}
        return found

    assert shown()  # before: the pages name them (and cache their sections)
    _erase(a, django_capture_on_commit_callbacks)
    assert shown() == set()
