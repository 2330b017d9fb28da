"""Benchmark of POST /analyse/results and POST /analyse/statistics on PostgreSQL, ~1M results.

Not a test. Creates and migrates the database (default la_analyse on 127.0.0.1), fills one
workspace in bulk with INSERT ... SELECT generate_series (skipped when the rows are already
there), then times whole requests through Django's test client (admin API key; an instructor's
bearer token for the instructor scenario) and writes docs/benchmarks-analyse.md.

    .venv/bin/python scripts/bench_analyse.py [--users 25000] [--courses 200] [--per-user 40]
                                              [--groups 50] [--runs 20] [--explain]

The data: USERS learners x PER_USER courses each = (learner, course) pairs, every pair one
result row. 12 % of the pairs are enrollments without attempt (NOT_STARTED / EXPIRED rows), 8 %
attempts without enrollment (NOT_ENROLLED), the rest both; one attempt pair in ten has a second,
later version. 50 groups, two custom fields (Department: 12 values, Region: 6), one instructor
teaching 5 courses.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/la_analyse).
"""

import argparse
import inspect
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_analyse"
WORKSPACE_SLUG = "bench-analyse"
PAGE_TARGET_MS = 100
STATISTICS_TARGET_MS = 300
GROUPS = 50
INSTRUCTOR_COURSES = 5


# One series value g per (learner, course) pair: learner index ui = g / per_user, slot j =
# g % per_user, course index (ui + j * step) % courses (distinct for a learner while
# per_user * step <= courses), kind of pair h = (ui * 31 + j * 17) % 100.
PAIR_SQL = """
    WITH u AS (SELECT array_agg(m.user_id ORDER BY m.user_id) AS ids FROM accounts_membership m
               WHERE m.workspace_id = %(workspace_id)s AND m.role = 'learner'),
         c AS (SELECT array_agg(id ORDER BY id) AS ids FROM courses_course WHERE workspace_id = %(workspace_id)s),
         pairs AS (
             SELECT g, g / %(per_user)s AS ui, g %% %(per_user)s AS j,
                    ((g / %(per_user)s) * 31 + (g %% %(per_user)s) * 17) %% 100 AS h
             FROM generate_series(%(first)s, %(last)s) AS g
         ),
         p AS (
             SELECT pairs.*, u.ids[ui + 1] AS user_id,
                    c.ids[(ui + j * %(step)s) %% %(courses)s + 1] AS course_id,
                    (ui * 13 + j * 7) %% 10 AS s,
                    now() - ((ui * 37 + j * 101) %% 730) * interval '1 day' - (g %% 86400) * interval '1 second'
                        AS last_at
             FROM pairs, u, c
         )
"""

ENROLLMENT_COLUMNS = {
    "workspace_id": "%(workspace_id)s",
    "user_id": "user_id",
    "course_id": "course_id",
    "mode": "'audit'",
    "kind": "CASE WHEN (ui + j) %% 3 = 0 THEN 'MANDATORY' ELSE 'OPTIONAL' END",
    "enrolled_at": "last_at - interval '60 days'",
    "unenrolled_at": "CASE WHEN h %% 50 = 49 THEN last_at - interval '30 days' END",
    "expires_at": "CASE WHEN (ui + j) %% 4 = 0 THEN last_at + interval '120 days' END",
    "updated_at": "now()",
}

# The first of two versions ended 40 days before the second.
OLDER_VERSION_SHIFT = "CASE WHEN v = 0 AND h %% 10 = 5 THEN interval '40 days' ELSE interval '0 days' END"
ATTEMPT_COLUMNS = {
    "workspace_id": "%(workspace_id)s",
    "public_id": "'a' || lpad(to_hex(g * 2 + v), 23, '0')",
    "user_id": "user_id",
    "course_id": "course_id",
    "version_number": "v",
    "lang": "'en'",
    "state": "CASE WHEN v = 0 AND h %% 10 = 5 THEN 'FAILED' WHEN s < 3 THEN 'APPROVED' WHEN s < 7 THEN 'IN_PROGRESS' "
    "WHEN s = 7 THEN 'FAILED' ELSE 'NOT_STARTED' END",
    "progress": "CASE WHEN s < 3 OR s = 7 THEN 100 WHEN s < 7 THEN 5 + g %% 90 ELSE 0 END",
    "score": "CASE WHEN s < 3 THEN 70 + g %% 31 WHEN s = 7 THEN g %% 60 END",
    "time_spent_s": "CASE WHEN s < 8 THEN 60 + g %% 7200 ELSE 0 END",
    "first_activity_at": "CASE WHEN s < 8 THEN last_at - interval '30 days' END",
    "last_activity_at": f"CASE WHEN s < 8 THEN last_at - {OLDER_VERSION_SHIFT} END",
    "completed_at": f"CASE WHEN s < 3 OR s = 7 THEN last_at - {OLDER_VERSION_SHIFT} END",
    "certificate_issued_at": "CASE WHEN s < 3 THEN last_at END",
    "expires_at": "CASE WHEN g %% 20 = 0 THEN last_at + interval '365 days' END",
    "path_id": "''",
    "path_session_id": "''",
    "created_at": "now()",
    "updated_at": "now()",
}


def columns_for(model, expressions):
    """Every concrete column of `model` with its SQL; a new NOT NULL column fails loudly here."""
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    missing = [column for column in columns if column not in expressions]
    if missing:
        raise SystemExit(f"bench_analyse.py does not know how to fill {model.__name__}.{missing}; add them")
    return ", ".join(columns), ", ".join(expressions[column] for column in columns)


def fill(workspace, users, courses, per_user, groups=GROUPS, chunk=250_000):
    """The learners, courses, groups, custom fields, enrollments and attempts of the workspace."""
    from django.db import connection

    from accounts.models import CustomField, LearnerGroup, Membership, Role, User
    from courses.models import Attempt, Course, Enrollment, Result
    from courses.results import rebuild_results

    step = courses // per_user
    if step < 1:
        raise SystemExit("--per-user must not exceed --courses")
    pairs = users * per_user
    if Enrollment.objects.filter(workspace=workspace).exists() or Attempt.objects.filter(workspace=workspace).exists():
        print("attempts and enrollments already there")
        if not Result.objects.filter(workspace=workspace).exists():
            started = time.perf_counter()
            rebuild_results(workspace)  # a database seeded before the result table existed
            print(f"result table rebuilt in {time.perf_counter() - started:.0f}s")
        return
    started = time.perf_counter()
    Course.objects.bulk_create(
        [Course(workspace=workspace, key=f"bench-{n:04d}", title=f"Course {n:04d}") for n in range(courses)]
    )
    for first in range(0, users, 10_000):
        created = User.objects.bulk_create(
            [
                User(email=f"learner{n:07d}@bench.test", first_name=f"Learner{n % 997}", last_name=f"N{n:07d}")
                for n in range(first, min(first + 10_000, users))
            ]
        )
        Membership.objects.bulk_create([Membership(user=user, workspace=workspace) for user in created])
    instructor = User.objects.create(email="instructor@bench.test", first_name="Ines", last_name="Structor")
    Membership.objects.create(user=instructor, workspace=workspace, role=Role.INSTRUCTOR)
    instructor.taught_courses.set(Course.objects.filter(workspace=workspace).order_by("id")[:INSTRUCTOR_COURSES])
    LearnerGroup.objects.bulk_create([LearnerGroup(workspace=workspace, name=f"Group {n:02d}") for n in range(groups)])
    department = CustomField.objects.create(workspace=workspace, name="Department")
    region = CustomField.objects.create(workspace=workspace, name="Region")
    print(f"learners, courses, groups in {time.perf_counter() - started:.1f}s", flush=True)

    learner_ids = """(SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS ui FROM accounts_membership
                      WHERE workspace_id = %(workspace_id)s AND role = 'learner') AS l"""
    group_ids = """(SELECT id, row_number() OVER (ORDER BY name) - 1 AS gi FROM accounts_learnergroup
                    WHERE workspace_id = %(workspace_id)s) AS grp"""
    params = {"workspace_id": workspace.pk, "groups": groups, "department": department.pk, "region": region.pk}
    enrollment_columns, enrollment_values = columns_for(Enrollment, ENROLLMENT_COLUMNS)
    attempt_columns, attempt_values = columns_for(Attempt, ATTEMPT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO accounts_learnergroup_members (learnergroup_id, user_id) "
            f"SELECT grp.id, l.user_id FROM {learner_ids}, {group_ids} "
            f"WHERE grp.gi = l.ui %% %(groups)s OR (l.ui %% 3 = 0 AND grp.gi = (l.ui * 7 + 3) %% %(groups)s "
            f"AND grp.gi <> l.ui %% %(groups)s)",
            params,
        )
        cursor.execute(
            "INSERT INTO accounts_customfieldvalue (field_id, user_id, value) "
            f"SELECT %(department)s, l.user_id, 'Dept ' || (l.ui %% 12) FROM {learner_ids} "
            f"UNION ALL SELECT %(region)s, l.user_id, 'Region ' || ((l.ui / 7) %% 6) FROM {learner_ids}",
            params,
        )
        for first in range(0, pairs, chunk):
            last = min(first + chunk, pairs) - 1
            chunk_params = {
                **params,
                "per_user": per_user,
                "courses": courses,
                "step": step,
                "first": first,
                "last": last,
            }
            cursor.execute(
                PAIR_SQL + f"INSERT INTO courses_enrollment ({enrollment_columns}) "
                f"SELECT {enrollment_values} FROM p WHERE h < 12 OR h >= 20",
                chunk_params,
            )
            cursor.execute(
                PAIR_SQL + f"INSERT INTO courses_attempt ({attempt_columns}) "
                f"SELECT {attempt_values} FROM p, LATERAL (SELECT 0 AS v UNION ALL SELECT 1 WHERE p.h %% 10 = 5) AS versions "
                "WHERE h >= 12",
                chunk_params,
            )
            print(f"  pairs {last + 1:>10,} / {pairs:,}  ({time.perf_counter() - started:.0f}s)", flush=True)
        for table in (
            "courses_attempt",
            "courses_enrollment",
            "accounts_user",
            "accounts_membership",
            "accounts_learnergroup_members",
            "accounts_customfieldvalue",
            "courses_course",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    # The rows above went in by raw SQL, past the write paths that keep the result table.
    rebuilt = time.perf_counter()
    rebuild_results(workspace)
    print(f"result table rebuilt in {time.perf_counter() - rebuilt:.0f}s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE courses_result")
    print(f"filled in {time.perf_counter() - started:.0f}s")


# The same scenarios just before the one-pass scopes (commit 24a85e6: two parts read twice
# each, the 0002/0003 indexes), measured by this script on the same data and machine at load
# 2.6-2.7: (page median, page p95, statistics median, statistics p95), ms.
BEFORE_ONE_PASS = {
    "one content": (11.8, 16.6, 9.3, 10.9),
    "one content, page at skip 4,000": (12.0, 14.4, 7.8, 10.3),
    "one group": (32.0, 39.9, 32.5, 36.0),
    "one group, by user name": (53.8, 62.4, 35.0, 41.4),
    "ten users": (10.0, 12.7, 9.7, 19.8),
    "Department AND Region": (30.9, 35.6, 32.2, 35.5),
    "FAILED or EXPIRED, MANDATORY, one group": (33.4, 38.2, 19.5, 29.0),
    "updated in the last 30 days, 3 contents": (14.5, 16.8, 8.8, 10.6),
    "instructor (5 courses)": (25.2, 28.7, 27.8, 31.0),
    "no filter (whole workspace)": (299.6, 322.0, 565.8, 612.4),
    "updated in the last 30 days (whole workspace)": (28.5, 30.9, 167.7, 178.7),
    "FAILED or EXPIRED (whole workspace)": (271.6, 397.3, 473.9, 517.7),
}


def before_after(results):
    """Markdown lines: each scenario's medians and p95 before the one-pass scopes and now."""
    pages = {r["label"]: r for r in results["page"] + results["page (whole workspace)"]}
    stats = {r["label"]: r for r in results["statistics"] + results["statistics (whole workspace)"]}
    out = [
        "Medians / p95 in ms through HTTP. Before: commit 24a85e6, this script at load 2.6-2.7 on the",
        "same data; now: the tables above.",
        "",
        "| filters | page before | page now | statistics before | statistics now |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, (page_median, page_p95, stats_median, stats_p95) in BEFORE_ONE_PASS.items():
        if label not in pages:
            continue
        now_page, now_stats = pages[label], stats[label]
        out.append(
            f"| {label} | {page_median:.1f} / {page_p95:.1f} | {now_page['median']:.1f} / {now_page['p95']:.1f} | "
            f"{stats_median:.1f} / {stats_p95:.1f} | {now_stats['median']:.1f} / {now_stats['p95']:.1f} |"
        )
    return out


FORMER_ENDED_INDEXES = {
    "bench_former_ended_user_idx": "user_id, course_id",
    "bench_former_ended_course_idx": "course_id, user_id",
}


def queries_at(revision):
    """analytics/queries/analyse.py as it was at git `revision`, as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:analytics/queries/analyse.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"analyse_at_{revision}")
    exec(compile(source, f"{revision}:analytics/queries/analyse.py", "exec"), module.__dict__)
    return module


def compare_query_functions(versions, calls, runs):
    """{label: {version: summary}}: each call (label -> fn(module)) timed `runs` times per
    version, the versions alternating call by call, so both see the same load."""
    samples = {label: {name: [] for name in versions} for label in calls}
    for label, call in calls.items():
        for module in versions.values():
            call(module)  # warm-up
        for _ in range(runs):
            for name, module in versions.items():
                started = time.perf_counter()
                call(module)
                samples[label][name].append((time.perf_counter() - started) * 1000)
    return {
        label: {name: summary(values) for name, values in by_version.items()} for label, by_version in samples.items()
    }


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"min": ordered[0], "median": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=25_000)
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument(
        "--groups",
        type=int,
        default=GROUPS,
        help="learner groups (fewer groups, larger ones: 8 groups of 100,000 learners x 10 is ~125,000 rows a group)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed requests per scenario")
    parser.add_argument("--explain", action="store_true", help="print query plans of the scenarios")
    parser.add_argument("--skip-whole", action="store_true", help="skip the whole-workspace requests")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-analyse.md"))
    parser.add_argument(
        "--compare",
        metavar="REV",
        help="also time the query functions of analytics/queries/analyse.py at git revision REV against "
        "the current ones, interleaved, on the current schema (no HTTP)",
    )
    args = parser.parse_args()

    configure_environment(DEFAULT_DATABASE_URL)
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from accounts.models import ApiKey, CustomField, LearnerGroup, Role, User, Workspace
    from accounts.tokens import issue_tokens
    from analytics.api.analyse import AnalyseRequestSerializer
    from analytics.definitions import taught_courses
    from analytics.queries import analyse as queries

    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL"
    call_command("migrate", verbosity=0)
    workspace, _ = Workspace.objects.get_or_create(slug=WORKSPACE_SLUG, defaults={"name": "Analyse benchmark"})
    fill(workspace, args.users, args.courses, args.per_user, args.groups)

    ApiKey.objects.filter(workspace=workspace).delete()
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name="benchmark")
    admin = {"Authorization": f"Api-Key {raw_key}"}
    _, access = issue_tokens(User.objects.get(email="instructor@bench.test"), workspace)
    instructor = {"Authorization": f"Bearer {access}"}
    groups = list(LearnerGroup.objects.filter(workspace=workspace).order_by("name").values_list("public_id", flat=True))
    fields = dict(CustomField.objects.filter(workspace=workspace).values_list("name", "public_id"))
    users = list(
        User.objects.filter(email__startswith="learner").order_by("email").values_list("public_id", flat=True)[:10]
    )
    month_ago = (timezone.now() - timedelta(days=30)).isoformat()

    scenarios = [
        ("one content", admin, {"filters": {"contentIds": ["bench-0042"]}}),
        (
            "one content, page at skip 4,000",
            admin,
            {"filters": {"contentIds": ["bench-0042"]}, "options": {"skip": 4000}},
        ),
        ("one group", admin, {"filters": {"groupIds": [groups[7]]}}),
        (
            "one group, by user name",
            admin,
            {"filters": {"groupIds": [groups[7]]}, "options": {"order": {"field": "userName", "direction": "ASC"}}},
        ),
        ("ten users", admin, {"filters": {"userIds": users}}),
        (
            "one Department value",
            admin,
            {
                "filters": {
                    "customFields": [
                        {"customFieldId": fields["Department"], "values": ["Dept 3"]},
                    ]
                }
            },
        ),
        (
            "Department AND Region",
            admin,
            {
                "filters": {
                    "customFields": [
                        {"customFieldId": fields["Department"], "values": ["Dept 3"]},
                        {"customFieldId": fields["Region"], "values": ["Region 2"]},
                    ]
                }
            },
        ),
        (
            "FAILED or EXPIRED, MANDATORY, one group",
            admin,
            {"filters": {"states": ["FAILED", "EXPIRED"], "enrollmentTypes": ["MANDATORY"], "groupIds": [groups[3]]}},
        ),
        (
            "updated in the last 30 days, 3 contents",
            admin,
            {
                "filters": {
                    "updatedAtDateRange": {"from": month_ago},
                    "contentIds": ["bench-0001", "bench-0002", "bench-0003"],
                }
            },
        ),
        ("instructor (5 courses)", instructor, {}),
    ]
    unfiltered = [
        ("no filter (whole workspace)", admin, {}),
        (
            "updated in the last 30 days (whole workspace)",
            admin,
            {"filters": {"updatedAtDateRange": {"from": month_ago}}},
        ),
        ("FAILED or EXPIRED (whole workspace)", admin, {"filters": {"states": ["FAILED", "EXPIRED"]}}),
    ]

    client = Client()
    load_before = os.getloadavg()

    def timed(url, headers, body):
        started = time.perf_counter()
        response = client.post(url, body, content_type="application/json", headers=headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, body, response.status_code, response.content[:300])
        return elapsed_ms, response.json()

    def measure(url, label, headers, body, runs):
        for _ in range(2):
            _, payload = timed(url, headers, body)  # warm-up
        samples = [timed(url, headers, body)[0] for _ in range(runs)]
        return {"label": label, "total": payload["total"], **summary(samples)}

    results = {"page": [], "statistics": [], "page (whole workspace)": [], "statistics (whole workspace)": []}
    for label, headers, body in scenarios:
        results["page"].append(measure("/analyse/results", label, headers, body, args.runs))
        results["statistics"].append(measure("/analyse/statistics", label, headers, body, max(5, args.runs // 2)))
        print(results["page"][-1], results["statistics"][-1], flush=True)
    for label, headers, body in [] if args.skip_whole else unfiltered:
        results["page (whole workspace)"].append(measure("/analyse/results", label, headers, body, 5))
        results["statistics (whole workspace)"].append(measure("/analyse/statistics", label, headers, body, 3))
        print(results["page (whole workspace)"][-1], results["statistics (whole workspace)"][-1], flush=True)

    plans = {}
    if args.explain:
        from django.test.utils import CaptureQueriesContext

        bodies = {label: body for label, _, body in scenarios}
        slowest_page = max(results["page"], key=lambda r: r["p95"])["label"]
        slowest_statistics = max(results["statistics"], key=lambda r: r["p95"])["label"]
        for kind, label in (("page", slowest_page), ("statistics", slowest_statistics)):
            request = AnalyseRequestSerializer(data=bodies[label])
            request.is_valid(raise_exception=True)
            instructor = User.objects.get(email="instructor@bench.test")
            scope = {"course_ids": taught_courses(workspace, instructor)} if label.startswith("instructor") else {}
            with CaptureQueriesContext(connection) as captured:
                if kind == "page":
                    queries.analyse_results_page(workspace, request.validated_data["filters"], **scope)
                else:
                    queries.analyse_statistics(workspace, request.validated_data["filters"], **scope)
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + captured.captured_queries[-1]["sql"])
                plans[f"{kind}, {label}"] = "\n".join(row[0] for row in cursor.fetchall())
            print(kind, label, "\n", plans[f"{kind}, {label}"])

    compared, load_compared = {}, None
    if args.compare:
        versions = {args.compare: queries_at(args.compare), "now": queries}
        bench_instructor = User.objects.get(email="instructor@bench.test")
        calls = {}
        for label, _, body in scenarios:
            request = AnalyseRequestSerializer(data=body)
            request.is_valid(raise_exception=True)
            data = request.validated_data
            is_scoped = label.startswith("instructor")

            def scope(module, is_scoped=is_scoped):
                """The instructor's scope as the version takes it: a course scope since
                analytics.definitions.course_scope, the instructor before."""
                if not is_scoped:
                    return {}
                if "course_ids" in inspect.signature(module.analyse_statistics).parameters:
                    return {"course_ids": taught_courses(workspace, bench_instructor)}
                return {"instructor": bench_instructor}

            def page(module, data=data, scope=scope):
                module.analyse_results_page(
                    workspace, data["filters"], data["order"], limit=data["limit"], skip=data["skip"], **scope(module)
                )

            def stats(module, data=data, scope=scope):
                module.analyse_statistics(workspace, data["filters"], **scope(module))

            calls[(label, "page")], calls[(label, "statistics")] = page, stats
        load_compared = os.getloadavg()[0]
        with transaction.atomic(), connection.cursor() as cursor:
            # The earlier version cut the ended part of a scope along the partial indexes that
            # courses/0004 dropped: give them back to it for the comparison (rolled back after).
            for name, columns in FORMER_ENDED_INDEXES.items():
                cursor.execute(
                    f"CREATE INDEX {name} ON courses_result ({columns}) WHERE enrollment_ends_at IS NOT NULL"
                )
            cursor.execute("ANALYZE courses_result")
            compared = compare_query_functions(versions, calls, args.runs)
            transaction.set_rollback(True)
        load_compared = (load_compared, os.getloadavg()[0])
        print(compared, flush=True)

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('courses_attempt')), "
            "pg_size_pretty(pg_total_relation_size('courses_enrollment')), "
            "pg_size_pretty(pg_relation_size('courses_result')), "
            "pg_size_pretty(pg_indexes_size('courses_result'))"
        )
        attempt_size, enrollment_size, result_size, result_indexes_size = cursor.fetchone()
    total_rows = queries.analyse_results_page(workspace, queries.ResultFilters(), limit=1).total
    from courses.models import Attempt, Enrollment

    attempts = Attempt.objects.filter(workspace=workspace).count()
    enrollments = Enrollment.objects.filter(workspace=workspace).count()

    page_ok = all(r["p95"] < PAGE_TARGET_MS for r in results["page"])
    stats_ok = all(r["p95"] < STATISTICS_TARGET_MS for r in results["statistics"])
    lines = [
        "# Benchmark: POST /analyse/results and POST /analyse/statistics",
        "",
        "Made by `scripts/bench_analyse.py` (rerun it to refresh this page). Wall-clock times of whole",
        "requests through Django's test client (authentication, validation, the page query with its total",
        "counted in a subquery, or the single statistics query; serialization, JSON), DEBUG off, on a",
        "2-core machine shared with other engineers' test runs and benchmarks: load average "
        f"{load_before[0]:.1f} before and {os.getloadavg()[0]:.1f} after the run, PostgreSQL with its",
        "default settings (shared_buffers 128 MB for every database on the server, random_page_cost 4).",
        "",
        f"- Database: {pg_version}; `courses_attempt` {attempt_size}, `courses_enrollment` {enrollment_size}; "
        f"the result table `courses_result` {result_size} and its indexes {result_indexes_size}",
        f"- Data: {total_rows:,} result rows in one workspace ({args.users:,} learners x {args.per_user} of "
        f"{args.courses} courses) from {attempts:,} attempts and {enrollments:,} enrollments",
        f"- Python {platform.python_version()}, Django {django.get_version()}, DEBUG={settings.DEBUG}",
        f"- Pages: default order (updatedAt DESC), limit 50; {args.runs} timed requests per filtered page, "
        f"{max(5, args.runs // 2)} per filtered statistics, after 2 warm-up requests",
        "",
        f"## Filtered page, target p95 < {PAGE_TARGET_MS} ms: {'met' if page_ok else 'NOT met'}",
        "",
    ]

    def table(rows):
        out = [
            "| filters | matching rows | min ms | median ms | p95 ms | max ms | runs |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            out.append(
                f"| {r['label']} | {r['total']:,} | {r['min']:.1f} | {r['median']:.1f} | {r['p95']:.1f} | "
                f"{r['max']:.1f} | {r['n']} |"
            )
        return out

    lines += table(results["page"])
    lines += [
        "",
        f"## Filtered statistics, target p95 < {STATISTICS_TARGET_MS} ms: {'met' if stats_ok else 'NOT met'}",
        "",
    ]
    lines += table(results["statistics"])
    lines += ["", "## Whole-workspace requests (for information; no target)", "", "Pages:", ""]
    lines += table(results["page (whole workspace)"])
    lines += ["", "Statistics:", ""]
    lines += table(results["statistics (whole workspace)"])
    lines += ["", "## Before and after one-pass scopes", ""]
    lines += before_after(results)
    if compared:
        lines += [
            "",
            f"The query functions alone (no HTTP), {args.compare} against the current ones, called in turn",
            f"({args.runs} runs each, after a warm-up) so both see the same load (load {load_compared[0]:.1f} before,",
            f"{load_compared[1]:.1f} after), on the current schema (the earlier version reads the new, wider",
            "indexes as it read the former ones; the two partial indexes it cut ended rows along are",
            "created for the comparison), median / p95 ms:",
            "",
            f"| filters | page {args.compare} | page now | statistics {args.compare} | statistics now |",
            "|---|---:|---:|---:|---:|",
        ]
        for label, _, _ in scenarios:
            cells = []
            for kind in ("page", "statistics"):
                for name in (args.compare, "now"):
                    r = compared[(label, kind)][name]
                    cells.append(f"{r['median']:.1f} / {r['p95']:.1f}")
            lines.append(f"| {label} | {' | '.join(cells)} |")
    lines += [
        "",
        "## The result table and its indexes",
        "",
        "`courses.Result` (migrations `courses/0003_results`, `courses/0004_analyse_scope_indexes`,",
        "`courses/0005_result_user_count_index`)",
        "holds one row per learner and course, kept on write (`courses/results.py`); the requests read",
        "it alone. What depends on the clock (an ended enrollment, a passed expiry) is decided when",
        "reading. Indexes, chosen on this data:",
        "",
        "- `(user, course)` (the unique constraint's own index) and `(course, user)`, each `INCLUDE`",
        "  every column the cut, the count and the statistics read, both versions of the",
        "  clock-dependent ones (the enrollment's and the attempt's expiry and activity): a scope of",
        "  learners (groups, users, custom fields) or courses (contents, instructor) is ONE index-only",
        "  scan, wherever its rows lie in the table, with the clock-dependent columns computed by",
        "  CASE expressions on the way. The page's keys are a CTE read by both the cut (a top-N",
        "  sort) and the `COUNT(*)`. Before, the scope was read in two parts (enrollment active or",
        "  absent / ended), each twice (count and cut): four passes over the scope's index entries,",
        "  and the ended part's count read the whole scope to find its 2 %.",
        "- `(workspace, activity_at DESC, user, course) INCLUDE (enrollment_ends_at, attempt_public_id)`",
        "  and a small partial index `(workspace, attempt_activity_at DESC, ...) WHERE",
        "  enrollment_ends_at IS NOT NULL`: without a scope, the rows are still read in those two",
        "  parts, so a page in the default order walks the indexes and stops after the page, and an",
        "  activity range is an index range (a single pass would sort or scan the whole workspace).",
        "- A large scope of learners (at least 5,000 rows) in the default order: the page walks",
        "  those two workspace indexes like a page without scope, testing each entry against a hash",
        "  of the scope's learners, and stops after the page (at most 20,000 entries of the first",
        "  index, else the scope is sorted as above); the total is a `COUNT(*)` of the scope in the",
        "  same statement, an index-only pass over `(user, workspace) INCLUDE (enrollment_ends_at,",
        "  attempt_public_id)` (migration `courses/0005_result_user_count_index`: half the width of",
        "  the unique constraint's index). Sorting a 167,000-row group cost as much as counting it.",
        "- The scope of learners is built on the group members and custom-field values themselves",
        "  (no join with the user table: one lookup per member less).",
        "- Statistics: `COUNT(*) FILTER (WHERE ...)` per state and type instead of `SUM(CASE ...)`.",
        "- Dropped as no longer read: the covering `(course, user)` indexes of `courses_attempt` and",
        "  `courses_enrollment` (migration 0002; the instructor's learner lookup now reads the result",
        "  table), the `(user, course)` index that duplicated the unique constraint, and the two",
        "  partial `(user, course)` / `(course, user)` indexes of ended enrollments. Other queries",
        "  that read attempts or enrollments by course were checked with EXPLAIN ANALYZE on this data",
        "  (attempts of a course, by id; a learner's attempts of a course; enrollments of a course by",
        "  kind and by date): they use the course's own indexes or the unique constraints, within",
        "  a millisecond or two of before. Fewer and narrower indexes to maintain on every write:",
        "  with their indexes, `courses_attempt` went from 625 MB to 390 MB and `courses_enrollment`",
        "  from 325 MB to 201 MB on this data (the write time itself was not measured here).",
        "",
        "## Where the time goes",
        "",
        "A filtered request reads the index entries of its scope once: about 0.3 microseconds an",
        "entry on an idle core, so a 26,680-row group costs ~8 ms of index scan, a few ms of top-N",
        "sort and count, and the fixed cost of a request through Django (authentication,",
        "validation, JSON: ~5 ms). Ordering by user name adds the name of each row to the sort key",
        "(one user lookup per learner, a string per row). On this 2-core machine shared with",
        "others, every number also includes waiting for a core: the previous version of this page,",
        "made at load 13-17, measured a one-group page at 486 ms median; commit 24a85e6 took 32 ms",
        "at load 2.6 in the table above. The whole-workspace requests (no target) are a count or an",
        "aggregate over 1M index entries or rows.",
        "",
        "Filling the table: `manage.py rebuild_results` wrote the 1M rows of this benchmark in 11 s",
        "(load ~2.5; indexes built after the load).",
        "",
    ]
    for label, plan in plans.items():
        lines += [f"### Plan: {label}", "", "```", plan, "```", ""]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
