"""Per-request cost of the light read endpoints, in process (issue 21, "Per-request cost").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/la_mine .venv/bin/python -m scripts.request_cost \
        [--n 200] [--endpoints learner_analytics,enrollment,...] [--profile NAME] [--json FILE]

Each request goes through Django's WSGI handler as gunicorn calls it (request_started and
request_finished fire, so the connection health check and the request metrics run), with the
real credentials the benchmark uses (API key, instructors' and learners' bearer tokens), built
from the data by scripts/bench/prepare.py. For each endpoint: SQL statements per request (the
mean over its first requests), the web process's CPU per request (time.process_time over N
requests, round robin over the endpoint's requests) and the PostgreSQL backends' CPU (psutil of
every backend of the database, PostgreSQL on the same machine). `--profile NAME` prints cProfile's
heaviest functions for that endpoint instead.

The rate limits are on (each setting 1000000/min unless the environment sets it), so that each
request pays its throttle as in production; the cache is the one settings choose (CACHE_URL).
The database must be a copy of your own: the script issues an API key and tokens, and the API
keys' last-use stamp and the request metrics are written as in production.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# family.name of scripts/bench/prepare.py's ENDPOINTS (`users` is both 360Learning's and VideoCloud's).
LIGHT = (
    "learner.learner_analytics",
    "course_info.enrollment",
    "course_info.enrollment_mode",
    "course_info.enrollment_location",
    "course_info.activity",
    "course_info.videos",
    "course_stats.courses_stats",
    "course_stats.users",
    "video_cloud.video",
)
FLOORS = ("me_api_key", "me_jwt")
STATEMENT_SAMPLES = 5


def configure():
    from config.rates import RATE_LIMIT_SETTINGS

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or url.rstrip("/").endswith("/la_bench"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database of your own (never la_bench).")
    for name in RATE_LIMIT_SETTINGS:
        os.environ.setdefault(name, "1000000/min")
    # One backend for the whole run (settings' 60 s would replace it mid-run, and with it the
    # pid whose CPU is read).
    os.environ.setdefault("DB_CONN_MAX_AGE", "3600")
    from benchlib import configure_environment

    configure_environment(url)
    import django

    django.setup()


def wsgi_environ(request):
    """The WSGI environ of a request of prepare.py's lists ({method, path, headers, body})."""
    from django.test.client import RequestFactory

    class EnvironFactory(RequestFactory):
        def request(self, **environ):
            return self._base_environ(**environ)

    headers = {k: v for k, v in request["headers"].items() if k != "Content-Type"}
    kwargs = {"headers": headers}
    if request.get("body") is not None:
        kwargs.update(data=request["body"], content_type="application/json")
    path, _, query = request["path"].partition("?")
    environ = EnvironFactory().generic(request["method"], path, **kwargs)
    environ["QUERY_STRING"] = query
    return environ


class Server:
    """Django's WSGI application, called as gunicorn calls it."""

    def __init__(self):
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()

    def __call__(self, request):
        import io as _io

        environ = dict(request["environ"])
        body = request.get("body")
        environ["wsgi.input"] = _io.BytesIO(body.encode() if body else b"")
        status = []
        response = self.handler(environ, lambda s, h, exc_info=None: status.append(s))
        try:
            size = sum(len(chunk) for chunk in response)
        finally:
            response.close()
        return int(status[0].split()[0]), size


def backend_pids():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [pid for (pid,) in cursor.fetchall()]


def cpu_of(pids):
    """{pid: CPU seconds} of the processes still there."""
    import psutil

    seconds = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seconds[pid] = times.user + times.system
    return seconds


def endpoint_requests(names):
    from accounts.models import Workspace
    from scripts.bench import prepare

    workspace = Workspace.objects.get(slug="demo")
    rng = random.Random(11)
    credentials = prepare.issue_credentials(workspace, rng)
    ctx = prepare.build_context(workspace, credentials, rng)
    found = {}
    for family, name, label, build in prepare.ENDPOINTS:
        if f"{family}.{name}" in names:
            found[f"{family}.{name}"] = (label, build(ctx))
    found["me_api_key"] = ("GET /api/me/ (API key): framework floor", [prepare._get("/api/me/", ctx["api"])])
    found["me_jwt"] = ("GET /api/me/ (learner token): framework floor", [prepare._get("/api/me/", ctx["learners"][0])])
    for label, requests in found.values():
        for request in requests:
            request["environ"] = wsgi_environ(request)
    return found


def count_statements(server, requests):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts, sqls = [], []
    for request in requests[:STATEMENT_SAMPLES]:
        with CaptureQueriesContext(connection) as captured:
            server(request)
        counts.append(len(captured.captured_queries))
        sqls.append([q["sql"] for q in captured.captured_queries])
    return sum(counts) / len(counts), sqls


def measure(server, requests, n):
    """(web CPU ms, backend CPU ms, wall ms) per request over n requests, statuses seen."""
    statuses = set()
    for request in requests:  # warm: caches, buffers, the credentials' first lookups
        statuses.add(server(request)[0])
    pids = backend_pids()
    backend_before = cpu_of(pids)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for index in range(n):
        statuses.add(server(requests[index % len(requests)])[0])
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    # Backends that ended in between (the request-metrics thread closes its connection after
    # each write) are left out: what they spent is not known.
    # A backend that started in between counts whole.
    backend_after = cpu_of(set(pids) | set(backend_pids()))
    backend = sum(seconds - backend_before.get(pid, 0.0) for pid, seconds in backend_after.items())
    return cpu * 1000 / n, backend * 1000 / n, wall * 1000 / n, sorted(statuses)


def profile(server, requests, n, limit=45):
    for request in requests:
        server(request)
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(n):
        server(requests[index % len(requests)])
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(limit)
        print(out.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--endpoints", default=",".join(LIGHT + FLOORS))
    parser.add_argument("--profile", default="")
    parser.add_argument("--sql", action="store_true", help="print the statements of the first request")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    configure()
    names = [name for name in args.endpoints.split(",") if name]
    found = endpoint_requests(set(names) | ({args.profile} if args.profile else set()))
    server = Server()
    if args.profile:
        label, requests = found[args.profile]
        profile(server, requests, args.n)
        return
    rows = []
    print(f"{'endpoint':<32} {'stmts':>6} {'web ms':>7} {'db ms':>6} {'sum ms':>7} {'wall ms':>8}  statuses")
    for name in names:
        if name not in found:
            print(f"{name}: no requests")
            continue
        label, requests = found[name]
        server(requests[0])
        statements, sqls = count_statements(server, requests)
        web, backend, wall, statuses = measure(server, requests, args.n)
        rows.append(
            {
                "name": name,
                "label": label,
                "statements": statements,
                "web_cpu_ms": round(web, 2),
                "db_cpu_ms": round(backend, 2),
                "wall_ms": round(wall, 2),
                "statuses": statuses,
            }
        )
        print(
            f"{name:<32} {statements:>6.1f} {web:>7.2f} {backend:>6.2f} {web + backend:>7.2f} {wall:>8.2f}  {statuses}"
        )
        if args.sql:
            for sql in sqls[0]:
                print("    ", sql[:200])
    if args.json:
        load = os.getloadavg()
        Path(args.json).write_text(json.dumps({"n": args.n, "load_1min": load[0], "endpoints": rows}, indent=1))


if __name__ == "__main__":
    main()
