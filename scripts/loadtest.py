"""Load test (`make loadtest`): locust, headless, on the loopback, for a bounded time.

8 users (the benchmark's 8 concurrent clients, no think time) send mixed reads of four API
families and tracking writes to gunicorn (2 workers) on a PostgreSQL database of the test's own
(la_loadtest on LOADTEST_DATABASE_URL's server, created if missing and seeded once with the small
demo). Rate limits are off for the run (their own tests are elsewhere). Afterwards it asserts zero
failed requests and zero lost tracking items: items sent = items acknowledged = rows stored under
the run's own page path.

    LOADTEST_DURATION=300 python scripts/loadtest.py   # seconds, default 300
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.faultlib import PROJECT_DIR, Gunicorn, free_port, load_average, manage, service_env  # noqa: E402

OUT_DIR = PROJECT_DIR / "var" / "loadtest"
DATABASE_URL = os.environ.get("LOADTEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/la_loadtest")
USERS = int(os.environ.get("LOADTEST_USERS", "8"))
SIZE = os.environ.get("LOADTEST_SIZE", "small")


def ensure_database(url):
    """Create the database when it does not exist (never drops one)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    name = params["dbname"]
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def main():
    duration_s = int(os.environ.get("LOADTEST_DURATION", "300"))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database(DATABASE_URL)
    env = service_env(DATABASE_URL)
    print(f"Seeding {DATABASE_URL.rsplit('@', 1)[-1]} ({SIZE} demo, once) ...", flush=True)
    manage(env, "migrate", "--noinput")
    manage(env, "generate_demo_data", "--size", SIZE, "--if-empty")

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from accounts.models import ApiKey, Membership, Role, Workspace
    from analytics.models import PageSession
    from courses.models import Course, Video

    workspace = Workspace.objects.get(slug="demo")
    _, api_key = ApiKey.issue(workspace, role=Role.ADMIN, name="loadtest")
    emails = Membership.objects.filter(workspace=workspace, role=Role.LEARNER).values_list("user__email", flat=True)
    courses = Course.objects.filter(workspace=workspace).values_list("key", flat=True)
    videos = Video.objects.filter(course__workspace=workspace).values_list("key", flat=True)
    run_path = f"/player/loadtest-{uuid.uuid4().hex[:12]}"
    result_path = OUT_DIR / "tracking.json"
    result_path.unlink(missing_ok=True)
    connection.close()

    server = Gunicorn(env, free_port(), workers=2, log_path=OUT_DIR / "gunicorn.log")
    locust_env = {
        **env,
        "LOADTEST_API_KEY": api_key,
        "LOADTEST_PATH": run_path,
        "LOADTEST_EMAILS": ",".join(list(emails[:200])),
        "LOADTEST_COURSES": ",".join(list(courses[:20])),
        "LOADTEST_VIDEOS": ",".join(list(videos[:20])),
        "LOADTEST_RESULT": str(result_path),
    }
    print(f"locust: {USERS} users for {duration_s} s against {server.base_url} ({load_average()})", flush=True)
    started = time.monotonic()
    try:
        subprocess.run(
            [
                str(Path(sys.executable).with_name("locust")),
                "-f",
                str(PROJECT_DIR / "scripts" / "locustfile.py"),
                "--headless",
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                f"{duration_s}s",
                "--stop-timeout",
                "30",
                "--host",
                server.base_url,
                "--csv",
                str(OUT_DIR / "run"),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=PROJECT_DIR,
            env=locust_env,
            check=False,
        )
    finally:
        server.stop()
    elapsed_s = time.monotonic() - started
    load = load_average()

    totals = json.loads(result_path.read_text())
    stored = PageSession.objects.filter(workspace=workspace, path=run_path).count()
    connection.close()
    endpoints = totals["endpoints"]
    print(f"\n{'endpoint':<42} {'requests':>8} {'fails':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for row in endpoints:
        print(
            f"{row['name']:<42} {row['requests']:>8} {row['failures']:>5} {row['p50_ms']:>7} "
            f"{row['p95_ms']:>7} {row['p99_ms']:>7}"
        )
    aggregated = endpoints[-1]
    failures = aggregated["failures"]
    summary = {
        "duration_s": round(elapsed_s),
        "users": USERS,
        "requests": aggregated["requests"],
        "requests_per_s": aggregated["requests_per_s"],
        "failures": failures,
        "tracking_items_sent": totals["items_sent"],
        "tracking_items_acknowledged": totals["items_acknowledged"],
        "tracking_rows_stored": stored,
        "load_after": load,
    }
    print(json.dumps(summary, indent=2))
    ok = failures == 0 and totals["items_sent"] == totals["items_acknowledged"] == stored
    print("PASS: zero errors, zero lost tracking items" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
