"""A real Celery worker on Redis for tests (not eager)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from celery import Celery
from tests.conftest import skip_or_fail

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
PROJECT_DIR = Path(__file__).resolve().parent.parent
# A queue of this test run's own, so that no other worker on the same Redis takes its tasks.
WORKER_QUEUE = f"test-worker-{os.getpid()}"


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


WORKER_START_TIMEOUT_S = 120


def wait_until_ready(worker, log_path):
    """Block until the worker logs that it is ready (a loaded machine can take a while)."""
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail("The Celery worker exited:\n" + log_path.read_text(errors="replace")[-4000:])
        if " ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    pytest.fail(f"The Celery worker was not ready after {WORKER_START_TIMEOUT_S} s")


@pytest.fixture
def redis_worker(transactional_db):
    """A real Celery worker process on Redis, consuming WORKER_QUEUE against the test database.

    Yields a Celery client app: `redis_worker.send_task("app.tasks.name", kwargs={...})` returns an
    AsyncResult to `.get()`. Tests using it need committed data (transactional_db), which this
    fixture asks for."""
    if not redis_is_up():
        skip_or_fail(f"Redis is not reachable at {BROKER_URL}")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    log_path = Path(tempfile.gettempdir()) / f"{WORKER_QUEUE}.log"
    log = open(log_path, "wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            WORKER_QUEUE,
            "-n",
            f"{WORKER_QUEUE}@%h",
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # A Celery app of the test's own to send with, so that the project app's cached broker
    # connection and result backend (eager in tests) are left untouched.
    client = Celery("test-client", broker=BROKER_URL, backend=BROKER_URL, set_as_current=False)
    client.conf.task_default_queue = WORKER_QUEUE
    try:
        wait_until_ready(worker, log_path)
        yield client
    finally:
        client.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        print(f"Celery worker log: {log_path}\n" + log_path.read_text(errors="replace")[-4000:])
