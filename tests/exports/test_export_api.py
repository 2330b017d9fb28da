"""Export jobs over HTTP: create, follow, download, refuse."""

import csv
import dataclasses
import io
from datetime import datetime, timedelta, timezone

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from exports.models import ExportJob, ExportStatus
from exports.services import expire_exports
from tests.factories import CourseFactory, LearningEventFactory, PageSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    """The test's own "now", taken as it starts (a module constant is yesterday's once a run
    crosses midnight UTC, while the exports' periods end today)."""
    return datetime.now(timezone.utc)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """POST inside this context runs the queued export task (eagerly) when the request commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def start_export(client, run_on_commit, **body):
    with run_on_commit():
        response = client.post("/analytics/export", body, format="json")
    return response


def download_rows(url):
    response = APIClient().get(url)
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


def test_admin_exports_page_sessions_of_the_period_as_csv(workspace, learner, api_key_client, run_on_commit, now):
    inside = [
        PageSessionFactory(
            workspace=workspace, user=learner, page="Quiz", started_at=now - timedelta(days=d), duration_s=10 * d
        )
        for d in (1, 2, 3)
    ]
    PageSessionFactory(workspace=workspace, user=learner, started_at=now - timedelta(days=40))
    client = api_key_client(workspace)

    created = start_export(client, run_on_commit, type="page_sessions", period="7d", format="csv")

    assert created.status_code == 202
    export_id = created.json()["data"]["exportId"]
    status = client.get(f"/analytics/export/{export_id}").json()["data"]
    assert (status["status"], status["progress"], status["rowCount"]) == ("completed", 100, 3)
    rows = download_rows(status["downloadUrl"])
    expected = sorted(inside, key=lambda s: s.started_at)
    assert [row["id"] for row in rows] == [str(s.id) for s in expected]
    assert [int(row["duration"]) for row in rows] == [30, 20, 10]
    assert set(rows[0]) == {
        "id",
        "userEmail",
        "startedAt",
        "page",
        "path",
        "duration",
        "courseId",
        "chapterId",
        "device",
    }


def test_metrics_choose_the_column_groups(workspace, learner, api_key_client, run_on_commit):
    LearningEventFactory(course=CourseFactory(workspace=workspace), user=learner, type="posted_forum")
    client = api_key_client(workspace)

    export_id = start_export(
        client, run_on_commit, type="events", period="1d", format="csv", metrics=["events"]
    ).json()["data"]["exportId"]

    rows = download_rows(client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"])
    assert list(rows[0]) == ["id", "userEmail", "occurredAt", "type", "source"]
    assert rows[0]["type"] == "posted_forum"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"type": "nope"}, "ANALYTICS_INVALID_TYPE", "type"),
        ({"type": "events", "format": "pdf"}, "ANALYTICS_INVALID_FORMAT", "format"),
        ({"type": "events", "period": "2w"}, "ANALYTICS_INVALID_PERIOD", "period"),
        ({"type": "events", "metrics": ["events", "likes"]}, "ANALYTICS_INVALID_METRICS", "metrics"),
        ({"period": "7d"}, "ANALYTICS_INVALID_PARAMETER", "type"),
    ],
)
def test_bad_export_request_is_400_with_videocloud_code(workspace, api_key_client, body, code, field):
    response = api_key_client(workspace).post("/analytics/export", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (response.json()["success"], error["code"], error["field"]) == (False, code, field)
    assert ExportJob.objects.count() == 0


def test_learner_may_not_export_workspace_events(workspace, learner, bearer_client):
    response = bearer_client(learner, workspace).post("/analytics/export", {"type": "events"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ANALYTICS_FORBIDDEN"


def test_instructor_exports_only_their_courses(workspace, instructor, learner, bearer_client, run_on_commit):
    mine = CourseFactory(workspace=workspace)
    mine.instructors.add(instructor)
    kept = LearningEventFactory(course=mine, user=learner)
    LearningEventFactory(course=CourseFactory(workspace=workspace), user=learner)

    client = bearer_client(instructor, workspace)
    export_id = start_export(client, run_on_commit, type="events", period="7d").json()["data"]["exportId"]

    rows = download_rows(client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"])
    assert [row["id"] for row in rows] == [str(kept.id)]


def test_other_workspace_cannot_see_or_delete_a_job(workspace, other_workspace, api_key_client, run_on_commit):
    export_id = start_export(api_key_client(workspace), run_on_commit, type="events").json()["data"]["exportId"]
    stranger = api_key_client(other_workspace)

    assert stranger.get(f"/analytics/export/{export_id}").status_code == 404
    assert stranger.delete(f"/analytics/export/{export_id}").status_code == 404
    assert stranger.get("/analytics/export").json()["data"] == []
    assert ExportJob.objects.filter(public_id=export_id).exists()


def test_list_shows_the_callers_jobs_newest_first(workspace, api_key_client, run_on_commit):
    client = api_key_client(workspace)
    first = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    second = start_export(client, run_on_commit, type="page_sessions").json()["data"]["exportId"]
    start_export(api_key_client(workspace), run_on_commit, type="events")

    listed = [job["exportId"] for job in client.get("/analytics/export").json()["data"]]

    assert listed == [second, first]


def test_tampered_download_link_is_403(workspace, api_key_client, run_on_commit):
    client = api_key_client(workspace)
    export_id = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    url = client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"]

    response = APIClient().get(url[:-3] + "abc")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ANALYTICS_FORBIDDEN"


def test_link_of_one_export_does_not_open_another(workspace, api_key_client, run_on_commit):
    client = api_key_client(workspace)
    first = start_export(client, run_on_commit, type="events").json()["data"]
    second = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    token = client.get(f"/analytics/export/{first['exportId']}").json()["data"]["downloadUrl"].split("token=")[1]

    assert APIClient().get(f"/analytics/export/{second}/download?token={token}").status_code == 403


def test_expired_link_is_410_and_the_beat_task_removes_the_file(workspace, api_key_client, run_on_commit, monkeypatch):
    client = api_key_client(workspace)
    export_id = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    url = client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"]
    job = ExportJob.objects.get(public_id=export_id)
    later = job.expires_at + timedelta(seconds=1)
    monkeypatch.setattr("exports.services.timezone.now", lambda: later)

    assert APIClient().get(url).status_code == 410
    assert expire_exports() == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED
    assert not default_storage.exists(f"exports/{workspace.slug}/{export_id}.csv")


def test_delete_removes_a_finished_export_and_its_file(workspace, api_key_client, run_on_commit):
    client = api_key_client(workspace)
    export_id = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    name = ExportJob.objects.get(public_id=export_id).file_name
    assert default_storage.exists(name)

    response = client.delete(f"/analytics/export/{export_id}")

    assert response.json()["data"] == {"exportId": export_id, "status": "deleted"}
    assert not ExportJob.objects.filter(public_id=export_id).exists()
    assert not default_storage.exists(name)


def test_delete_cancels_a_queued_export(workspace, api_key_client):
    client = api_key_client(workspace)
    export_id = client.post("/analytics/export", {"type": "events"}, format="json").json()["data"]["exportId"]

    response = client.delete(f"/analytics/export/{export_id}")

    assert response.json()["data"]["status"] == "cancelled"
    assert ExportJob.objects.get(public_id=export_id).status == ExportStatus.CANCELLED


def test_a_failing_export_is_marked_failed_with_its_error(workspace, api_key_client, run_on_commit, monkeypatch):
    def broken_rows(*args):
        raise RuntimeError("disk on fire")

    from exports import sources

    monkeypatch.setitem(sources.SOURCES, "events", dataclasses.replace(sources.SOURCES["events"], rows=broken_rows))
    client = api_key_client(workspace)

    with pytest.raises(RuntimeError):
        start_export(client, run_on_commit, type="events")

    job = ExportJob.objects.get()
    assert (job.status, job.error, job.file_name) == ("failed", "RuntimeError: disk on fire", "")


def test_a_failed_export_is_reported_with_the_documented_code(workspace, api_key_client, run_on_commit, monkeypatch):
    def broken_rows(*args):
        raise RuntimeError("disk on fire")

    from exports import sources

    monkeypatch.setitem(sources.SOURCES, "events", dataclasses.replace(sources.SOURCES["events"], rows=broken_rows))
    client = api_key_client(workspace)
    with pytest.raises(RuntimeError):
        start_export(client, run_on_commit, type="events")
    export_id = ExportJob.objects.get().public_id

    data = client.get(f"/analytics/export/{export_id}").json()["data"]
    download = APIClient().get(data["downloadUrl"])

    assert (data["status"], data["error"]) == (
        "failed",
        {"code": "ANALYTICS_EXPORT_FAILED", "message": "RuntimeError: disk on fire"},
    )
    assert download.status_code == 410
    assert download.json()["error"] == {
        "code": "ANALYTICS_EXPORT_FAILED",
        "message": "The export failed: RuntimeError: disk on fire",
    }


ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def test_creation_answers_processing_with_the_link_and_its_expiry(workspace, api_key_client):
    response = api_key_client(workspace).post("/analytics/export", {"type": "events", "period": "7d"}, format="json")

    data = response.json()["data"]
    job = ExportJob.objects.get()
    assert response.status_code == 202
    assert data["status"] == "processing"  # queued: the document's word
    assert data["downloadUrl"].startswith(f"http://testserver/analytics/export/{job.public_id}/download?token=")
    created = datetime.strptime(data["createdAt"], ISO_Z).replace(tzinfo=timezone.utc)
    expires = datetime.strptime(data["expiresAt"], ISO_Z).replace(tzinfo=timezone.utc)
    assert created == job.created_at.replace(microsecond=0)
    assert expires - created == timedelta(hours=24)  # EXPORT_TTL_HOURS


def test_the_link_answers_202_with_retry_after_until_the_file_is_written(workspace, api_key_client):
    from exports.services import run_export_job

    PageSessionFactory(workspace=workspace)
    url = (
        api_key_client(workspace)
        .post("/analytics/export", {"type": "page_sessions"}, format="json")
        .json()["data"]["downloadUrl"]
    )

    pending = APIClient().get(url)
    run_export_job(ExportJob.objects.get().pk)
    ready = APIClient().get(url)

    assert (pending.status_code, pending["Retry-After"]) == (202, "5")
    assert pending.json()["data"]["status"] == "processing"
    assert ready.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(b"".join(ready.streaming_content).decode("utf-8-sig"))))) == 1


def test_times_are_in_the_documents_style(workspace, api_key_client, run_on_commit):
    client = api_key_client(workspace)
    export_id = start_export(client, run_on_commit, type="events").json()["data"]["exportId"]
    job = ExportJob.objects.get(public_id=export_id)
    ExportJob.objects.filter(pk=job.pk).update(
        created_at=datetime(2024, 3, 31, 12, 0, 0, 123456, tzinfo=timezone.utc),
        expires_at=datetime(2024, 4, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
    )

    data = client.get(f"/analytics/export/{export_id}").json()["data"]

    assert (data["createdAt"], data["expiresAt"]) == ("2024-03-31T12:00:00Z", "2024-04-01T12:00:00Z")


def test_learner_exports_their_own_daily_activity(workspace, learner, make_member, bearer_client, run_on_commit, now):
    course = CourseFactory(workspace=workspace)
    day1 = now.replace(hour=10) - timedelta(days=2)
    day2 = now.replace(hour=10) - timedelta(days=1)
    PageSessionFactory(workspace=workspace, user=learner, started_at=day1, duration_s=30)
    PageSessionFactory(workspace=workspace, user=learner, started_at=day1 + timedelta(hours=1), duration_s=45)
    LearningEventFactory(course=course, user=learner, occurred_at=day1)
    LearningEventFactory(course=course, user=learner, occurred_at=day2)
    from tests.factories import VideoViewFactory

    VideoViewFactory(video__course=course, user=learner, started_at=day2, watched_s=100)
    other = make_member(workspace)
    PageSessionFactory(workspace=workspace, user=other, started_at=day1, duration_s=999)
    client = bearer_client(learner, workspace)

    export_id = start_export(client, run_on_commit, type="user", period="7d").json()["data"]["exportId"]

    status = client.get(f"/analytics/export/{export_id}").json()["data"]
    rows = download_rows(status["downloadUrl"])
    assert status["rowCount"] == 2
    assert rows == [
        {
            "date": day1.date().isoformat(),
            "userId": learner.public_id,
            "userEmail": learner.email,
            "pageSessions": "2",
            "pageTime": "75",
            "events": "1",
            "videoViews": "0",
            "watchTime": "0",
        },
        {
            "date": day2.date().isoformat(),
            "userId": learner.public_id,
            "userEmail": learner.email,
            "pageSessions": "0",
            "pageTime": "0",
            "events": "1",
            "videoViews": "1",
            "watchTime": "100",
        },
    ]


def test_attempts_export_has_the_rows_of_the_v2_course_stats_api(workspace, api_key_client, run_on_commit):
    from tests.factories import AttemptFactory

    course = CourseFactory(workspace=workspace)
    for progress in (10, 55, 100):
        AttemptFactory(course=course, progress=progress, score=progress // 2, time_spent_s=progress * 3)
    client = api_key_client(workspace)
    api_rows = client.get("/api/v2/courses/stats", HTTP_360_API_VERSION="v2.0").json()

    export_id = start_export(client, run_on_commit, type="attempts", period="all").json()["data"]["exportId"]

    rows = download_rows(client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"])
    assert [
        (r["_id"], r["courseId"], r["userId"], int(r["progress"]), int(r["score"]), int(r["timeSpent"])) for r in rows
    ] == [(a["_id"], a["courseId"], a["userId"], a["progress"], a["score"], a["timeSpent"]) for a in api_rows]


def test_results_export_applies_the_analyse_filters(workspace, learner, api_key_client, run_on_commit):
    from tests.factories import AttemptFactory, EnrollmentFactory

    course = CourseFactory(workspace=workspace)
    AttemptFactory(course=course, state="APPROVED", progress=100)
    AttemptFactory(course=course, state="IN_PROGRESS", progress=40)
    EnrollmentFactory(course=course, user=learner)
    client = api_key_client(workspace)
    filters = {"states": ["APPROVED", "NOT_STARTED"]}
    api_rows = client.post("/analyse/results", {"filters": filters}, format="json").json()["results"]

    export_id = start_export(client, run_on_commit, type="results", period="all", filters=filters).json()["data"][
        "exportId"
    ]

    rows = download_rows(client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"])
    assert sorted((r["id"], r["state"], int(r["progress"])) for r in rows) == sorted(
        (r["id"], r["state"], r["progress"]) for r in api_rows
    )
    assert len(rows) == 2


def test_results_export_with_bad_filter_names_its_path(workspace, api_key_client):
    response = api_key_client(workspace).post(
        "/analytics/export", {"type": "results", "filters": {"states": ["APPROVED", "DONE"]}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "filters.states[1]"


def test_instructor_may_not_export_attempts(workspace, instructor, bearer_client):
    response = bearer_client(instructor, workspace).post("/analytics/export", {"type": "attempts"}, format="json")

    assert response.status_code == 403


def test_course_export_has_the_enrollment_and_activity_numbers_of_the_course_info_api(
    workspace, learner, api_key_client, run_on_commit, now
):
    from tests.factories import EnrollmentFactory

    course = CourseFactory(workspace=workspace, key="course-v1:Org+Export+2026")
    today = now.date()
    for days_ago in (3, 1, 1):
        EnrollmentFactory(course=course, enrolled_at=now.replace(hour=9) - timedelta(days=days_ago))
    LearningEventFactory(course=course, user=learner, type="posted_forum", occurred_at=now - timedelta(days=1))
    client = api_key_client(workspace)
    start = today - timedelta(days=6)
    api_days = client.get(f"/api/v0/courses/{course.key}/enrollment/", {"start_date": start.isoformat()}).json()
    api_weeks = client.get(
        f"/api/v0/courses/{course.key}/activity/",
        {"start_date": (start - timedelta(days=start.weekday())).isoformat() + "T000000"},
    ).json()

    export_id = start_export(client, run_on_commit, type="course", period="7d").json()["data"]["exportId"]

    rows = download_rows(client.get(f"/analytics/export/{export_id}").json()["data"]["downloadUrl"])
    assert [(r["date"], int(r["enrolled"])) for r in rows] == [(d["date"], d["count"]) for d in api_days]
    assert len(rows) == 7
    week_of = {w["interval_start"][:10]: w for w in api_weeks}
    for row in rows:
        day = datetime.fromisoformat(row["date"]).date()
        week = week_of[(day - timedelta(days=day.weekday())).isoformat()]
        assert (int(row["activeLearners"]), int(row["postedForum"])) == (week["any"], week["posted_forum"])
    assert int(rows[-2]["postedForum"]) == 1  # yesterday's forum post, in yesterday's week
