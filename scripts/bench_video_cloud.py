"""Benchmark of the VideoCloud summary and user analytics on PostgreSQL: GET /analytics/videos/summary,
GET /analytics/users and GET /analytics/users/engagement (each period), on an existing demo
workspace (make the large one with `manage.py generate_demo_data --size large`).

Not a test. Times requests through the Django test client with an admin API key created inside
a transaction that is rolled back at the end (the database is left as it was), prints a markdown
table (min / median / p95 ms per URL, the load average before and after) and the
EXPLAIN (ANALYZE, BUFFERS) of the slowest SQL statement of the slowest URL; --statements also
prints, per URL, each statement's EXPLAIN ANALYZE execution time.

    .venv/bin/python scripts/bench_video_cloud.py [--workspace demo] [--runs 20] [--rebuild] [--statements]

--rebuild first recomputes the learner-day rollups of the workspace (rebuild_learner_activity)
and reports its time; it writes. Environment: DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/la_bench).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_bench"
URLS = [
    *(f"/analytics/videos/summary?period={period}" for period in ("7d", "30d", "90d", "all")),
    *(f"/analytics/users?period={period}" for period in ("7d", "30d", "90d", "all")),
    *(f"/analytics/users/engagement?period={period}" for period in ("7d", "30d", "90d", "all")),
]


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"min": ordered[0], "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def load_average():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def print_statement_times(client, url, headers):
    """Each SELECT of one request of `url`: its EXPLAIN ANALYZE execution time and its start."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    for query in queries.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
        execution = next(line for line in plan if line.startswith("Execution Time")).split(":")[1].strip()
        print(f"    {execution:>12}  {' '.join(sql.split())[:100]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", default="demo")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per URL (after 2 warm-ups)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the workspace's rollups first (writes)")
    parser.add_argument("--statements", action="store_true", help="EXPLAIN ANALYZE every statement of each URL")
    args = parser.parse_args()

    configure_environment(DEFAULT_DATABASE_URL)
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import ApiKey, Role, Workspace
    from analytics.models import LearnerDay
    from analytics.services.learner_activity import rebuild_learner_activity

    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL"
    workspace = Workspace.objects.get(slug=args.workspace)
    if args.rebuild:
        print(f"load before the rebuild: {load_average()}")
        started = time.perf_counter()
        days, learners = rebuild_learner_activity(workspace)
        print(
            f"rebuild_learner_activity: {days:,} learner-days, {learners:,} learners "
            f"in {time.perf_counter() - started:.1f} s (load {load_average()})"
        )
    if not LearnerDay.objects.filter(workspace=workspace).exists():
        raise SystemExit("no learner-day rows: run manage.py rebuild_learner_activity (or --rebuild) first")

    results, slowest = {}, (0.0, None)
    print(f"load before: {load_average()}")
    with transaction.atomic():
        _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name="bench_video_cloud")
        client = Client()
        headers = {"Authorization": f"Api-Key {raw_key}"}
        for url in URLS:
            for _ in range(2):
                assert client.get(url, headers=headers).status_code == 200, url
            samples = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(url, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code, response.content[:300])
            results[url] = summary(samples)
            print(f"{url:45} median {results[url]['median']:8.1f} ms  p95 {results[url]['p95']:8.1f} ms", flush=True)
            if args.statements:
                print_statement_times(client, url, headers)
            if results[url]["median"] > slowest[0]:
                slowest = (results[url]["median"], url)
        load_after = load_average()
        with CaptureQueriesContext(connection) as queries:
            client.get(slowest[1], headers=headers)
        statement = max(queries.captured_queries, key=lambda query: float(query["time"]))
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)

    print(f"\nload after: {load_after}\n")
    print("| URL | min ms | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for url, figures in results.items():
        print(
            f"| `{url}` | {figures['min']:.1f} | {figures['median']:.1f} | {figures['p95']:.1f} | {figures['max']:.1f} |"
        )
    print(f"\nSlowest statement of `{slowest[1]}` ({float(statement['time']) * 1000:.1f} ms):\n")
    print(statement["sql"])
    print("\n" + plan)


if __name__ == "__main__":
    main()
