"""Benchmark of GET /api/v2/courses/stats on PostgreSQL: page 1 and page 1,000 of 5M attempts.

Not a test. Creates and migrates the database (default la_stats360 on 127.0.0.1), fills one
workspace with USERS x COURSES attempts in bulk (INSERT ... SELECT generate_series; skipped
when the rows are already there), then times requests through the Django test client with an
admin API key and writes docs/benchmarks-course-stats.md.

    .venv/bin/python scripts/bench_course_stats.py [--users 50000] [--courses 100] [--runs 30]

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/la_stats360).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_stats360"
WORKSPACE_SLUG = "bench-course-stats"
PAGE = 500
TARGET_MS = 50


def attempt_column_sql():
    """SQL expression for every Attempt column, given `g` (the series value), `u`/`c` (ids).

    Built from the model so that a new NOT NULL column fails loudly instead of silently.
    """
    from courses.models import Attempt

    expressions = {
        "workspace_id": "%(workspace_id)s",
        "public_id": "'b' || lpad(to_hex(g), 23, '0')",
        "user_id": "u.ids[g / %(courses)s + 1]",
        "course_id": "c.ids[g %% %(courses)s + 1]",
        "version_number": "0",
        "lang": "CASE WHEN g %% 7 = 0 THEN '' ELSE 'fr' END",
        "state": "CASE WHEN g %% 3 = 0 THEN 'IN_PROGRESS' ELSE 'APPROVED' END",
        "progress": "g %% 101",
        "score": "CASE WHEN g %% 5 = 0 THEN NULL ELSE g %% 101 END",
        "time_spent_s": "g %% 7200",
        "first_activity_at": "timestamptz '2024-01-01 00:00:00+00' + (g %% 525600) * interval '1 minute'",
        "last_activity_at": "timestamptz '2024-01-01 01:00:00+00' + (g %% 525600) * interval '1 minute'",
        "completed_at": "CASE WHEN g %% 3 = 0 THEN NULL ELSE timestamptz '2024-01-01 02:00:00+00' + (g %% 525600) * interval '1 minute' END",
        "certificate_issued_at": "NULL",
        "expires_at": "NULL",
        "path_id": "''",
        "path_session_id": "''",
        "created_at": "now()",
        "updated_at": "now()",
    }
    columns = [f.column for f in Attempt._meta.concrete_fields if f.column != "id"]
    missing = [column for column in columns if column not in expressions]
    if missing:
        raise SystemExit(f"bench_course_stats.py does not know how to fill {missing}; add them")
    return columns, [expressions[column] for column in columns]


def fill(workspace, user_count, course_count, chunk=500_000):
    """USERS x COURSES attempts in the workspace, in chunks of one INSERT ... SELECT each."""
    from django.db import connection

    from accounts.models import Membership, User
    from courses.models import Attempt, Course

    total = user_count * course_count
    have = Attempt.objects.filter(workspace=workspace).count()
    if have == total:
        print(f"{have:,} attempts already there")
        return
    if have:
        raise SystemExit(
            f"workspace {WORKSPACE_SLUG} has {have:,} attempts, expected 0 or {total:,}; drop the database"
        )
    started = time.perf_counter()
    if Course.objects.filter(workspace=workspace).count() != course_count:
        Course.objects.bulk_create(
            [Course(workspace=workspace, key=f"bench-course-{n:04d}", title=f"Course {n}") for n in range(course_count)]
        )
    if Membership.objects.filter(workspace=workspace).count() != user_count:
        for first in range(0, user_count, 10_000):
            users = User.objects.bulk_create(
                [
                    User(email=f"bench{n:07d}@bench.test", first_name="Bench", last_name=str(n))
                    for n in range(first, min(first + 10_000, user_count))
                ]
            )
            Membership.objects.bulk_create([Membership(user=user, workspace=workspace) for user in users])
    print(f"users and courses in {time.perf_counter() - started:.1f}s")
    columns, expressions = attempt_column_sql()
    sql = (
        "WITH u AS (SELECT array_agg(m.user_id ORDER BY m.user_id) AS ids FROM accounts_membership m "
        "WHERE m.workspace_id = %(workspace_id)s), "
        "c AS (SELECT array_agg(id ORDER BY id) AS ids FROM courses_course WHERE workspace_id = %(workspace_id)s) "
        f"INSERT INTO courses_attempt ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM generate_series(%(first)s, %(last)s) AS g, u, c"
    )
    with connection.cursor() as cursor:
        for first in range(0, total, chunk):
            last = min(first + chunk, total) - 1
            cursor.execute(sql, {"workspace_id": workspace.pk, "courses": course_count, "first": first, "last": last})
            print(f"  attempts {last + 1:>10,} / {total:,}  ({time.perf_counter() - started:.0f}s)", flush=True)
        cursor.execute("ANALYZE courses_attempt")
        cursor.execute("ANALYZE accounts_user")
        cursor.execute("ANALYZE accounts_membership")
        cursor.execute("ANALYZE courses_course")
    print(f"filled in {time.perf_counter() - started:.0f}s")


CPU_MS = []  # process CPU time of each timed request, in the order timed


def timed(client, url, headers):
    """Wall-clock ms of one request (and its process CPU ms, appended to CPU_MS)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    response = client.get(url, headers=headers)
    elapsed_ms = (time.perf_counter() - started) * 1000
    CPU_MS.append((time.process_time() - started_cpu) * 1000)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return elapsed_ms, response


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"min": ordered[0], "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def explain(sql_and_params):
    from django.db import connection

    sql, params = sql_and_params
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--courses", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument("--page", type=int, default=1000, help="the deep page to time")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-course-stats.md"))
    args = parser.parse_args()

    configure_environment(DEFAULT_DATABASE_URL)
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client

    from accounts.models import ApiKey, Role, Workspace
    from analytics.api import course_stats as api
    from analytics.queries import course_stats as queries
    from courses.models import Attempt

    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL"
    call_command("migrate", verbosity=0)
    workspace, _ = Workspace.objects.get_or_create(slug=WORKSPACE_SLUG, defaults={"name": "Benchmark"})
    fill(workspace, args.users, args.courses)
    total = Attempt.objects.filter(workspace=workspace).count()
    ApiKey.objects.filter(workspace=workspace).delete()
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name="benchmark")
    client = Client()
    headers = {"Authorization": f"Api-Key {raw_key}", "360-api-version": "v2.0"}

    # The deep page's cursor, made as the API makes it, and the row it must start with.
    skip = (args.page - 1) * PAGE
    first_ids = list(
        Attempt.objects.filter(workspace=workspace).order_by("id").values_list("id", "public_id")[skip - 1 : skip + 1]
    )
    after, expected_first_public_id = first_ids[0][0], first_ids[1][1]
    digest = api.filters_digest("courses-stats", workspace, QueryDict(""))
    deep_url = f"/api/v2/courses/stats?next={api.encode_cursor('courses-stats', after, digest)}"

    # Walk the first pages through the Link header, as a client does.
    del CPU_MS[:]
    walk_ms, url = [], "/api/v2/courses/stats"
    for _ in range(args.page):
        elapsed, response = timed(client, url, headers)
        walk_ms.append(elapsed)
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    walk_cpu = summary(CPU_MS)
    walked_deep_first = response.json()[0]["_id"]
    assert walked_deep_first == expected_first_public_id, "walking the Link headers reached another page"

    results, cpu_results = {}, {}
    for label, page_url in (("page 1", "/api/v2/courses/stats"), (f"page {args.page:,}", deep_url)):
        for _ in range(3):
            timed(client, page_url, headers)  # warm-up
        del CPU_MS[:]
        samples = [timed(client, page_url, headers)[0] for _ in range(args.runs)]
        results[label] = summary(samples)
        cpu_results[label] = summary(CPU_MS)
        rows = client.get(page_url, headers=headers).json()
        assert len(rows) == PAGE
    assert client.get(deep_url, headers=headers).json()[0]["_id"] == expected_first_public_id

    informational = {}
    for label, page_url in (
        ("page 1, courseId[eq]", "/api/v2/courses/stats?courseId%5Beq%5D=bench-course-0042"),
        (
            "page 1, completedAt[gte] (last month of 12)",
            "/api/v2/courses/stats?completedAt%5Bgte%5D=2024-12-01T00:00:00Z",
        ),
        ("page 1, progress[gte]=90", "/api/v2/courses/stats?progress%5Bgte%5D=90"),
        ("page 1, users", "/api/v2/users"),
    ):
        timed(client, page_url, headers)
        informational[label] = summary([timed(client, page_url, headers)[0] for _ in range(max(5, args.runs // 3))])

    # Query-only timing and plan of the deep page.
    query_ms = []
    for _ in range(args.runs):
        started = time.perf_counter()
        queries.attempts_page(workspace, (), after=after)
        query_ms.append((time.perf_counter() - started) * 1000)
    page_queryset = queries._attempt_rows(Attempt.objects.filter(workspace=workspace, id__gt=after)).order_by("id")[
        : PAGE + 1
    ]
    plan = explain(page_queryset.query.sql_with_params())

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('courses_attempt'))")
        table_size = cursor.fetchone()[0]

    ok = all(r["median"] < TARGET_MS for r in results.values())
    cpu_ok = all(r["median"] < TARGET_MS for r in cpu_results.values())
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[:3]
    lines = [
        "# Benchmark: GET /api/v2/courses/stats (keyset pagination)",
        "",
        "Made by `scripts/bench_course_stats.py` (rerun it to refresh this page). The numbers are",
        "times of whole requests through Django's test client (authentication, the page query,",
        "serialization of 500 rows, JSON rendering), DEBUG off, on a 2-core machine shared with other",
        "work. Wall-clock time includes waiting for a CPU; process CPU time is what the request",
        "itself costs the web process (the database's part is in the query plan below: under 1 ms).",
        "",
        f"- Database: {pg_version}, `courses_attempt` {table_size} with its indexes",
        f"- Data: {total:,} attempts in one workspace ({args.users:,} members x {args.courses} courses)",
        f"- Python {platform.python_version()}, Django {django.get_version()}, DEBUG={settings.DEBUG}",
        f"- {args.runs} timed requests per page after 3 warm-up requests",
        f"- Load average when the timings ended: {' '.join(load)} (2 cores)",
        "",
        f"## Target: page 1 and page {args.page:,} under {TARGET_MS} ms",
        "",
        f"Median wall-clock time: {'met' if ok else 'NOT met'}. Median process CPU time: {'met' if cpu_ok else 'NOT met'}.",
        "",
        "| request | min ms | median ms | p95 ms | max ms | CPU min ms | CPU median ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        c = cpu_results[label]
        lines.append(
            f"| {label} | {r['min']:.1f} | {r['median']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {c['min']:.1f} | {c['median']:.1f} |"
        )
    walk = summary(walk_ms)
    lines += [
        f"| walking pages 1-{args.page:,} through the Link header ({args.page:,} requests) | {walk['min']:.1f} | "
        f"{walk['median']:.1f} | {walk['p95']:.1f} | {walk['max']:.1f} | {walk_cpu['min']:.1f} | {walk_cpu['median']:.1f} |",
        "",
        f"The walk ended on the same first row as the directly built page-{args.page:,} cursor "
        f"(attempt #{skip + 1:,} in id order), so both measure the same page.",
        "",
        "## Filtered first pages (for information)",
        "",
        "A filtered page scans the attempts in id order from the cursor and keeps the matching ones,",
        "so its cost depends on how sparse the matches are in id order. The generated data spreads",
        "dates cyclically over ids, so `completedAt[gte]` for the last month of the cycle skips about",
        "480,000 rows before its first match: the worst case. With real data, ids and dates grow",
        "together, which is the same worst case for a `completedAt[gte]=<last sync>` query over a",
        "long history. An index on `(workspace, completed_at)` was tried: PostgreSQL still prefers",
        "the primary-key walk for `ORDER BY id LIMIT 501`, so it was not added.",
        "",
        "| request | min ms | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in informational.items():
        lines.append(f"| {label} | {r['min']:.1f} | {r['median']:.1f} | {r['p95']:.1f} | {r['max']:.1f} |")
    q = summary(query_ms)
    lines += [
        "",
        f"## The page-{args.page:,} query alone",
        "",
        f"`attempts_page` (the query plus building 500 dicts): median {q['median']:.1f} ms, min {q['min']:.1f} ms.",
        "It walks an id index from the cursor's id and stops after 501 rows; the course and user of",
        "each row come by primary key, so page 1,000 reads as few buffers as page 1. With a single",
        "workspace in the table PostgreSQL walks the primary key and filters on the workspace; with",
        "many workspaces the `(workspace_id, id)` index that `courses.Attempt` already declares serves",
        "the same range. No new index or migration was needed.",
        "",
        "```",
        plan,
        "```",
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
