"""`make drill-scale`: the scale-out topology on this machine, exercised end to end (docs/scaling.md).

1. Two private PostgreSQL clusters under var/drill-scale/ with the machine's own binaries: a
   primary and a streaming replica made by pg_basebackup (hot standby).
2. A small demo dataset on the primary (it streams to the replica), an admin API key.
3. Two web nodes (gunicorn, config/gunicorn.conf.py) and two Celery workers (one runs beat), all
   given the same DATABASE_URL, DATABASE_REPLICA_URLS, Redis (cache and broker) and MEDIA_ROOT:
   they share nothing else.
4. Ingest under load: a writer sends tracking batches to node 1 while readers read both nodes;
   the replica's and the primary's read counters show where the reads went. A new page session
   is timed until the VideoCloud users API (on the replica) counts it. An export created on
   node 2 is built by whichever worker takes it and downloaded from node 1.
5. The replica is stopped (fast shutdown) while readers go on: the reads fall back to the
   primary and no request fails. Nothing is promoted.
6. The numbers are printed (and written to var/drill-scale/result.json); the exit status is 1 if
   any check failed. Everything is stopped and removed at the end (--keep leaves the clusters).
"""

import argparse
import http.client
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.faultlib import PROJECT_DIR, PYTHON, Gunicorn, PrivateCluster, free_port, manage, service_env  # noqa: E402

VAR = PROJECT_DIR / "var" / "drill-scale"
CELERY = str(Path(PYTHON).with_name("celery"))
DATABASE = "la_drill_scale"
WORKSPACE = "demo"
REDIS_CACHE = "redis://127.0.0.1:6379/6"
REDIS_BROKER = "redis://127.0.0.1:6379/7"


def log(message):
    print(f"[drill-scale {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def query(cluster, sql, database=DATABASE):
    import psycopg

    with psycopg.connect(cluster.url(database), autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def wait_streaming(primary):
    for _ in range(150):
        if query(primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", "postgres")[0][0]:
            return
        time.sleep(0.2)
    raise SystemExit("the replica did not start streaming")


def node_env(primary, replica):
    """What every web node and worker is given: the primary, the replica, Redis and the export
    storage; nothing else is shared."""
    return service_env(
        primary.url(DATABASE),
        DATABASE_REPLICA_URLS=replica.url(DATABASE),
        REPLICA_CHECK_S="1",
        CACHE_URL=REDIS_CACHE,
        CELERY_BROKER_URL=REDIS_BROKER,
        CELERY_RESULT_BACKEND="",
        MEDIA_ROOT=str(VAR / "media"),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),  # one per drill, the same on every node (signed links)
        SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )


class Workers:
    """Two Celery workers (the first also runs beat), each its own process and hostname."""

    def __init__(self, env):
        self.processes = []
        for number in (1, 2):
            command = [CELERY, "-A", "config", "worker", "-n", f"drill{number}@%h", "-c", "1", "-l", "WARNING"]
            with open(VAR / f"worker{number}.log", "wb") as handle:
                self.processes.append(
                    subprocess.Popen(
                        command + (["-B", "-s", str(VAR / "celerybeat-schedule")] if number == 1 else []),
                        cwd=PROJECT_DIR,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                )

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def request(port, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = json.dumps(body) if body is not None else None
        headers = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def percentile(values, share):
    values = sorted(values)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(share / 100 * len(values)))], 1)


class Readers:
    """Threads reading the read endpoints of both nodes in turn until stopped."""

    def __init__(self, ports, paths, headers, threads=4):
        self.ports, self.paths, self.headers, self.threads = ports, paths, headers, threads
        self.latencies_ms, self.errors, self.running = [], [], True

    def _run(self, offset):
        turn = offset
        while self.running:
            port = self.ports[turn % len(self.ports)]
            path = self.paths[turn % len(self.paths)]
            turn += 1
            started = time.monotonic()
            try:
                status, body = request(port, "GET", path, self.headers)
            except OSError as exc:
                self.errors.append(f"{path}: {exc}")
                continue
            self.latencies_ms.append((time.monotonic() - started) * 1000)
            if status != 200:
                self.errors.append(f"{path}: {status} {body[:200]!r}")

    def __enter__(self):
        self.workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for worker in self.workers:
            worker.join(timeout=60)

    def summary(self):
        return {
            "requests": len(self.latencies_ms),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
        }


def tracking_batch(learners, courses, size=100):
    now = datetime.now(UTC)
    return [
        {
            "id": str(uuid.uuid4()),
            "user": learners[n % len(learners)],
            "page": "Course Player",
            "path": f"/player/{courses[n % len(courses)]}",
            "startedAt": now.isoformat(),
            "duration": 30,
        }
        for n in range(size)
    ]


def write_for(port, headers, learners, courses, seconds):
    """Tracking batches of 100 page sessions to one node for `seconds`; items accepted per s."""
    sent, failures, started = 0, 0, time.monotonic()
    while time.monotonic() - started < seconds:
        status, body = request(port, "POST", "/api/track/page-sessions", headers, tracking_batch(learners, courses))
        if status == 200:
            sent += 100
        else:
            failures += 1
    return {"items": sent, "items_per_s": round(sent / (time.monotonic() - started), 1), "failed_requests": failures}


def read_counters(cluster):
    """Rows the cluster's backends have read from the drill database so far."""
    return query(cluster, f"SELECT tup_returned + tup_fetched FROM pg_stat_database WHERE datname = '{DATABASE}'")[0][0]


def sessions_this_week(port, headers):
    status, body = request(port, "GET", "/analytics/users?period=7d", headers)
    if status != 200:
        raise RuntimeError(f"users API: {status} {body[:200]!r}")
    return json.loads(body)["data"]["activity"]["sessions"]["total"]


def measure_freshness(ports, headers, learners, courses, timeout_s=60):
    """One page session sent to node 1, timed until node 2's users API (read on the replica)
    counts it."""
    before = sessions_this_week(ports[1], headers)
    status, answer = request(
        ports[0], "POST", "/api/track/page-sessions", headers, tracking_batch(learners, courses, size=1)
    )
    if status != 200:
        raise RuntimeError(f"freshness write: {status} {answer[:200]!r}")
    written = time.monotonic()
    while time.monotonic() - written < timeout_s:
        if sessions_this_week(ports[1], headers) > before:
            return round(time.monotonic() - written, 2)
        time.sleep(0.2)
    return None


def export_across_nodes(ports, headers, timeout_s=120):
    """An export created on node 2, polled and downloaded on node 1: the worker that built it and
    the node that serves it share only PostgreSQL, Redis and MEDIA_ROOT."""
    status, body = request(
        ports[1], "POST", "/analytics/export", headers, {"type": "course", "period": "30d", "format": "csv"}
    )
    if status not in (200, 201, 202):
        raise RuntimeError(f"export create: {status} {body[:300]!r}")
    job = json.loads(body)["data"]
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        status, body = request(ports[0], "GET", f"/analytics/export/{job['exportId']}", headers)
        job = json.loads(body)["data"]
        if job["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
    size = None
    if job["status"] == "completed":
        path = "/" + job["downloadUrl"].split("://", 1)[-1].split("/", 1)[-1]
        status, content = request(ports[0], "GET", path)
        size = len(content) if status == 200 else None
    return {"status": job.get("status"), "seconds": round(time.monotonic() - started, 2), "downloaded_bytes": size}


def drill(args):
    primary = PrivateCluster(VAR / "primary", free_port(55440))
    replica = PrivateCluster(VAR / "replica", free_port(55441))
    nodes, workers, result = [], None, {"checks": {}}
    try:
        primary.init_and_start()
        primary.create_database(DATABASE)
        env = node_env(primary, replica)
        primary_env = {**env, "DATABASE_REPLICA_URLS": ""}
        log(f"primary on port {primary.port}: migrate and generate the {args.size} demo data")
        manage(primary_env, "migrate", "--no-input")
        manage(primary_env, "collectstatic", "--no-input")  # DEBUG=0 serves the hashed files
        manage(primary_env, "generate_demo_data", "--size", args.size)
        api_key = manage(primary_env, "create_api_key", "--workspace", WORKSPACE, "--name", "drill").split()[-1]
        headers = {"Authorization": f"Api-Key {api_key}"}
        courses = [row[0] for row in query(primary, "SELECT key FROM courses_course ORDER BY id LIMIT 20")]
        learners = [
            row[0]
            for row in query(
                primary,
                "SELECT u.email FROM accounts_user u JOIN accounts_membership m ON m.user_id = u.id "
                "WHERE m.role = 'learner' ORDER BY u.id LIMIT 200",
            )
        ]

        log(f"replica on port {replica.port} from pg_basebackup")
        replica.init_as_replica_of(primary)
        wait_streaming(primary)

        for number in (1, 2):
            nodes.append(Gunicorn(env, free_port(), workers=2, log_path=VAR / f"web{number}.log"))
        workers = Workers(env)
        ports = [node.port for node in nodes]
        log(f"two web nodes on ports {ports}, two workers")

        paths = [
            "/api/v2/courses/stats",
            "/analytics/users?period=7d",
            "/analytics/videos/summary?period=30d",
            f"/api/v0/courses/{courses[0]}/enrollment/",
            f"/api/v0/courses/{courses[1]}/activity/",
        ]
        replica_before, primary_before = read_counters(replica), read_counters(primary)
        log(f"ingest under load for {args.seconds} s")
        with Readers(ports, paths, headers) as readers:
            result["ingest"] = write_for(ports[0], headers, learners, courses, args.seconds)
        result["reads_with_replica"] = readers.summary()
        result["rows_read"] = {
            "replica": read_counters(replica) - replica_before,
            "primary": read_counters(primary) - primary_before,
        }
        result["replay_lag_bytes"] = query(
            primary, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication", "postgres"
        )[0][0]
        result["freshness_s"] = measure_freshness(ports, headers, learners, courses)
        result["export"] = export_across_nodes(ports, headers)

        log("stop the replica while readers go on")
        with Readers(ports, paths, headers) as readers:
            time.sleep(2)
            replica.stop()
            time.sleep(args.seconds / 2)
        result["reads_replica_stopped"] = readers.summary()

        checks = result["checks"]
        checks["reads served by the replica"] = result["rows_read"]["replica"] > 0
        checks["no failed read with the replica"] = result["reads_with_replica"]["errors"] == 0
        checks["no failed write"] = result["ingest"]["failed_requests"] == 0
        checks["fresh within 60 s"] = result["freshness_s"] is not None and result["freshness_s"] < 60
        checks["export built and served across nodes"] = bool(result["export"]["downloaded_bytes"])
        checks["no failed read after the replica stopped"] = result["reads_replica_stopped"]["errors"] == 0
        checks["reads went on after the replica stopped"] = result["reads_replica_stopped"]["requests"] > 0
    finally:
        for node in nodes:
            node.stop()
        if workers is not None:
            workers.stop()
        replica.stop(quiet=True)
        primary.stop(quiet=True)
    (VAR / "result.json").write_text(json.dumps(result, indent=2, default=float))
    print(json.dumps(result, indent=2, default=float))
    if not args.keep:
        for cluster in (primary, replica):
            shutil.rmtree(cluster.data, ignore_errors=True)
    failed = [name for name, passed in result["checks"].items() if not passed]
    log("passed" if not failed else f"FAILED: {failed}")
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small", help="demo data size on the primary (default: small)")
    parser.add_argument("--seconds", type=int, default=20, help="length of the loaded phase")
    parser.add_argument("--keep", action="store_true", help="leave the clusters under var/drill-scale/")
    return drill(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
