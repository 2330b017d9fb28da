"""A worker killed (SIGKILL, as by the OOM killer or a lost machine) in the middle of an export
leaves a job that another worker runs again to the end: the task is acknowledged late, so Redis
gives it to the next worker once the visibility timeout has passed, and the job restarts from
row 0 with a fresh file."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from celery import Celery
from django.core.files.storage import default_storage

from accounts.models import Role
from exports.models import ExportJob, ExportStatus
from tests.conftest import skip_or_fail
from tests.factories import PageSessionFactory
from tests.worker import BROKER_URL, PROJECT_DIR, database_url_for_worker, redis_is_up, wait_until_ready

pytestmark = pytest.mark.worker

QUEUE = f"test-worker-killed-{os.getpid()}"
SESSIONS = 9  # written 2 per batch with a 1 s pause: about 5 s of export
NOW = datetime.now(timezone.utc)


def start_slow_worker(name):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SLOW_EXPORT_BATCH_ROWS": "2",
        "SLOW_EXPORT_PAUSE_S": "1",
        "SLOW_EXPORT_VISIBILITY_S": "3",
    }
    log_path = Path(tempfile.gettempdir()) / f"{QUEUE}-{name}.log"
    log = open(log_path, "wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.slow_export_worker",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            QUEUE,
            "-n",
            f"{name}-{QUEUE}@%h",
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_until_ready(worker, log_path)
    return worker, log, log_path


def stop(worker, log):
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    log.close()


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout_s} s waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_export_killed_mid_file_is_delivered_again_and_completes(workspace, make_member):
    if not redis_is_up():
        skip_or_fail(f"Redis is not reachable at {BROKER_URL}")
    learner = make_member(workspace, Role.LEARNER)
    for minutes in range(SESSIONS):
        PageSessionFactory(
            user=learner,
            workspace=workspace,
            started_at=NOW - timedelta(hours=1, minutes=minutes),
            duration_s=10 + minutes,
        )
    job = ExportJob.objects.create(
        workspace=workspace, requester_role=Role.ADMIN, type="page_sessions", period="7d", format="json"
    )
    client = Celery("test-client", broker=BROKER_URL, backend=BROKER_URL, set_as_current=False)
    client.conf.task_default_queue = QUEUE
    first, first_log, first_log_path = start_slow_worker("first")
    second = second_log = None
    try:
        client.send_task("exports.tasks.run_export", args=[job.pk])
        wait_for(
            lambda: ExportJob.objects.filter(pk=job.pk, status=ExportStatus.PROCESSING, row_count__gte=2).exists(),
            60,
            "the first batch",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = ExportJob.objects.get(pk=job.pk)

        second, second_log, _ = start_slow_worker("second")
        done = wait_for(
            lambda: ExportJob.objects.filter(pk=job.pk, status=ExportStatus.COMPLETED).first(),
            60,
            "the export to complete",
        )
    finally:
        client.close()
        stop(first, first_log)
        if second is not None:
            stop(second, second_log)

    rows = json.loads(default_storage.open(done.file_name).read())
    assert (killed.status, killed.tries, killed.file_name) == (ExportStatus.PROCESSING, 1, "")
    assert 2 <= killed.row_count < SESSIONS
    assert done.tries == 2
    assert done.row_count == len(rows) == SESSIONS
    assert sorted(row["duration"] for row in rows) == [10 + minutes for minutes in range(SESSIONS)]
    assert first_log_path.exists()
