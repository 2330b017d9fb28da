"""A task travels through Redis to a real worker process (not eager) and does its work."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from analytics.models import RequestMetric
from config.celery import app as celery_app
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
PROJECT_DIR = Path(__file__).resolve().parent.parent
# A queue of this test run's own, so that no other worker on the same Redis takes its tasks.
QUEUE = f"test-worker-{os.getpid()}"


def redis_is_up():
    import redis

    try:
        return redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        return False


def database_url_for_worker():
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def redis_worker():
    if not redis_is_up():
        skip_or_fail(f"Redis is not reachable at {BROKER_URL}")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE, "-n", f"{QUEUE}@%h"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    previous = dict(celery_app.conf)
    celery_app.conf.update(
        broker_url=BROKER_URL, result_backend=BROKER_URL, task_always_eager=False
    )
    try:
        yield worker
    finally:
        celery_app.conf.update(
            broker_url=previous["broker_url"],
            result_backend=previous["result_backend"],
            task_always_eager=True,
        )
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_worker_on_redis_purges_old_request_metrics(redis_worker):
    from analytics.tasks import purge_request_metrics

    now = timezone.now()
    for days_ago in (40, 35, 31, 29, 1):
        RequestMetric.objects.create(
            at=now - timedelta(days=days_ago), method="GET", endpoint="/api/me/", status=200, latency_ms=3
        )

    started = time.monotonic()
    result = purge_request_metrics.apply_async(kwargs={"keep_days": 30}, queue=QUEUE)
    deleted = result.get(timeout=60)

    assert deleted == 3
    assert RequestMetric.objects.count() == 2
    assert result.status == "SUCCESS"
    assert time.monotonic() - started < 60
