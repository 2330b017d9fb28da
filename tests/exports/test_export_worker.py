"""Exports written by a real Celery worker on Redis, in every format, read back with each
format's own reader; their numbers equal the VideoCloud video endpoint's for the same period."""

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import openpyxl
import pyarrow.parquet as pq
import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role
from exports.models import ExportJob
from tests.factories import CourseFactory, VideoFactory, VideoReactionFactory, VideoViewFactory

pytestmark = pytest.mark.worker

TODAY_NOON = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)


def read_rows(export_format, content):
    """Rows of an export file as dicts of plain values."""
    if export_format == "csv":
        return [
            {**row, "views": int(row["views"]), "watchTime": int(row["watchTime"]), "likes": int(row["likes"])}
            for row in csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
        ]
    if export_format == "json":
        return json.loads(content)
    if export_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
        header, *values = list(sheet.iter_rows(values_only=True))
        # Excel has no date type of its own: a date cell reads back as midnight of that day.
        return [{**dict(zip(header, row)), "date": row[0].date().isoformat()} for row in values]
    table = pq.read_table(io.BytesIO(content))
    return [{**row, "date": row["date"].isoformat()} for row in table.to_pylist()]


@pytest.fixture
def video_world(workspace):
    course = CourseFactory(workspace=workspace)
    video = VideoFactory(course=course, key="intro-video")
    other = VideoFactory(course=course, key="second-video")
    for days_ago, watched in ((0, 30), (0, 50), (2, 100), (9, 999)):
        VideoViewFactory(video=video, started_at=TODAY_NOON - timedelta(days=days_ago), watched_s=watched)
    VideoViewFactory(video=other, started_at=TODAY_NOON, watched_s=5)
    VideoReactionFactory(video=video, type="like", at=TODAY_NOON - timedelta(days=2))
    return video


@pytest.mark.parametrize("export_format", ["csv", "json", "xlsx", "parquet"])
def test_worker_writes_video_export_matching_the_video_endpoint(redis_worker, workspace, video_world, export_format):
    api_key, raw_key = ApiKey.issue(workspace, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    job = ExportJob.objects.create(
        workspace=workspace,
        requested_by_key=api_key,
        requester_role=Role.ADMIN,
        type="video",
        period="7d",
        format=export_format,
    )

    assert redis_worker.send_task("exports.tasks.run_export", args=[job.pk]).get(timeout=90) == "completed"

    status = client.get(f"/analytics/export/{job.public_id}").json()["data"]
    content = b"".join(APIClient().get(status["downloadUrl"]).streaming_content)
    rows = [row for row in read_rows(export_format, content) if row["videoId"] == "intro-video"]
    api = client.get("/analytics/videos/intro-video?period=7d").json()["data"]
    api_days = {entry["date"]: entry["views"] for entry in api["views"]["timeline"] if entry["views"]}
    assert status["rowCount"] == 3
    assert {row["date"]: row["views"] for row in rows} == api_days
    assert sum(row["views"] for row in rows) == api["views"]["total"] == 3
    assert sum(row["watchTime"] for row in rows) == api["engagement"]["averageWatchTime"] * 3 == 180
    assert sum(row["likes"] for row in rows) == api["engagement"]["likes"] == 1
