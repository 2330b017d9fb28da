"""Redis down: an export answers 503 quickly with a clear message and leaves no job behind, while
reads keep answering with the right numbers; a Redis cache that is down degrades to misses.

"Down" is a closed port on the loopback: the connection is refused, as when Redis is stopped."""

import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.core.cache import caches

from accounts.models import Role
from config.availability import FailSoftRedisCache
from config.celery import app as celery_app
from exports.models import ExportJob
from tests.factories import CourseFactory, VideoFactory, VideoViewFactory

TODAY_NOON = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)


def closed_port():
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_down(monkeypatch):
    """The project's Celery app publishing to a Redis that refuses connections (not eager)."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {"socket_connect_timeout": 1})
    # Kombu keeps connection and producer pools per broker URL: new ones for this URL, the
    # project's own put back afterwards.
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    return url


@pytest.fixture
def watched_video(workspace):
    video = VideoFactory(course=CourseFactory(workspace=workspace), key="intro-video")
    for days_ago, watched in ((0, 30), (1, 50), (2, 100)):
        VideoViewFactory(video=video, started_at=TODAY_NOON - timedelta(days=days_ago), watched_s=watched)
    return video


@pytest.mark.django_db(transaction=True)  # the task is queued when the job commits
def test_export_answers_503_and_leaves_no_job_while_reads_still_answer(
    broker_down, workspace, watched_video, api_key_client
):
    client = api_key_client(workspace, Role.ADMIN)

    started = time.monotonic()
    response = client.post("/analytics/export", {"type": "video", "period": "7d", "format": "csv"}, format="json")
    elapsed_s = time.monotonic() - started
    video = client.get("/analytics/videos/intro-video", {"period": "7d"})
    listing = client.get("/analytics/export")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "ANALYTICS_SERVICE_UNAVAILABLE"
    assert "(the task queue is unreachable); nothing was created" in response.json()["error"]["message"]
    assert elapsed_s < 10, "the publish retries are bounded"
    assert ExportJob.objects.count() == 0
    assert listing.status_code == 200 and listing.json()["data"] == []
    assert video.status_code == 200
    assert video.json()["data"]["views"]["total"] == 3
    assert video.json()["data"]["engagement"]["averageWatchTime"] == 60  # (30 + 50 + 100) / 3


def test_fail_soft_cache_misses_instead_of_raising_when_redis_is_down():
    cache = FailSoftRedisCache(
        f"redis://127.0.0.1:{closed_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )

    assert cache.get("k", "fallback") == "fallback"
    assert cache.set("k", 1) is None
    assert cache.add("k", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.incr("n", 3) == 3
    assert cache.delete("k") is False


@pytest.mark.django_db
def test_reads_and_throttles_keep_working_with_the_redis_cache_down(settings, workspace, watched_video, api_key_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.availability.FailSoftRedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    client = api_key_client(workspace, Role.ADMIN)

    responses = [client.get("/analytics/videos/intro-video", {"period": "7d"}) for _ in range(2)]

    assert isinstance(caches["default"], FailSoftRedisCache)
    assert [response.status_code for response in responses] == [200, 200]
    assert [response.json()["data"]["views"]["total"] for response in responses] == [3, 3]
