"""Ingest benchmark on PostgreSQL: the tracking API (items/s, batches of 500) and import_data (lines/s).

Not a test. Creates and migrates the database (default la_ingest on 127.0.0.1), makes a fresh
workspace (the previous run's bench rows are deleted first), then:

1. Tracking API in-process (Django test client: middleware, authentication, parsing, validation,
   bulk upsert; no HTTP server): batches of BATCH page sessions sent by an admin API key for 200
   learners (new ids), the same ids re-sent as heartbeats (updates), a learner's bearer token
   sending their own sessions, and mixed batches of events / video views / reactions.
2. Tracking API over HTTP (--http): gunicorn with 2 sync workers on 127.0.0.1 and 4 client threads
   sending page-session batches; the client runs on the same 2 cores.
3. import_data of a generated file mixing every kind, then the same file again (unchanged).

Writes docs/benchmarks-ingest.md.

    .venv/bin/python scripts/bench_ingest.py [--batches 40] [--batch 500] [--import-scale 1] [--http]

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/la_ingest).
"""

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_ingest"
SLUG = "bench-ingest"
IMPORT_SLUG = "bench-ingest-import"
EMAIL_DOMAIN = "bench-ingest.test"
TARGET_ITEMS_S = 5000


def reset_bench_rows():
    from accounts.models import User, Workspace

    Workspace.objects.filter(slug__in=[SLUG, IMPORT_SLUG]).delete()
    User.objects.filter(email__endswith="@" + EMAIL_DOMAIN).delete()


def make_world(learners=200, courses=20, videos=40):
    from accounts.models import ApiKey, Membership, Role, User, Workspace
    from accounts.tokens import issue_tokens
    from courses.models import Course, Video

    workspace = Workspace.objects.create(slug=SLUG, name="Ingest benchmark")
    users = User.objects.bulk_create([User(email=f"learner{i}@{EMAIL_DOMAIN}") for i in range(learners)])
    users = list(User.objects.filter(email__endswith="@" + EMAIL_DOMAIN).order_by("id"))
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, role=Role.LEARNER) for u in users])
    course_rows = Course.objects.bulk_create(
        [Course(workspace=workspace, key=f"course-v1:Bench+C{i}+2026", title=f"Course {i}") for i in range(courses)]
    )
    course_rows = list(Course.objects.filter(workspace=workspace).order_by("id"))
    Video.objects.bulk_create(
        [
            Video(workspace=workspace, course=course_rows[i % courses], key=f"video-{i}", duration_s=300)
            for i in range(videos)
        ]
    )
    _, raw_key = ApiKey.issue(workspace)
    _, access = issue_tokens(users[0], workspace)
    return workspace, users, [c.key for c in course_rows], raw_key, str(access)


def page_session_items(users, course_keys, count, *, with_user=True, started=None):
    started = started or datetime(2026, 3, 1, tzinfo=timezone.utc)
    items = []
    for i in range(count):
        key = course_keys[i % len(course_keys)]
        path = f"/player/{key}" if i % 2 else f"/quiz/{key}/chapter{i % 7}"
        item = {
            "id": str(uuid.uuid4()),
            "page": "Course Player" if i % 2 else "Quiz",
            "path": path,
            "startedAt": (started + timedelta(seconds=i)).isoformat(),
            "duration": 30,
        }
        if with_user:
            item["user"] = users[i % len(users)].email
        items.append(item)
    return items


def event_items(users, course_keys, count):
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    items = []
    for i in range(count):
        user = users[i % len(users)].email
        if i % 5 < 3:
            items.append(
                {
                    "id": str(uuid.uuid4()),
                    "user": user,
                    "type": "played_video",
                    "course": course_keys[i % len(course_keys)],
                    "object": f"video-{i % 40}",
                    "occurredAt": (now + timedelta(seconds=i)).isoformat(),
                    "data": {"position": i % 300},
                }
            )
        elif i % 5 == 3:
            items.append(
                {
                    "kind": "video_view",
                    "id": str(uuid.uuid4()),
                    "user": user,
                    "video": f"video-{i % 40}",
                    "startedAt": (now + timedelta(seconds=i)).isoformat(),
                    "watchedSeconds": 60,
                    "position": 90,
                    "segments": list(range(12)),
                    "device": "desktop",
                    "platform": "web",
                    "country": "FR",
                    "bufferingSeconds": 0.5,
                    "bitrateKbps": 2400,
                    "errors": 0,
                }
            )
        else:
            items.append(
                {
                    "kind": "video_reaction",
                    "user": user,
                    "video": f"video-{i % 40}",
                    "type": "like",
                    "at": (now + timedelta(seconds=i)).isoformat(),
                }
            )
    return items


def cpu_seconds(pids):
    """User + system CPU seconds used so far by the given processes (gone ones count 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def own_backend_pid():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


class Meter:
    """Wall time, this process's CPU and the CPU of the given PostgreSQL backends, over a block.

    The machine is shared: wall-clock rates depend on what else runs. CPU seconds per item do
    not, so `estimate` = items / ((app CPU + database CPU) / 2 cores) says what 2 idle cores give
    when the work is spread over two workers (it leaves out I/O waits, which overlap then).
    """

    def __init__(self, app_pids=None, db_pids=()):
        self.app_pids, self.db_pids = app_pids, list(db_pids)

    def __enter__(self):
        self.wall = time.perf_counter()
        self.app = time.process_time() if self.app_pids is None else cpu_seconds(self.app_pids)
        self.db = cpu_seconds(self.db_pids)
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.app = (time.process_time() if self.app_pids is None else cpu_seconds(self.app_pids)) - self.app
        self.db = cpu_seconds(self.db_pids) - self.db

    def row(self, items, cores=2):
        estimate = cores * items / (self.app + self.db) if self.app + self.db else 0
        return (
            f"{items / self.wall:,.0f} | {self.app * 1e6 / items:,.0f} | {self.db * 1e6 / items:,.0f} | {estimate:,.0f}"
        )


def timed_batches(client, url, batches, expect=200):
    """Send each batch (a JSON string); return (seconds per batch list, Meter)."""
    times = []
    with Meter(db_pids=[own_backend_pid()]) as meter:
        for body in batches:
            start = time.perf_counter()
            response = client.post(url, data=body, content_type="application/json")
            times.append(time.perf_counter() - start)
            if response.status_code != expect:
                raise SystemExit(f"{url} answered {response.status_code}: {response.content[:500]!r}")
    return times, meter


def bench_tracking_in_process(args, users, course_keys, raw_key, access):
    from rest_framework.test import APIClient

    key_client = APIClient()
    key_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    results = []

    warm = [json.dumps(page_session_items(users, course_keys, args.batch)) for _ in range(2)]
    timed_batches(key_client, "/api/track/page-sessions", warm)

    batches = [page_session_items(users, course_keys, args.batch) for _ in range(args.batches)]
    bodies = [json.dumps(b) for b in batches]
    results.append(
        (
            "page sessions, new ids (admin API key, 200 users)",
            args.batch,
            *timed_batches(key_client, "/api/track/page-sessions", bodies),
        )
    )

    for batch in batches:
        for item in batch:
            item["duration"] = 60
    results.append(
        (
            "page sessions, heartbeats of the same ids (updates)",
            args.batch,
            *timed_batches(key_client, "/api/track/page-sessions", [json.dumps(b) for b in batches]),
        )
    )

    own = [json.dumps(page_session_items(users, course_keys, args.batch, with_user=False)) for _ in range(args.batches)]
    results.append(
        ("page sessions, a learner's bearer token", args.batch, *timed_batches(bearer, "/api/track/page-sessions", own))
    )

    events = [json.dumps(event_items(users, course_keys, args.batch)) for _ in range(args.batches)]
    results.append(
        (
            "events 60% / video views 20% / reactions 20%",
            args.batch,
            *timed_batches(key_client, "/api/track/events", events),
        )
    )
    return results


def bench_tracking_http(args, users, course_keys, raw_key, port=8765, threads=4):
    env = dict(os.environ)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/schema/")
                break
            except OSError:
                time.sleep(0.1)
        bodies = [json.dumps(page_session_items(users, course_keys, args.batch)) for _ in range(args.batches)]
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {raw_key}"}
        errors = []

        def send(my_bodies):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for body in my_bodies:
                connection.request("POST", "/api/track/page-sessions", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        warm = [json.dumps(page_session_items(users, course_keys, args.batch)) for _ in range(8)]
        threads_warm = [threading.Thread(target=send, args=(warm[i::4],)) for i in range(4)]
        for worker in threads_warm:
            worker.start()
        for worker in threads_warm:
            worker.join()
        import psutil

        worker_pids = [child.pid for child in psutil.Process(server.pid).children()]
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backend_pids = [pid for (pid,) in cursor.fetchall()]
        workers = [threading.Thread(target=send, args=(bodies[i::threads],)) for i in range(threads)]
        with Meter(app_pids=worker_pids, db_pids=backend_pids) as meter:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        if errors:
            raise SystemExit(f"HTTP benchmark got statuses {errors[:5]}")
        return len(bodies) * args.batch, meter
    finally:
        server.terminate()
        server.wait(timeout=30)


def import_lines(scale):
    """A JSON lines file mixing every kind, kinds shuffled (children before parents)."""
    users, courses, chapters_per, videos_per = 1000 * scale, 50 * scale, 4, 4
    lines = []
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(users):
        lines.append(
            {
                "kind": "user",
                "email": f"imported{i}@{EMAIL_DOMAIN}",
                "name": f"Learner {i}",
                "role": "learner",
                "country": "FR",
                "groups": [f"Team {i % 10}"],
                "attributes": {"Department": f"D{i % 5}"},
            }
        )
    for c in range(courses):
        key = f"course-v1:Imp+C{c}+2026"
        lines.append({"kind": "course", "key": key, "title": f"Imported course {c}"})
        for h in range(chapters_per):
            lines.append({"kind": "chapter", "course": key, "key": f"ch{h}", "title": f"Chapter {h}", "position": h})
        for v in range(videos_per):
            lines.append(
                {"kind": "video", "course": key, "key": f"imp-video-{c}-{v}", "chapter": f"ch{v}", "duration": 300}
            )
    for i in range(users * 5):
        user, c = f"imported{i % users}@{EMAIL_DOMAIN}", (i // users + i) % courses
        key = f"course-v1:Imp+C{c}+2026"
        when = (t0 + timedelta(minutes=i)).isoformat()
        lines.append({"kind": "enrollment", "user": user, "course": key, "enrolledAt": when, "mode": "audit"})
        lines.append(
            {"kind": "attempt", "user": user, "course": key, "progress": i % 101, "score": 50.5, "timeSpent": 600}
        )
        for s in range(3):
            lines.append(
                {
                    "kind": "page_session",
                    "id": str(uuid.UUID(int=i * 8 + s)),
                    "user": user,
                    "page": "Course Player",
                    "path": f"/player/{key}",
                    "startedAt": when,
                    "duration": 60 + s,
                }
            )
        lines.append(
            {
                "kind": "event",
                "id": str(uuid.UUID(int=(1 << 64) + i)),
                "user": user,
                "type": "viewed",
                "occurredAt": when,
                "course": key,
            }
        )
        lines.append(
            {
                "kind": "video_view",
                "id": str(uuid.UUID(int=(1 << 65) + i)),
                "user": user,
                "video": f"imp-video-{c}-{i % videos_per}",
                "startedAt": when,
                "watchedSeconds": 100,
                "segments": list(range(20)),
            }
        )
    lines.reverse()  # dependents first: the import must order them itself
    return [json.dumps(line) for line in lines]


def bench_import(scale):
    from io import StringIO

    from django.core.management import call_command

    lines = import_lines(scale)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
        path = handle.name
    try:
        timings = []
        for _ in range(2):
            out = StringIO()
            with Meter(db_pids=[own_backend_pid()]) as meter:
                call_command("import_data", "--workspace", IMPORT_SLUG, path, stdout=out, stderr=out)
            timings.append((meter, out.getvalue()))
        return len(lines), timings
    finally:
        os.unlink(path)


def machine_notes():
    import psutil

    load = os.getloadavg()
    return (
        f"{platform.platform()}, Python {platform.python_version()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load average at start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--import-scale", type=int, default=1)
    parser.add_argument("--http", action="store_true", help="also run gunicorn (2 workers) and send over HTTP")
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/benchmarks-ingest.md")
    args = parser.parse_args()

    configure_environment(DEFAULT_DATABASE_URL)
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark is for PostgreSQL: set DATABASE_URL=postgres://...")
    notes = machine_notes()
    call_command("migrate", verbosity=0)
    reset_bench_rows()
    workspace, users, course_keys, raw_key, access = make_world()
    server_version = connection.cursor().connection.info.server_version

    tracking = bench_tracking_in_process(args, users, course_keys, raw_key, access)
    http_result = bench_tracking_http(args, users, course_keys, raw_key) if args.http else None
    lines, import_timings = bench_import(args.import_scale)

    report = [
        "# Ingest benchmark",
        "",
        "Made by `scripts/bench_ingest.py` (not a test); numbers from the last run. Re-run with",
        "`DATABASE_URL=postgres://postgres@127.0.0.1:5432/la_ingest .venv/bin/python scripts/bench_ingest.py --http`.",
        "",
        f"- Machine: {notes}. Shared with other engineers' test runs while measured, so these are",
        "  lower bounds of what the code does on 2 idle cores.",
        f"- PostgreSQL {server_version // 10000}.{server_version % 100} on the same machine; Django with DEBUG=0.",
        f"- Target: at least {TARGET_ITEMS_S:,} tracking items/s with batches of {args.batch}.",
        "",
        "## Tracking API, in process",
        "",
        "One Django process, one core: the Django test client goes through the middleware, authentication,",
        "JSON parsing, validation and the bulk upsert in one transaction; no HTTP server.",
        "",
        "Columns: wall-clock items/s as measured on the shared machine; CPU microseconds per item of the",
        "Django process and of its PostgreSQL backend; the **2-core estimate** = items / ((app CPU + database",
        "CPU) / 2), what two idle cores give with the work spread over two workers (I/O waits such as the",
        "commit's fsync overlap between workers and are left out).",
        "",
        "| batches of items | batches | median ms / batch | items/s (wall) | app µs / item | db µs / item | 2-core estimate, items/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, size, times, meter in tracking:
        report.append(
            f"| {label} | {len(times)} × {size} | {statistics.median(times) * 1000:.0f} | {meter.row(size * len(times))} |"
        )
    if http_result:
        items, meter = http_result
        report += [
            "",
            "## Tracking API over HTTP",
            "",
            f"gunicorn with 2 sync workers on 127.0.0.1, 4 client threads (on the same cores) sending "
            f"{args.batches} batches of {args.batch} new page sessions with an admin API key. CPU is that of",
            "the two workers and their PostgreSQL backends (the client's is left out).",
            "",
            "| items/s (wall) | app µs / item | db µs / item | 2-core estimate, items/s |",
            "|---:|---:|---:|---:|",
            f"| {meter.row(items)} |",
        ]
    if http_result:
        items, meter = http_result
        report += [
            "",
            f"**Against the target** ({TARGET_ITEMS_S:,} items/s on 2 cores, batches of {args.batch}): over HTTP the",
            f"service took {items / meter.wall:,.0f} items/s of wall clock while sharing the cores with the client",
            "and the other engineers' runs; its own cost was "
            f"{(meter.app + meter.db) * 1e6 / items:,.0f} µs of CPU per item (app + database), i.e. about",
            f"{2 * items / (meter.app + meter.db):,.0f} items/s on 2 idle cores. Re-run on an idle machine to see it in wall time.",
        ]
    report += [
        "",
        "## import_data",
        "",
        f"A generated file of {lines:,} lines mixing every kind, written "
        "dependents first (the import orders the kinds itself). One process that waits for its database",
        "backend, so its idle estimate is lines / (app CPU + database CPU), one core's worth.",
        "",
        "| run | seconds | lines/s (wall) | app µs / line | db µs / line | idle estimate, lines/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (meter, _) in zip(("first import (creates)", "same file again (changes nothing)"), import_timings):
        report.append(f"| {label} | {meter.wall:.1f} | {meter.row(lines, cores=1)} |")
    report += ["", "Summary printed by the first import:", "", "```", import_timings[0][1].strip(), "```", ""]
    text = "\n".join(report)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks-ingest.md").write_text(text)
        print("wrote docs/benchmarks-ingest.md")
    # The bench rows stay until the next run: the request-metrics middleware may still be writing
    # rows that point at the bench workspace.


if __name__ == "__main__":
    main()
