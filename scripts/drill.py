"""Fault drill (`make drill`): three faults on the real stack, end to end, with numbers.

1. PostgreSQL restarted (crash: `pg_ctl -m immediate`) while clients send tracking batches to
   gunicorn (2 workers). Clients re-send a batch on a 503 or a connection error, with the same
   item ids. Afterwards: items acknowledged (a 200 whose `accepted` counts the whole batch) must
   equal the rows stored, as sets of ids.
2. Redis down (broker and cache on a closed port): creating an export answers 503 quickly and
   creates no job; reads answer 200 with the same bodies as a server whose Redis is fine.
3. A Celery worker SIGKILLed in the middle of an export: a second worker gets the task again
   (acks_late; the visibility timeout is shortened for the drill) and completes the job with every
   row.

Everything runs on a private PostgreSQL cluster under var/drill/ (never the machine's shared
server, which others use) on 127.0.0.1; drill 3 also needs Redis (CELERY_TEST_BROKER_URL,
default redis://127.0.0.1:6379/15) and uses a queue of its own.

    python scripts/drill.py [--clients 8] [--batch 20] [--before-s 10] [--after-s 15]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.faultlib import (  # noqa: E402
    PROJECT_DIR,
    PYTHON,
    Gunicorn,
    PrivateCluster,
    free_port,
    load_average,
    manage,
    service_env,
)

DRILL_DIR = PROJECT_DIR / "var" / "drill"
DATABASE = "la_drill"
REDIS_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def post_json(url, body, headers, timeout_s=30):
    """(status, parsed body or None, Retry-After or None); status 0 for a connection error."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"null"), None
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            parsed = json.loads(payload or b"null")
        except ValueError:
            parsed = None
        return error.code, parsed, error.headers.get("Retry-After")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None, None


def get(url, headers, timeout_s=30):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class TrackingClient(threading.Thread):
    """Sends batches of new page sessions; re-sends a batch (same ids) until it is acknowledged.

    Waits the server's Retry-After, capped at `max_wait_s` so that the drill measures the outage
    finely (a real client may wait the full delay)."""

    def __init__(self, base_url, api_key, emails, batch, stop_at, stats, max_wait_s=1.0):
        super().__init__(daemon=True)
        self.url = f"{base_url}/api/track/page-sessions"
        self.headers = {"Authorization": f"Api-Key {api_key}"}
        self.emails, self.batch, self.stop_at, self.stats, self.max_wait_s = emails, batch, stop_at, stats, max_wait_s
        self.acked_ids = []
        self.failures = []  # (monotonic time, status)
        self.successes = []  # monotonic times
        self.retries = 0
        self.sent_items = 0

    def make_batch(self, number):
        now = datetime.now(timezone.utc)
        return [
            {
                "id": str(uuid.uuid4()),
                "user": self.emails[(number + index) % len(self.emails)],
                "page": "Course Player",
                "path": "/player/drill",
                "startedAt": (now - timedelta(seconds=index)).isoformat(),
                "duration": 5 + index,
            }
            for index in range(self.batch)
        ]

    def run(self):
        number = 0
        while time.monotonic() < self.stop_at:
            items = self.make_batch(number)
            number += 1
            self.sent_items += len(items)
            give_up_at = time.monotonic() + 120
            while True:
                status, body, retry_after = post_json(self.url, items, self.headers)
                if status == 200 and body and body.get("accepted") == len(items):
                    self.acked_ids.extend(item["id"] for item in items)
                    self.successes.append(time.monotonic())
                    break
                self.failures.append((time.monotonic(), status))
                if status not in (0, 502, 503, 504) or time.monotonic() > give_up_at:
                    self.stats.setdefault("unexpected", []).append((status, body))
                    break
                self.retries += 1
                wait_s = float(retry_after) if retry_after else 0.2
                time.sleep(min(wait_s, self.max_wait_s))


def setup_django(database_url):
    os.environ.update(service_env(database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(env):
    """Migrations and the tiny demo workspace; returns (workspace, admin api key, learner emails)."""
    manage(env, "migrate", "--noinput")
    manage(env, "generate_demo_data", "--size", "tiny", "--replace")
    from accounts.models import ApiKey, Membership, Role, Workspace

    workspace = Workspace.objects.get(slug="demo")
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name="drill")
    emails = list(
        Membership.objects.filter(workspace=workspace, role=Role.LEARNER)
        .order_by("user__email")
        .values_list("user__email", flat=True)[:20]
    )
    return workspace, raw_key, emails


def drill_database_restart(cluster, server, api_key, emails, args):
    from django.db import connection

    from analytics.models import PageSession

    connection.close()
    baseline = set(PageSession.objects.filter(path="/player/drill").values_list("id", flat=True))
    connection.close()
    stats = {}
    started = time.monotonic()
    stop_at = started + args.before_s + args.after_s
    clients = [
        TrackingClient(server.base_url, api_key, emails, args.batch, stop_at, stats) for _ in range(args.clients)
    ]
    for client in clients:
        client.start()
    time.sleep(args.before_s)
    restart_at = time.monotonic()
    restart_s = cluster.restart(args.restart_mode)
    for client in clients:
        client.join(timeout=240)

    connection.close()
    stored = set(str(pk) for pk in PageSession.objects.filter(path="/player/drill").values_list("id", flat=True))
    stored -= {str(pk) for pk in baseline}
    acked = [item for client in clients for item in client.acked_ids]
    failures = sorted(failure for client in clients for failure in client.failures)
    after_restart = [moment for client in clients for moment in client.successes if moment > restart_at]
    first_failure = failures[0][0] if failures else None
    first_success_after = min((m for m in after_restart if first_failure is None or m > first_failure), default=None)
    statuses = {}
    for _, status in failures:
        statuses[status] = statuses.get(status, 0) + 1
    result = {
        "clients": args.clients,
        "batch": args.batch,
        "restart_mode": args.restart_mode,
        "items_sent": sum(client.sent_items for client in clients),
        "items_acknowledged": len(acked),
        "acknowledged_distinct": len(set(acked)),
        "rows_stored": len(stored),
        "acknowledged_not_stored": len(set(acked) - stored),
        "stored_not_acknowledged": len(stored - set(acked)),
        "failed_attempts_by_status": {("connection error" if s == 0 else str(s)): n for s, n in statuses.items()},
        "retries": sum(client.retries for client in clients),
        "pg_ctl_restart_s": round(restart_s, 2),
        "client_outage_s": round(first_success_after - first_failure, 2)
        if first_failure and first_success_after
        else 0,
        "unexpected_answers": stats.get("unexpected", [])[:5],
        "duration_s": round(time.monotonic() - started, 1),
    }
    result["ok"] = (
        result["items_acknowledged"] == result["rows_stored"] == result["acknowledged_distinct"]
        and not result["acknowledged_not_stored"]
        and not result["stored_not_acknowledged"]
        and not result["unexpected_answers"]
    )
    return result


def drill_redis_down(database_url, healthy, api_key):
    from django.db import connection

    from exports.models import ExportJob

    closed = free_port()
    env = service_env(
        database_url,
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/0",
        CACHE_URL=f"redis://127.0.0.1:{closed}/1",
    )
    server = Gunicorn(env, free_port(), workers=2, log_path=DRILL_DIR / "gunicorn-redis-down.log")
    headers = {"Authorization": f"Api-Key {api_key}"}
    try:
        connection.close()
        jobs_before = ExportJob.objects.count()
        started = time.monotonic()
        status, body, retry_after = post_json(
            f"{server.base_url}/analytics/export", {"type": "video", "period": "30d", "format": "csv"}, headers
        )
        export_s = time.monotonic() - started
        jobs_after = ExportJob.objects.count()
        reads = {}
        for path in (
            "/analytics/videos/summary?period=30d",
            "/api/v2/courses/stats",
            "/analyse/groups",
            "/analytics/export",
        ):
            extra = {"360-api-version": "v2.0"} if path.startswith("/api/v2") else {}
            down_status, down_body = get(server.base_url + path, {**headers, **extra})
            ok_status, ok_body = get(healthy.base_url + path, {**headers, **extra})
            reads[path] = {
                "status": down_status,
                "same_body_as_healthy_server": down_body == ok_body,
                "healthy_status": ok_status,
            }
    finally:
        server.stop()
    result = {
        "export_status": status,
        "export_retry_after": retry_after,
        "export_error": (body or {}).get("error"),
        "export_answer_s": round(export_s, 2),
        "export_jobs_created": jobs_after - jobs_before,
        "reads": reads,
    }
    result["ok"] = (
        status == 503
        and retry_after == "5"
        and jobs_after == jobs_before
        and all(read["status"] == 200 and read["same_body_as_healthy_server"] for read in reads.values())
    )
    return result


def start_slow_worker(env, name, queue):
    log_path = DRILL_DIR / f"worker-{name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "tests.reliability.slow_export_worker",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"{name}-{queue}@%h",
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while " ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} did not start; see {log_path}")
        time.sleep(0.2)
    return process


def drill_worker_killed(database_url, workspace):
    import redis
    from celery import Celery
    from django.core.files.storage import default_storage
    from django.db import connection

    from accounts.models import Role
    from exports.models import ExportJob, ExportStatus

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        return {"ok": None, "skipped": f"Redis is not reachable at {REDIS_URL}"}
    queue = f"drill-{os.getpid()}"
    env = service_env(
        database_url,
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        SLOW_EXPORT_BATCH_ROWS="200",
        SLOW_EXPORT_PAUSE_S="0.5",
        SLOW_EXPORT_VISIBILITY_S="5",
    )
    connection.close()
    job = ExportJob.objects.create(
        workspace=workspace, requester_role=Role.ADMIN, type="page_sessions", period="90d", format="json"
    )
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    os.environ.update(CELERY_BROKER_URL=REDIS_URL, CELERY_RESULT_BACKEND=REDIS_URL)
    client = Celery("drill-client", broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    client.conf.task_default_queue = queue
    first = start_slow_worker(env, "first", queue)
    second = None
    try:
        client.send_task("exports.tasks.run_export", args=[job.pk])
        deadline = time.monotonic() + 120
        while not ExportJob.objects.filter(pk=job.pk, row_count__gte=600).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the export did not start")
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        killed = ExportJob.objects.get(pk=job.pk)
        second = start_slow_worker(env, "second", queue)
        second_ready_s = time.monotonic() - killed_at
        deadline = time.monotonic() + 180
        while not ExportJob.objects.filter(pk=job.pk, status=ExportStatus.COMPLETED).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the export did not complete after the kill")
            time.sleep(0.2)
        recovered_s = time.monotonic() - killed_at
    finally:
        client.close()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    done = ExportJob.objects.get(pk=job.pk)
    rows = json.loads(default_storage.open(done.file_name).read())
    result = {
        "rows_expected": killed.rows_expected,
        "rows_written_when_killed": killed.row_count,
        "status_when_killed": killed.status,
        "tries": done.tries,
        "rows_in_file": len(rows),
        "distinct_ids_in_file": len({row["id"] for row in rows}),
        "second_worker_ready_s": round(second_ready_s, 1),
        "kill_to_completed_s": round(recovered_s, 1),
    }
    result["ok"] = done.tries == 2 and len(rows) == result["distinct_ids_in_file"] == killed.rows_expected
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--before-s", type=float, default=10)
    parser.add_argument("--after-s", type=float, default=15)
    parser.add_argument("--restart-mode", choices=["immediate", "fast"], default="immediate")
    parser.add_argument("--port", type=int, default=55432)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()

    cluster = PrivateCluster(DRILL_DIR / "pg", free_port(args.port))
    print(f"Private PostgreSQL on 127.0.0.1:{cluster.port} ({load_average()})", flush=True)
    cluster.init_and_start()
    results = {}
    try:
        cluster.create_database(DATABASE)
        database_url = cluster.url(DATABASE)
        env = service_env(database_url)
        setup_django(database_url)
        workspace, api_key, emails = seed(env)
        server = Gunicorn(env, free_port(), workers=2, log_path=DRILL_DIR / "gunicorn.log")
        try:
            print("1. PostgreSQL restarted under tracking load ...", flush=True)
            results["database_restart"] = drill_database_restart(cluster, server, api_key, emails, args)
            print(json.dumps(results["database_restart"], indent=2), flush=True)
            print("2. Redis down ...", flush=True)
            results["redis_down"] = drill_redis_down(database_url, server, api_key)
            print(json.dumps(results["redis_down"], indent=2), flush=True)
        finally:
            server.stop()
        print("3. Worker killed mid-export ...", flush=True)
        results["worker_killed"] = drill_worker_killed(database_url, workspace)
        print(json.dumps(results["worker_killed"], indent=2), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            cluster.stop(quiet=True)
    print(f"Done ({load_average()}).")
    failed = [name for name, result in results.items() if result.get("ok") is False]
    print("PASS" if not failed else f"FAIL: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
