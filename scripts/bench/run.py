"""`make bench` (`python -m scripts.bench [options]`): the whole benchmark, end to end.

1. The full-size database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/la_bench):
   migrate, generate the large dataset when empty (about 12 minutes), backfill, rollups,
   credentials, request lists and SQL floors (scripts/bench/prepare.py, in its own process).
2. gunicorn as config/gunicorn.conf.py sets it (gthread workers, keep-alive); the framework floor
   (GET /api/v0/authenticated/ at 1 client); the load generator (scripts/bench/loadgen.py, a second
   process, one kept-alive connection per client) drives each read endpoint for --warmup s at 2
   clients, then --duration s at each of --levels clients; the tracker's heartbeats at 8 clients.
   Then the mixed load: a background writer (scripts/bench/writer.py, a third process) sends
   --writer-rate tracking items/s while each endpoint and the heartbeats are measured again at
   --loaded-levels clients, and the freshness probe times how long a new page session takes to
   show in the APIs that count it (--skip-mixed, --skip-heartbeat, --skip-freshness leave parts out).
3. Ingest over the same gunicorn: the tracking API (batches of 500 page sessions) and xAPI
   statements (batches of 100), in a workspace of their own that is deleted afterwards; then
   import_data (scripts/bench_ingest.py) and tracking-log lines (scripts/bench_tracking_logs.py)
   and exports (scripts/bench_export.py), each in its own database on the same server.
4. Scaling: the same endpoints at 1 client in <db>_tenth and <db>_third (sizes large-tenth and
   large-third, generated when empty).
5. var/bench/results.json, docs/benchmarks.json (the summary), docs/benchmarks.md (one table of the
   targets, before and after) and docs/benchmarks-scaling.png. A run whose 1-minute load before
   start is above LOADED_MACHINE_LOAD is marked "loaded machine"; --repeat-if-loaded N runs it again.

With the data generated, the defaults take about 35 minutes on 2 cores.
"""

import argparse
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment  # noqa: E402

from scripts.bench import report, stats  # noqa: E402
from scripts.bench.prepare import DEFAULT_DATABASE_URL, FAMILIES  # noqa: E402

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SCALES = (("large-tenth", "_tenth"), ("large-third", "_third"))


def log(message):
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(base, name):
    return urlsplit(base)._replace(path=f"/{name}").geturl()


def database_name(url):
    return urlsplit(url).path.lstrip("/")


# --- processes --------------------------------------------------------------------------------------


def prepare(command, env, *args):
    """Run scripts/bench/prepare.py COMMAND in its own process; returns its JSON output."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    try:
        subprocess.run(
            [PYTHON, "-m", "scripts.bench.prepare", command, "--out", out, *args], cwd=ROOT, env=env, check=True
        )
        return json.loads(Path(out).read_text()) if Path(out).stat().st_size else None
    finally:
        os.unlink(out)


class Gunicorn:
    """gunicorn config.wsgi as configured by config/gunicorn.conf.py (gthread workers, keep-alive:
    the production way to serve it) on 127.0.0.1:<free port>, for one database."""

    def __init__(self, env, workers=None):
        self.env, self.workers, self.port = env, workers, free_port()

    def __enter__(self):
        command = [GUNICORN, "-c", str(ROOT / "config/gunicorn.conf.py"), "config.wsgi:application"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--timeout", "300"]
        if self.workers:
            command += ["--workers", str(self.workers)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        import http.client

        for _ in range(300):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/api/health/")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit("gunicorn exited at start")
            time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer /api/health/ within 60 s")
        return self

    def worker_pids(self):
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def load(port, requests, concurrency, duration_s, mode="loop", counter_token=None):
    """One run of the load generator in its own process; returns its result dict."""
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "concurrency": concurrency,
        "duration_s": duration_s,
        "mode": mode,
        "requests": requests,
        "counter_token": counter_token,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
        path = handle.name
    try:
        output = subprocess.run(
            [PYTHON, "-m", "scripts.bench.loadgen", path], cwd=ROOT, check=True, capture_output=True, text=True
        )
        return json.loads(output.stdout)
    finally:
        os.unlink(path)


class ServerCpu:
    """CPU seconds of the gunicorn workers and of the database's PostgreSQL backends over a block."""

    def __init__(self, server, conninfo):
        self.server, self.conninfo = server, conninfo

    def _pids(self):
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return self.server.worker_pids() + [pid for (pid,) in rows]

    @staticmethod
    def _cpu(pids):
        import psutil

        total = {}
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                total[pid] = times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def __enter__(self):
        self.before = self._cpu(self._pids())
        return self

    def __exit__(self, *exc):
        after = self._cpu(self._pids())
        self.seconds = sum(value - self.before.get(pid, 0.0) for pid, value in after.items())


# --- the measurements -------------------------------------------------------------------------------


def client_overhead(levels, duration_s):
    """The load generator against a server that does nothing (loadgen --null-server)."""
    server = subprocess.Popen(
        [PYTHON, "-m", "scripts.bench.loadgen", "--null-server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        result = {}
        for level in levels:
            run = load(port, [{"method": "GET", "path": "/", "headers": {}}], level, duration_s)
            summary = stats.summarize_samples(run["samples"], run["elapsed_s"])
            summary["client_cpu_us"] = round(run["cpu_s"] * 1e6 / max(1, len(run["samples"])), 1)
            result[str(level)] = summary
        return result
    finally:
        server.terminate()
        server.wait()


def measure_endpoint(server, conninfo, entry, args):
    """Warm-up, then each concurrency level; returns {level: summary}."""
    levels = {}
    load(server.port, entry["requests"], 2, args.warmup)
    for level in args.levels:
        one = levels.get("1")
        if level >= 32 and one and one.get("p50_ms") and one["p50_ms"] > args.skip_32_over_ms:
            levels[str(level)] = {"skipped": f"1-client p50 over {args.skip_32_over_ms:.0f} ms"}
            continue
        with ServerCpu(server, conninfo) as cpu:
            run = load(server.port, entry["requests"], level, args.duration)
        summary = stats.summarize_samples(run["samples"], run["elapsed_s"])
        summary["server_cpu_ms"] = round(cpu.seconds * 1000 / max(1, len(run["samples"])), 2)
        summary["client_cpu_us"] = round(run["cpu_s"] * 1e6 / max(1, len(run["samples"])), 1)
        summary["load_1min"] = round(os.getloadavg()[0], 2)
        if run["errors"]:
            summary["first_errors"] = run["errors"]
        levels[str(level)] = summary
        log(
            f"  {level:>2} clients: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
            f"{summary['rps']} req/s, {summary['errors']} errors"
        )
    return levels


def measure_level(server, conninfo, requests, level, duration_s, counter_token=None):
    """One load-generator run at `level` clients: its summary with server CPU ms per request."""
    with ServerCpu(server, conninfo) as cpu:
        run = load(server.port, requests, level, duration_s, counter_token=counter_token)
    summary = stats.summarize_samples(run["samples"], run["elapsed_s"])
    summary["server_cpu_ms"] = round(cpu.seconds * 1000 / max(1, len(run["samples"])), 2)
    summary["load_1min"] = round(os.getloadavg()[0], 2)
    if run["errors"]:
        summary["first_errors"] = run["errors"]
    return summary


WRITER_ALONE_S = 5.0


def measure_writer_alone(server, conninfo):
    """The background writer's share of the machine before any reader starts: cores busy (every
    process: the writer, gunicorn, PostgreSQL, Celery, the rest of the machine) and cores of the
    gunicorn workers and their PostgreSQL backends, over WRITER_ALONE_S seconds. The readers'
    loaded ÷ idle ratio is read against it: on 2 cores, what the writer takes the readers wait for."""
    import psutil

    busy_before = psutil.cpu_times()
    with ServerCpu(server, conninfo) as cpu:
        time.sleep(WRITER_ALONE_S)
    busy_after = psutil.cpu_times()
    idle = (busy_after.idle + busy_after.iowait) - (busy_before.idle + busy_before.iowait)
    total = sum(busy_after) - sum(busy_before)
    cores = psutil.cpu_count()
    result = {
        "seconds": WRITER_ALONE_S,
        "cores": cores,
        "machine_busy_cores": round(cores * (total - idle) / total, 2) if total else None,
        "server_cores": round(cpu.seconds / WRITER_ALONE_S, 2),
    }
    log(
        f"background writer alone: {result['machine_busy_cores']} of {cores} cores busy "
        f"({result['server_cores']} in gunicorn and PostgreSQL)"
    )
    return result


def measure_framework_floor(server, conninfo, api_key, args):
    """GET /api/v0/authenticated/ with the bench API key at 1 client: the cost of a request that
    only authenticates (middleware, DRF, the API key lookup) and answers an empty 200, through the
    same server. Every endpoint's p50 is reported beside it."""
    requests = [_get_request("/api/v0/authenticated/", {"Authorization": f"Api-Key {api_key}"})]
    load(server.port, requests, 1, min(args.warmup, 1.0))
    summary = measure_level(server, conninfo, requests, 1, min(args.duration, 5.0))
    log(f"framework floor (GET /api/v0/authenticated/): p50 {summary['p50_ms']} ms, CPU {summary['server_cpu_ms']} ms")
    return summary


def _get_request(path, headers):
    return {"method": "GET", "path": path, "headers": dict(headers)}


HEARTBEAT_TOKEN = "__N__"


def heartbeat_requests(mixed, sessions=96):
    """The tracker's heartbeat: one page session per request, sent by the learner with their own
    bearer token, the same session id re-sent with a growing duration (the load generator puts
    the client's request count in place of HEARTBEAT_TOKEN). `sessions` is a multiple of 8, so at
    8 clients each session is always re-sent by the same client and its duration only grows."""
    learners, courses = mixed["learners"], mixed["courses"]
    started = datetime.now(UTC) - timedelta(minutes=5)
    requests = []
    for i in range(min(sessions, len(learners))):
        course = courses[(i * 13) % len(courses)]
        body = {
            "id": str(uuid.uuid4()),
            "page": "Course Player",
            "path": f"/player/{course}",
            "startedAt": started.isoformat(),
            "duration": HEARTBEAT_TOKEN,
        }
        requests.append(
            {
                "method": "POST",
                "path": "/api/track/page-sessions",
                "headers": {**learners[i], "Content-Type": "application/json"},
                "body": json.dumps(body).replace(f'"{HEARTBEAT_TOKEN}"', HEARTBEAT_TOKEN),
            }
        )
    return requests


def measure_heartbeats(server, conninfo, mixed, args, when):
    requests = heartbeat_requests(mixed)
    result = {}
    for level in args.heartbeat_levels:
        summary = measure_level(server, conninfo, requests, level, args.duration, counter_token=HEARTBEAT_TOKEN)
        result[str(level)] = summary
        log(f"heartbeats {when}, {level} clients: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms")
    return result


class Writer:
    """The background writer (scripts/bench/writer.py) in its own process while a block runs;
    .result is its JSON result once the block is left."""

    def __init__(self, server, mixed, args):
        self.spec = {
            "host": "127.0.0.1",
            "port": server.port,
            "api_key": mixed["api_key"],
            "emails": mixed["emails"],
            "courses": mixed["courses"],
            "rate": args.writer_rate,
            "batch": args.writer_batch,
            "threads": args.writer_threads,
        }
        self.result = None

    def __enter__(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(self.spec, handle)
            self.path = handle.name
        self.process = subprocess.Popen(
            [PYTHON, "-m", "scripts.bench.writer", self.path],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.process.stderr.readline()  # "ready"
        time.sleep(3)  # the writer at its pace before anything is timed
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            out, err = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        os.unlink(self.path)
        if out.strip():
            self.result = json.loads(out)
            log(
                f"background writer: {self.result['items_per_s']} items/s accepted "
                f"(target {self.result['target_items_per_s']}), {self.result['errors']} errors"
            )
        else:
            log(f"background writer gave no result: {err[-2000:]}")


def this_monday():
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def fetch_json(connection, path, headers):
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {payload[:200]!r}")
    return json.loads(payload)


def measure_freshness(server, mixed, args):
    """How long a new item takes to show in the APIs that count it, while the writer runs.

    Each sample: a fresh learner (no activity) sends one page session of the course the writer
    leaves alone, with their own token (as the tracker does); then every FRESHNESS_POLL_S the
    learner's own `GET /api/user/analytics` (totalSessions 0 -> 1) and the course's
    `GET v0 courses/{id}/activity/` of this week (`any` grows by one: no other writes there) are
    read until both show it, or --freshness-timeout seconds. A sample's time is the slower API's;
    a sample that timed out counts as the timeout."""
    import http.client
    from urllib.parse import quote

    course = mixed["fresh_course"]
    admin = {"Authorization": f"Api-Key {mixed['api_key']}"}
    activity_path = f"/api/v0/courses/{quote(course, safe=':+')}/activity/?start_date={this_monday()}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    samples, timeouts = [], 0
    try:
        for learner in mixed["fresh_learners"][: args.freshness_samples]:
            before = fetch_json(connection, activity_path, admin)[-1]["any"]
            body = {
                "id": str(uuid.uuid4()),
                "page": "Course Player",
                "path": f"/player/{course}",
                "startedAt": datetime.now(UTC).isoformat(),
                "duration": 60,
            }
            connection.request(
                "POST",
                "/api/track/page-sessions",
                body=json.dumps(body),
                headers={**learner["headers"], "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"freshness write: {response.status}")
            written = time.monotonic()
            seen = {}
            while len(seen) < 2 and time.monotonic() - written < args.freshness_timeout:
                if "learner" not in seen:
                    mine = fetch_json(connection, "/api/user/analytics", learner["headers"])
                    if mine["analytics"]["totalSessions"] >= 1:
                        seen["learner"] = time.monotonic() - written
                if "course_activity" not in seen:
                    if fetch_json(connection, activity_path, admin)[-1]["any"] >= before + 1:
                        seen["course_activity"] = time.monotonic() - written
                if len(seen) < 2:
                    time.sleep(FRESHNESS_POLL_S)
            if len(seen) < 2:
                timeouts += 1
            samples.append(
                {
                    "seconds": round(max(seen.values(), default=0) if len(seen) == 2 else args.freshness_timeout, 2),
                    **{name: round(value, 2) for name, value in seen.items()},
                }
            )
            log(f"  freshness sample: {samples[-1]}")
    finally:
        connection.close()
    return {
        "samples": samples,
        "timeouts": timeouts,
        "timeout_s": args.freshness_timeout,
        "apis": ["GET /api/user/analytics (totalSessions)", "GET v0 courses/{id}/activity/ (this week's any)"],
        "p95_s": stats._round(stats.percentile([sample["seconds"] for sample in samples], 95)),
    }


FRESHNESS_POLL_S = 1.0


def measure_reads(env, prepared, args):
    conninfo = env["DATABASE_URL"]
    mixed = prepared["mixed"]
    endpoints = []
    extra = {}
    with Gunicorn(env) as server:
        extra["framework_floor"] = measure_framework_floor(server, conninfo, mixed["api_key"], args)
        for entry in prepared["endpoints"]:
            log(f"{entry['family']}: {entry['label']} ({len(entry['requests'])} distinct requests)")
            load_before = os.getloadavg()[0]
            levels = measure_endpoint(server, conninfo, entry, args)
            result = {key: entry[key] for key in ("family", "name", "label")}
            result.update(
                distinct_requests=len(entry["requests"]),
                paths=sorted({r["path"] for r in entry["requests"]})[:3],
                levels=levels,
                floor=entry.get("floor"),
                load_1min=[round(load_before, 2), round(os.getloadavg()[0], 2)],
            )
            result["floor_ratio"] = stats.ratio(
                (levels.get("1") or {}).get("p50_ms"), (entry.get("floor") or {}).get("p50_ms")
            )
            result["misses"] = stats.check_targets(result)
            endpoints.append(result)
            save_partial(args, endpoints)
        if not args.skip_heartbeat:
            extra["heartbeat"] = {"idle": measure_heartbeats(server, conninfo, mixed, args, "idle")}
        if not args.skip_mixed:
            by_name = {(e["family"], e["name"]): e for e in endpoints}
            log(f"mixed load: a background writer at {args.writer_rate:.0f} tracking items/s")
            with Writer(server, mixed, args) as writer:
                writer_alone = measure_writer_alone(server, conninfo)
                for entry in prepared["endpoints"]:
                    result = by_name[(entry["family"], entry["name"])]
                    result["loaded"] = {}
                    for level in args.loaded_levels:
                        summary = measure_level(server, conninfo, entry["requests"], level, args.duration)
                        result["loaded"][str(level)] = summary
                        log(
                            f"  {entry['family']}: {entry['name']} under load, {level} clients: p95 {summary['p95_ms']} ms"
                        )
                    result["misses"] = stats.check_targets(result)
                    save_partial(args, endpoints)
                if not args.skip_heartbeat:
                    extra.setdefault("heartbeat", {})["loaded"] = measure_heartbeats(
                        server, conninfo, mixed, args, "under load"
                    )
                if not args.skip_freshness:
                    log(f"freshness under load ({args.freshness_samples} samples)")
                    extra["freshness"] = {**measure_freshness(server, mixed, args), "under": "mixed load"}
            extra["writer"] = {**(writer.result or {}), "alone": writer_alone}
        elif not args.skip_freshness:
            log(f"freshness, idle ({args.freshness_samples} samples)")
            extra["freshness"] = {**measure_freshness(server, mixed, args), "under": "idle"}
        ingest = measure_http_ingest(env, server, args) if not args.skip_ingest else None
    return endpoints, ingest, extra


def save_partial(args, endpoints):
    """A run stopped half-way still leaves what it measured."""
    if args.output:
        partial = Path(args.output).with_suffix(".partial.json")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"endpoints": endpoints}, indent=1, default=str))


def page_session_bodies(emails, courses, batches, batch):
    from bench_ingest import page_session_items

    users = [SimpleNamespace(email=email) for email in emails]
    started = datetime.now(UTC) - timedelta(days=2)
    return [
        json.dumps(page_session_items(users, courses, batch, started=started + timedelta(hours=i)))
        for i in range(batches)
    ]


def xapi_bodies(emails, courses, videos, batches, batch):
    """Open edX-shaped statements (video played / paused, problem evaluated), new ids."""
    now = datetime.now(UTC) - timedelta(days=1)
    bodies = []
    for b in range(batches):
        statements = []
        for i in range(batch):
            n = b * batch + i
            course = courses[n % len(courses)]
            actor = {
                "objectType": "Agent",
                "account": {"homePage": "http://bench-ingest.example", "name": emails[n % len(emails)].split("@")[0]},
            }
            parent = {
                "contextActivities": {
                    "parent": [
                        {
                            "id": f"http://lms.bench.example/course/{course}",
                            "objectType": "Activity",
                            "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                        }
                    ]
                }
            }
            when = (now + timedelta(seconds=n)).isoformat()
            if n % 3 == 2:
                statement = {
                    "actor": actor,
                    "timestamp": when,
                    "context": parent,
                    "verb": {"id": "https://w3id.org/xapi/acrossx/verbs/evaluated"},
                    "object": {
                        "id": f"http://lms.bench.example/xblock/block-v1:Bench+C+2026+type@problem+block@p{n % 50}",
                        "objectType": "Activity",
                        "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction"},
                    },
                    "result": {"score": {"min": 0, "max": 1, "raw": n % 2, "scaled": n % 2}, "success": bool(n % 2)},
                }
            else:
                verb = "played" if n % 3 == 0 else "paused"
                statement = {
                    "actor": actor,
                    "timestamp": when,
                    "context": {**parent, "extensions": {"https://w3id.org/xapi/video/extensions/length": 300.0}},
                    "verb": {"id": f"https://w3id.org/xapi/video/verbs/{verb}"},
                    "object": {
                        "id": f"http://lms.bench.example/xblock/block-v1:Bench+C+2026+type@video+block@{videos[n % len(videos)]}",
                        "objectType": "Activity",
                        "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
                    },
                    "result": {"extensions": {"https://w3id.org/xapi/video/extensions/time": float(n % 300)}},
                }
            statement["id"] = str(uuid.uuid4())
            statements.append(statement)
        bodies.append(json.dumps(statements))
    return bodies


def timed_once(server, conninfo, requests, items_per_request, concurrency):
    with ServerCpu(server, conninfo) as cpu:
        run = load(server.port, requests, concurrency, 600, mode="once")
    ok = [s for s in run["samples"] if 200 <= s[2] < 300]
    items = len(ok) * items_per_request
    return {
        "items": items,
        "requests": len(run["samples"]),
        "errors": len(run["samples"]) - len(ok),
        "elapsed_s": round(run["elapsed_s"], 2),
        "rate": stats.rate(items, run["elapsed_s"]),
        "server_cpu_us_per_item": round(cpu.seconds * 1e6 / max(1, items), 1),
        "p50_ms_per_request": stats._round(stats.percentile([s[1] * 1000 for s in ok], 50)),
        "load_1min": round(os.getloadavg()[0], 2),
        "first_errors": run["errors"],
    }


def measure_http_ingest(env, server, args):
    """Tracking API and xAPI over the same gunicorn, into the ingest workspace (deleted after)."""
    log("ingest over HTTP: tracking API and xAPI into workspace bench-ingest")
    world = prepare("ingest", env)
    key, conninfo = world["api_key"], env["DATABASE_URL"]
    tracking = [
        {
            "method": "POST",
            "path": "/api/track/page-sessions",
            "body": body,
            "headers": {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        }
        for body in page_session_bodies(world["emails"], world["courses"], args.tracking_batches, 500)
    ]
    xapi = [
        {
            "method": "POST",
            "path": "/xapi/statements",
            "body": body,
            "headers": {
                "Authorization": f"Api-Key {key}",
                "Content-Type": "application/json",
                "X-Experience-API-Version": "1.0.3",
            },
        }
        for body in xapi_bodies(world["emails"], world["courses"], world["videos"], args.xapi_batches, 100)
    ]
    result = {}
    load(server.port, tracking[:2], 2, 60, mode="once")  # warm-up (these two batches count nowhere)
    tracking_run = timed_once(server, conninfo, tracking[2:], 500, 4)
    result["tracking"] = {
        "what": f"POST /api/track/page-sessions, {len(tracking) - 2} batches of 500 new page sessions, 4 clients, "
        f"{tracking_run['errors']} errors; server CPU {tracking_run['server_cpu_us_per_item']} µs/item",
        "unit": "items/s",
        **tracking_run,
    }
    log(f"  tracking: {tracking_run['rate']} items/s")
    load(server.port, xapi[:2], 2, 60, mode="once")
    xapi_run = timed_once(server, conninfo, xapi[2:], 100, 4)
    result["xapi"] = {
        "what": f"POST /xapi/statements, {len(xapi) - 2} batches of 100 statements (video played / paused, "
        f"problem evaluated), 4 clients, {xapi_run['errors']} errors",
        "unit": "statements/s",
        **xapi_run,
    }
    log(f"  xAPI: {xapi_run['rate']} statements/s")
    return result


SCRIPT_TIMEOUT_S = 420


def run_script(args_list, env, database):
    """One of the existing benchmark scripts on its own database (same server); its stdout, or ""
    when it failed or ran over SCRIPT_TIMEOUT_S (make bench stays bounded; the report says so)."""
    script_env = {**env, "DATABASE_URL": database}
    try:
        output = subprocess.run(
            [PYTHON, *args_list], cwd=ROOT, env=script_env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        log(f"{args_list[0]} ran over {SCRIPT_TIMEOUT_S} s: stopped, left out of the report")
        return ""
    if output.returncode:
        log(f"{args_list[0]} failed: {output.stderr[-2000:]}")
        return ""
    return output.stdout


def number(text):
    return float(text.replace(",", ""))


def measure_script_ingest(env, base_url):
    result = {}
    log("import_data (scripts/bench_ingest.py --batches 5 --no-write, database la_ingest)")
    out = run_script(
        ["scripts/bench_ingest.py", "--batches", "5", "--no-write"], env, database_url(base_url, "la_ingest")
    )
    lines = re.search(r"A generated file of ([\d,]+) lines", out)
    first = re.search(r"\| first import \(creates\) \| ([\d.]+) \| ([\d,]+) \|", out)
    again = re.search(r"\| same file again \(changes nothing\) \| ([\d.]+) \| ([\d,]+) \|", out)
    if lines and first:
        result["import_data"] = {
            "what": f"manage.py import_data of {lines.group(1)} JSON lines, every kind, first import",
            "rate": number(first.group(2)),
            "unit": "lines/s",
            "note": f"same file again: {again.group(2)} lines/s" if again else "",
        }
    else:
        result["import_data"] = {
            "what": "manage.py import_data (scripts/bench_ingest.py)",
            "rate": None,
            "unit": "lines/s",
            "note": f"no result: failed or ran over {SCRIPT_TIMEOUT_S} s",
        }
    log("tracking logs (scripts/bench_tracking_logs.py --lines 100000 --no-write, database la_xapi)")
    out = run_script(
        ["scripts/bench_tracking_logs.py", "--lines", "100000", "--no-write"], env, database_url(base_url, "la_xapi")
    )
    first = re.search(
        r"first import \(creates everything\): ([\d,]+) lines/s wall \(([\d.]+)s, load ([\d.]+)\); .*= ([\d,]+) lines per CPU-second",
        out,
    )
    again = re.search(r"the same file again \(nothing changes\): ([\d,]+) lines/s", out)
    if first:
        result["tracking_logs"] = {
            "what": "manage.py import_tracking_logs, 100,000 raw LMS lines, first import",
            "rate": number(first.group(1)),
            "unit": "lines/s",
            "note": f"load {first.group(3)}; {first.group(4)} lines per CPU-second"
            + (f"; re-import {again.group(1)} lines/s" if again else ""),
        }
    else:
        result["tracking_logs"] = {
            "what": "manage.py import_tracking_logs (scripts/bench_tracking_logs.py)",
            "rate": None,
            "unit": "lines/s",
            "note": f"no result: failed or ran over {SCRIPT_TIMEOUT_S} s",
        }
    return result


XAPI_TIMEOUT_S = 2400  # generating the 2M statements the first time takes most of it


def measure_xapi(env, base_url, args):
    """scripts/bench_xapi.py on la_xapibench: POST rate at 4 clients, GET agent p95 at 8 clients
    on --xapi-statements stored statements. None when it failed or ran over XAPI_TIMEOUT_S."""
    log(f"xAPI LRS (scripts/bench_xapi.py --statements {args.xapi_statements}, database la_xapibench)")
    command = [
        PYTHON,
        "scripts/bench_xapi.py",
        "--statements",
        str(args.xapi_statements),
        "--post-batches",
        str(args.xapi_batches),
        "--duration",
        str(args.duration),
    ]
    try:
        output = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "DATABASE_URL": database_url(base_url, "la_xapibench")},
            capture_output=True,
            text=True,
            timeout=XAPI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        log(f"scripts/bench_xapi.py ran over {XAPI_TIMEOUT_S} s: left out of the report")
        return None
    found = re.search(r"^RESULT (.*)$", output.stdout, re.M)
    if output.returncode or not found:
        log(f"scripts/bench_xapi.py failed: {output.stderr[-2000:]}")
        return None
    result = json.loads(found.group(1))
    log(f"  POST {result['post']['rate']} statements/s; GET agent p95 at 8 clients {result['get_8']['p95_ms']} ms")
    return result


def measure_export(env, base_url):
    log("export (scripts/bench_export.py, database la_exportbench)")
    out = run_script(["scripts/bench_export.py"], env, database_url(base_url, "la_exportbench"))
    found = []
    for fmt_name, rows, seconds, per_s, peak in re.findall(
        r"^(\w+): (\d+) rows in ([\d.]+)s = ([\d,]+) rows/s, peak (\d+) MB", out, re.M
    ):
        found.append(
            {
                "format": fmt_name,
                "rows": int(rows),
                "seconds": float(seconds),
                "rows_per_s": number(per_s),
                "peak_mb": float(peak),
            }
        )
    return found


def scaling_databases(args, base_url):
    """[(size, database URL)]: --scaling-databases NAME:SIZE,... or <db>_tenth and <db>_third."""
    if args.scaling_databases:
        pairs = [item.split(":", 1) for item in args.scaling_databases.split(",")]
        return [(size, database_url(base_url, name)) for name, size in pairs]
    return [(size, database_url(base_url, database_name(base_url) + suffix)) for size, suffix in SCALES]


def measure_scaling(env, base_url, full, args, families):
    sizes = []
    for size, url in scaling_databases(args, base_url):
        scale_env = {**env, "DATABASE_URL": url}
        log(f"scaling: {size} in {database_name(url)}")
        prepared = prepare("reads", scale_env, "--size", size, "--workspace", args.workspace, "--families", families)
        try:
            measured = {}
            with Gunicorn(scale_env) as server:
                for entry in prepared["endpoints"]:
                    load(server.port, entry["requests"], 2, min(args.warmup, 1.0))
                    run = load(server.port, entry["requests"], 1, args.scale_duration)
                    measured[f"{entry['family']}: {entry['name']}"] = stats.summarize_samples(
                        run["samples"], run["elapsed_s"]
                    )
        finally:
            prepare("cleanup", scale_env, "--rollup-changed-at", prepared["rollup_changed_at"])
        sizes.append(
            {
                "size": size,
                "database": database_name(url),
                "dataset": prepared["dataset"],
                "setup": prepared["setup"],
                "endpoints": measured,
            }
        )
    sizes.append(
        {
            "size": args.size,
            "database": full["database"],
            "dataset": full["dataset"],
            "endpoints": {
                f"{e['family']}: {e['name']}": e["levels"]["1"] for e in full["endpoints"] if "1" in e["levels"]
            },
        }
    )
    return sizes


def machine():
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cores": psutil.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "load_before": [round(v, 2) for v in os.getloadavg()],
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated, of {', '.join(FAMILIES)}")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients, comma-separated (default 1,8,32)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint per level (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per endpoint (default 2)")
    parser.add_argument(
        "--skip-32-over-ms",
        type=float,
        default=1000.0,
        help="skip 32 clients when the 1-client p50 is above this (default 1000)",
    )
    parser.add_argument("--size", default="large", help="dataset size when it must be generated (default large)")
    parser.add_argument("--workspace", default="demo")
    parser.add_argument("--skip-floors", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true", help="no tracking / xAPI / import / log ingest")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument(
        "--scaling-databases", default="", help="NAME:SIZE,... (default <db>_tenth:large-tenth,<db>_third:large-third)"
    )
    parser.add_argument("--scale-duration", type=float, default=5.0, help="seconds per endpoint per size (default 5)")
    parser.add_argument("--tracking-batches", type=int, default=62)
    parser.add_argument("--xapi-batches", type=int, default=62)
    parser.add_argument(
        "--xapi-statements",
        type=int,
        default=2_000_000,
        help="stored statements of the xAPI benchmark (default 2,000,000)",
    )
    parser.add_argument("--skip-mixed", action="store_true", help="no background writer, no loaded levels")
    parser.add_argument("--skip-heartbeat", action="store_true", help="no tracker heartbeats")
    parser.add_argument("--skip-freshness", action="store_true", help="no freshness probe")
    parser.add_argument("--loaded-levels", default="8", help="clients under the mixed load (default 8)")
    parser.add_argument("--heartbeat-levels", default="8", help="clients sending heartbeats (default 8)")
    parser.add_argument("--writer-rate", type=float, default=1000.0, help="background tracking items/s (default 1000)")
    parser.add_argument("--writer-batch", type=int, default=100, help="items per background request (default 100)")
    parser.add_argument(
        "--writer-threads", type=int, default=4, help="background senders, one connection each (default 4)"
    )
    parser.add_argument("--freshness-samples", type=int, default=10)
    parser.add_argument("--freshness-timeout", type=float, default=90.0, help="seconds per sample (default 90)")
    parser.add_argument(
        "--repeat-if-loaded",
        type=int,
        default=0,
        metavar="N",
        help=f"run again, up to N more times, when the 1-minute load before start was above {LOADED_MACHINE_LOAD}",
    )
    parser.add_argument("--output", default=str(ROOT / "var/bench/results.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs/benchmarks.md"), help="the page to write ('' for none)")
    parser.add_argument(
        "--json",
        default=str(ROOT / "docs/benchmarks.json"),
        help="the summary to write ('' for none); its "
        "previous content (or, the first time, the page's table) is the report's 'before'",
    )
    args = parser.parse_args(argv)
    args.levels = [int(level) for level in args.levels.split(",")]
    args.loaded_levels = [int(level) for level in args.loaded_levels.split(",")]
    args.heartbeat_levels = [int(level) for level in args.heartbeat_levels.split(",")]
    unknown = set(args.families.split(",")) - set(FAMILIES)
    if unknown:
        parser.error(f"--families: unknown {', '.join(sorted(unknown))}; choose from {', '.join(FAMILIES)}")
    return args


LOADED_MACHINE_LOAD = 1.5  # 1-minute load average before start above which a run is marked
LOAD_WAIT_S = 300  # before a repeat, how long to wait for the load to fall


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    configure_environment(DEFAULT_DATABASE_URL)
    os.environ.setdefault("VIDEOCLOUD_RATE_LIMIT", "")  # one key sends every request: no 429s
    os.environ.setdefault("JWT_ACCESS_MINUTES", "240")  # tokens outlive the run
    before = report.previous_numbers(args.json, args.docs)
    for attempt in range(args.repeat_if_loaded + 1):
        if attempt:
            wait_for_quiet()
        results = run_once(args, argv)
        results["attempt"] = attempt + 1
        if not results["loaded_machine"]:
            break
        log(f"loaded machine: 1-minute load {results['machine']['load_before'][0]} before start")
    write_outputs(args, results, before)


def wait_for_quiet():
    deadline = time.monotonic() + LOAD_WAIT_S
    while os.getloadavg()[0] > LOADED_MACHINE_LOAD and time.monotonic() < deadline:
        time.sleep(10)


def run_once(args, argv):
    env = dict(os.environ)
    base_url = env["DATABASE_URL"]
    started = time.monotonic()
    results = {
        "started_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "started_at_iso": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "argv": shlex.join(argv) or "(defaults)",
        "machine": machine(),
        "levels": args.levels,
        "loaded_levels": [] if args.skip_mixed else args.loaded_levels,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "scale_duration_s": args.scale_duration,
        "skip_32_over_ms": args.skip_32_over_ms,
        "workspace": args.workspace,
        "size": args.size,
    }
    results["loaded_machine"] = results["machine"]["load_before"][0] > LOADED_MACHINE_LOAD
    log(f"load average {results['machine']['load_before']}; measuring the load generator's own cost")
    results["client_overhead"] = client_overhead(args.levels, 3.0)
    log(
        f"preparing {database_name(base_url)} (migrate, data, credentials, request lists"
        f"{'' if args.skip_floors else ', SQL floors'})"
    )
    extra = ["--size", args.size, "--workspace", args.workspace, "--families", args.families]
    extra += ["--fresh-learners", str(0 if args.skip_freshness else args.freshness_samples)]
    if not args.skip_floors:
        extra += ["--floors", "--explain"]
    prepared = prepare("reads", env, *extra)
    results["postgres"] = prepared["postgres"]
    try:
        endpoints, http_ingest, measured = measure_reads(env, prepared, args)
    finally:
        prepare("cleanup", env, "--rollup-changed-at", prepared["rollup_changed_at"])
    results["endpoints"] = endpoints
    results.update(measured)
    results["full"] = {
        "database": prepared["database"],
        "dataset": prepared["dataset"],
        "setup": prepared["setup"],
        "endpoints": endpoints,
    }
    if not args.skip_ingest:
        results["ingest"] = {**(http_ingest or {}), **measure_script_ingest(env, base_url)}
    if not args.skip_ingest:
        results["xapi"] = measure_xapi(env, base_url, args)
    if not args.skip_export:
        results["export"] = measure_export(env, base_url)
    if not args.skip_scaling:
        results["scaling"] = measure_scaling(env, base_url, results["full"], args, args.families)
    del results["full"]["endpoints"]
    results["machine"]["load_after"] = [round(v, 2) for v in os.getloadavg()]
    results["finished_at"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def write_outputs(args, results, before):
    results["before"] = before  # so `python -m scripts.bench.report` can redraw the page
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, default=str))
    log(f"wrote {output}")
    summary = report.benchmarks_json(results)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    if args.docs:
        report.write_report(results, args.docs, before=before, summary=summary)
        log(f"wrote {args.docs}")
    endpoints = results["endpoints"]
    missed = [f"{e['family']}: {e['label']}: {'; '.join(e['misses'])}" for e in endpoints if e["misses"]]
    log(f"done in {results['elapsed_s'] / 60:.1f} min; {len(missed)} endpoints miss a target")
    for line in missed:
        log(f"  {line}")


if __name__ == "__main__":
    main()
