"""The Django side of `make bench`, one process per database (the driver itself never imports
Django, so it can switch databases between the full size and the scaling sizes).

    python -m scripts.bench.prepare reads  --out FILE [--size large] [--workspace demo]
                                           [--families ...] [--floors] [--explain]
    python -m scripts.bench.prepare ingest --out FILE      # the ingest workspace and its key
    python -m scripts.bench.prepare cleanup                # ingest rows and bench API keys go

on the database of DATABASE_URL (the driver sets it and the other settings, scripts/benchlib.py).

`reads`: migrates; generates the dataset when the workspace has no course (else reuses it);
backfills the precomputed tables through their `--if-empty` commands when this version of the
project has them (an older database gets them); rebuilds the course information rollups of
the stale courses and the stale Analyse result totals (what the Celery beat does); vacuums the tables never vacuumed (a freshly loaded
table has no visibility map, so no index-only scan: not the steady state of a running service);
issues the credentials; builds each endpoint's requests from the data; and, with --floors,
captures the SQL of a few of each endpoint's requests (Django's execute_wrapper around the
request in process) and replays it with psycopg to time the floor, EXPLAIN (ANALYZE, BUFFERS)
of each endpoint's slowest statement with --explain.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

from scripts.bench import stats  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_bench"
API_KEY_NAME = "make bench"
INGEST_SLUG = "bench-ingest"
INGEST_DOMAIN = f"{INGEST_SLUG}.example"  # delete_demo_workspace removes users @<slug>.example
BACKFILL_COMMANDS = ("rebuild_results", "rebuild_learner_activity")
BIG_TABLES = (
    "analytics_pagesession",
    "analytics_learningevent",
    "analytics_videoview",
    "analytics_videoreaction",
    "courses_attempt",
    "courses_enrollment",
)
FLOOR_VARIANTS = 5  # distinct requests of an endpoint whose SQL is captured
FLOOR_RUNS = 30  # replays in all (round robin over the variants) ...
FLOOR_BUDGET_S = 6.0  # ... or fewer when they take longer than this (at least FLOOR_MIN_RUNS)
FLOOR_MIN_RUNS = 3
WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "COPY", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def log(message):
    print(message, file=sys.stderr, flush=True)


def setup_django():
    configure_environment(DEFAULT_DATABASE_URL)
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()


# --- the dataset ---------------------------------------------------------------------------------


def ensure_dataset(workspace_slug, size):
    """Migrate, generate when empty, backfill, refresh rollups, vacuum. Returns what was done."""
    from django.core.management import call_command, get_commands
    from django.db import connection

    from courses.services.demo_data import workspace_has_courses

    if connection.vendor != "postgresql":
        raise SystemExit("make bench runs on PostgreSQL: set DATABASE_URL=postgres://...")
    done = {}
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    done["migrate_s"] = round(time.monotonic() - started, 1)
    if not workspace_has_courses(workspace_slug):
        log(f"Generating the {size} dataset into workspace {workspace_slug!r} (large: about 12 minutes)...")
        started = time.monotonic()
        call_command("generate_demo_data", size=size, workspace=workspace_slug, if_empty=True, progress=False)
        done["generated_s"] = round(time.monotonic() - started, 1)
    commands = get_commands()
    for name in BACKFILL_COMMANDS:
        if name in commands:
            started = time.monotonic()
            call_command(name, "--if-empty")
            done[f"{name}_s"] = round(time.monotonic() - started, 1)
        else:
            done[f"{name}_s"] = None  # this version of the project has no such command
    from analytics.services.course_info_rollups import refresh_stale_courses

    started = time.monotonic()
    refreshed = refresh_stale_courses()["courses"]  # the Celery beat's job
    if refreshed:
        log(f"Course information rollups of {refreshed} stale courses rebuilt.")
        done["rollups_s"] = round(time.monotonic() - started, 1)
    try:
        from analytics.services.result_totals import refresh_stale_result_totals
    except ImportError:  # an older version of the project
        refresh_stale_result_totals = None
    if refresh_stale_result_totals is not None:
        started = time.monotonic()
        # The minute beat's job: without it Analyse statistics of a whole workspace count raw rows.
        if refresh_stale_result_totals():
            done["result_totals_s"] = round(time.monotonic() - started, 1)
    done["vacuumed"] = vacuum_never_vacuumed()
    return done


def vacuum_never_vacuumed():
    """VACUUM (ANALYZE) the big tables that were never vacuumed (right after a bulk load), ANALYZE
    the others that were never analyzed: the state autovacuum brings a running service to."""
    from django.db import connection

    with connection.cursor() as cursor:
        # A partitioned table (analytics.services.partitions) never records a vacuum itself: its
        # partitions with rows do, and its own statistics come from an ANALYZE of the parent.
        cursor.execute(
            "SELECT s.relname, p.relname FROM pg_stat_user_tables s "
            "LEFT JOIN pg_inherits i ON i.inhrelid = s.relid LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE coalesce(p.relname, s.relname) = ANY(%s) AND s.last_vacuum IS NULL AND s.last_autovacuum IS NULL "
            "AND s.relid NOT IN (SELECT partrelid FROM pg_partitioned_table) "
            "AND (p.oid IS NULL OR s.n_live_tup + s.n_dead_tup > 0) ORDER BY 1",
            [list(BIG_TABLES)],
        )
        found = cursor.fetchall()
        tables = [name for name, _ in found]
        for table in tables:
            log(f"VACUUM (ANALYZE) {table} (never vacuumed since it was loaded)...")
            cursor.execute(f'VACUUM (ANALYZE) "{table}"')
        for parent in sorted({parent for _, parent in found if parent}):
            cursor.execute(f'ANALYZE "{parent}"')
        # Tables of thousands of rows that were never analyzed (users, memberships after a bulk
        # load): without statistics the planner guesses a few dozen rows for 100,000.
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 1000 "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
        )
        analyzed = [name for (name,) in cursor.fetchall()]
        for table in analyzed:
            cursor.execute(f'ANALYZE "{table}"')
    return tables + [f"{table} (ANALYZE only)" for table in analyzed]


def dataset_counts(workspace):
    """Rows of the benchmark workspace (exact for people and catalog, exact for the big tables
    too: a count by workspace index is a few seconds at the large size, once)."""
    from accounts.models import Membership, Role
    from analytics.models import LearningEvent, PageSession, VideoView
    from courses.models import Attempt, Course, Enrollment, Video

    return {
        "learners": Membership.objects.filter(workspace=workspace, role=Role.LEARNER).count(),
        "courses": Course.objects.filter(workspace=workspace).count(),
        "videos": Video.objects.filter(workspace=workspace).count(),
        "enrollments": Enrollment.objects.filter(workspace=workspace).count(),
        "attempts": Attempt.objects.filter(workspace=workspace).count(),
        "page_sessions": PageSession.objects.filter(workspace=workspace).count(),
        "events": LearningEvent.objects.filter(workspace=workspace).count(),
        "video_views": VideoView.objects.filter(workspace=workspace).count(),
    }


def postgres_description():
    from django.db import connection

    names = (
        "server_version",
        "shared_buffers",
        "work_mem",
        "effective_cache_size",
        "maintenance_work_mem",
        "max_parallel_workers_per_gather",
        "random_page_cost",
        "jit",
        "synchronous_commit",
        "max_connections",
    )
    with connection.cursor() as cursor:
        settings = {}
        for name in names:
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        settings["database_size"] = cursor.fetchone()[0]
    return settings


# --- credentials -----------------------------------------------------------------------------------


def issue_credentials(workspace, rng, learners=100):
    """An admin API key (older bench keys revoked), bearer tokens of an admin, of `learners`
    learners and of the instructors of the big courses."""
    from accounts.models import ApiKey, Membership, Role
    from accounts.tokens import issue_tokens

    ApiKey.objects.filter(workspace=workspace, name=API_KEY_NAME).delete()
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name=API_KEY_NAME)
    members = Membership.objects.filter(workspace=workspace).select_related("user")
    admin = members.filter(role=Role.ADMIN).order_by("id").first()
    learner_ids = list(members.filter(role=Role.LEARNER).values_list("user_id", flat=True))
    chosen = set(rng.sample(learner_ids, min(learners, len(learner_ids))))
    learner_tokens = [
        str(issue_tokens(m.user, workspace)[1]) for m in members.filter(user_id__in=chosen).order_by("user_id")
    ]
    return {
        "api_key": raw_key,
        "admin_token": str(issue_tokens(admin.user, workspace)[1]),
        "learner_tokens": learner_tokens,
    }


# --- the requests ----------------------------------------------------------------------------------


def big_courses(workspace, count=20):
    """The `count` courses with the most enrollments (the catalog is Zipf: the head is big)."""
    from django.db.models import Count

    from courses.models import Course, Enrollment

    ids = [
        row["course_id"]
        for row in Enrollment.objects.filter(workspace=workspace)
        .values("course_id")
        .annotate(n=Count("id"))
        .order_by("-n", "course_id")[:count]
    ]
    by_id = Course.objects.in_bulk(ids)
    return [by_id[i] for i in ids]


def walk_pages(path, headers, pages):
    """Paths of the first `pages` pages of a 360Learning list (its Link rel=next cursors)."""
    from django.test import Client

    client, found = Client(), [path]
    while len(found) < pages:
        response = client.get(found[-1], headers=headers)
        link = response.headers.get("Link")
        if response.status_code != 200 or not link:
            break
        url = urlsplit(link.split(";")[0].strip("<> "))
        found.append(f"{url.path}?{url.query}")
    return found


def problem_context(workspace, courses, rng):
    """Module ids, subsections, pipeline video ids and course keys the Open edX problem,
    timeline and summary endpoints are read with: those of the big courses, so the reads are
    the heaviest ones."""
    from analytics.models import ProblemAnswerCount, SubsectionLearner
    from analytics.queries.course_info import encoded_module_id
    from courses.models import Course, Program, Video

    problems = list(
        ProblemAnswerCount.objects.filter(course__in=courses)
        .order_by("problem_key")
        .values_list("problem_key", flat=True)
        .distinct()[:400]
    )
    subsections = list(
        SubsectionLearner.objects.filter(course__in=courses)
        .order_by("subsection_key")
        .values_list("subsection_key", flat=True)
        .distinct()[:400]
    )
    videos = list(Video.objects.filter(course__in=courses).select_related("course").order_by("id")[:400])
    for items in (problems, subsections, videos):
        rng.shuffle(items)
    keys = list(Course.objects.filter(workspace=workspace).order_by("key").values_list("key", flat=True))
    return {
        "problems": problems[:40],
        "subsections": subsections[:40],
        "timelines": [f"{video.course.key}|{encoded_module_id(video.key)}" for video in videos[:40]],
        "course_key_sets": [rng.sample(keys, min(100, len(keys))) for _ in range(10)],
        "programs": list(Program.objects.filter(workspace=workspace).values_list("key", flat=True)),
    }


def problem_requests(route):
    return lambda ctx: [
        _get(f"/api/v0/problems/{quote(key, safe=':+@')}/{route}/", ctx["api"]) for key in ctx["problems"]
    ]


def build_context(workspace, credentials, rng):
    from django.utils import timezone

    from accounts.models import LearnerGroup, Role
    from accounts.tokens import issue_tokens
    from courses.models import Video

    courses = big_courses(workspace)
    api = {"Authorization": f"Api-Key {credentials['api_key']}"}
    instructor_headers = []
    for course in courses:
        instructor = course.instructors.order_by("id").first()
        if instructor is not None and instructor.memberships.filter(workspace=workspace, role=Role.INSTRUCTOR).exists():
            instructor_headers.append({"Authorization": f"Bearer {issue_tokens(instructor, workspace)[1]}"})
        else:
            instructor_headers.append(api)
    videos = list(
        Video.objects.filter(course__in=courses).order_by("course_id", "id").values_list("key", flat=True)[:400]
    )
    rng.shuffle(videos)
    groups = list(LearnerGroup.objects.filter(workspace=workspace).order_by("name").values_list("public_id", flat=True))
    return {
        **problem_context(workspace, courses, rng),
        "today": timezone.now().date(),
        "api": api,
        "admin_bearer": {"Authorization": f"Bearer {credentials['admin_token']}"},
        "learners": [{"Authorization": f"Bearer {token}"} for token in credentials["learner_tokens"]],
        "courses": [course.key for course in courses],
        "instructors": instructor_headers,
        "videos": videos[:40],
        "groups": groups[:20],
    }


def _get(path, headers):
    return {"method": "GET", "path": path, "headers": dict(headers)}


def _post(path, headers, body):
    return {
        "method": "POST",
        "path": path,
        "headers": {**headers, "Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def course_info_requests(route, query):
    """Each big course in turn, read alternately with the admin API key and its instructor's token."""

    def build(ctx):
        requests = []
        for index, key in enumerate(ctx["courses"]):
            headers = ctx["instructors"][index] if index % 2 else ctx["api"]
            requests.append(_get(f"/api/v0/courses/{quote(key, safe=':+')}/{route}/{query(ctx)}", headers))
        return requests

    return build


def last_days(days):
    return lambda ctx: f"?start_date={ctx['today'] - timedelta(days=days)}&end_date={ctx['today']}"


def analyse_bodies(kind):
    orders = [("updatedAt", "DESC"), ("progress", "DESC"), ("score", "ASC"), ("userName", "ASC")]

    def build(ctx):
        bodies = []
        if kind == "group":
            for index, group in enumerate(ctx["groups"]):
                bodies.append({"filters": {"groupIds": [group]}, "options": {"limit": 50, "skip": 50 * (index % 3)}})
        elif kind == "content":
            for index, key in enumerate(ctx["courses"]):
                bodies.append({"filters": {"contentIds": [key]}, "options": {"limit": 50, "skip": 50 * (index % 3)}})
        else:
            for index in range(12):
                field, direction = orders[index % len(orders)]
                bodies.append(
                    {
                        "options": {
                            "limit": 50,
                            "skip": 50 * (index // len(orders)),
                            "order": {"field": field, "direction": direction},
                        }
                    }
                )
        return bodies

    return build


def analyse_requests(path, kind):
    def build(ctx):
        bodies = analyse_bodies(kind)(ctx)
        if path.endswith("statistics"):
            bodies = [{"filters": body["filters"]} if "filters" in body else {} for body in bodies]
        headers = [ctx["api"], ctx["admin_bearer"]]
        return [_post(path, headers[index % 2], body) for index, body in enumerate(bodies)]

    return build


def periods(path, values):
    return lambda ctx: [_get(f"{path}?period={value}", ctx["api"]) for value in values]


def v2_pages(path):
    return lambda ctx: [
        {**_get(page, ctx["api"]), "headers": {**ctx["api"], "360-api-version": "v2.0"}}
        for page in walk_pages(path, ctx["api"], 20)
    ]


# (family, name, label, build): every read endpoint `make bench` measures.
ENDPOINTS = [
    (
        "learner",
        "learner_analytics",
        "GET /api/user/analytics (100 learners' tokens)",
        lambda ctx: [_get("/api/user/analytics", headers) for headers in ctx["learners"]],
    ),
    (
        "course_info",
        "enrollment",
        "GET v0 enrollment/ (last 30 days)",
        course_info_requests("enrollment", last_days(30)),
    ),
    (
        "course_info",
        "enrollment_mode",
        "GET v0 enrollment/mode/ (last 30 days)",
        course_info_requests("enrollment/mode", last_days(30)),
    ),
    (
        "course_info",
        "enrollment_location",
        "GET v0 enrollment/location/ (last 30 days)",
        course_info_requests("enrollment/location", last_days(30)),
    ),
    ("course_info", "activity", "GET v0 activity/ (last 12 weeks)", course_info_requests("activity", last_days(84))),
    ("course_info", "videos", "GET v0 videos/", course_info_requests("videos", lambda ctx: "")),
    ("course_stats", "courses_stats", "GET /api/v2/courses/stats (pages 1-20)", v2_pages("/api/v2/courses/stats")),
    ("course_stats", "users", "GET /api/v2/users (pages 1-20)", v2_pages("/api/v2/users")),
    ("analyse", "results_group", "POST /analyse/results, a group", analyse_requests("/analyse/results", "group")),
    ("analyse", "results_content", "POST /analyse/results, a course", analyse_requests("/analyse/results", "content")),
    ("analyse", "results_all", "POST /analyse/results, whole workspace", analyse_requests("/analyse/results", "all")),
    (
        "analyse",
        "statistics_group",
        "POST /analyse/statistics, a group",
        analyse_requests("/analyse/statistics", "group"),
    ),
    (
        "analyse",
        "statistics_content",
        "POST /analyse/statistics, a course",
        analyse_requests("/analyse/statistics", "content"),
    ),
    (
        "analyse",
        "statistics_all",
        "POST /analyse/statistics, whole workspace",
        analyse_requests("/analyse/statistics", "all"),
    ),
    (
        "video_cloud",
        "video",
        "GET /analytics/videos/{id} (7d / 30d)",
        lambda ctx: [
            _get(f"/analytics/videos/{quote(key, safe='')}?period={('7d', '30d')[i % 2]}", ctx["api"])
            for i, key in enumerate(ctx["videos"])
        ],
    ),
    (
        "video_cloud",
        "videos_summary",
        "GET /analytics/videos/summary (7d / 30d / 90d)",
        periods("/analytics/videos/summary", ("7d", "30d", "90d")),
    ),
    ("video_cloud", "users", "GET /analytics/users (7d / 30d)", periods("/analytics/users", ("7d", "30d"))),
    (
        "video_cloud",
        "users_engagement",
        "GET /analytics/users/engagement (7d / 30d)",
        periods("/analytics/users/engagement", ("7d", "30d")),
    ),
    ("system", "health", "GET /analytics/system/health (24h)", periods("/analytics/system/health", ("24h",))),
    ("edx_problems", "problems", "GET v0 courses/{id}/problems/", course_info_requests("problems", lambda ctx: "")),
    (
        "edx_problems",
        "problems_and_tags",
        "GET v0 courses/{id}/problems_and_tags/",
        course_info_requests("problems_and_tags", lambda ctx: ""),
    ),
    (
        "edx_problems",
        "answer_distribution",
        "GET v0 problems/{id}/answer_distribution/",
        problem_requests("answer_distribution"),
    ),
    (
        "edx_problems",
        "grade_distribution",
        "GET v0 problems/{id}/grade_distribution/",
        problem_requests("grade_distribution"),
    ),
    (
        "edx_problems",
        "sequential_open_distribution",
        "GET v0 problems/{id}/sequential_open_distribution/",
        lambda ctx: [
            _get(f"/api/v0/problems/{quote(key, safe=':+@')}/sequential_open_distribution/", ctx["api"])
            for key in ctx["subsections"]
        ],
    ),
    (
        "edx_problems",
        "video_timeline",
        "GET v0 videos/{id}/timeline/",
        lambda ctx: [
            _get(f"/api/v0/videos/{quote(key, safe=':+@')}/timeline/", ctx["api"]) for key in ctx["timelines"]
        ],
    ),
    (
        "edx_problems",
        "course_summaries",
        "GET v0 course_summaries/ (100 courses)",
        lambda ctx: [
            _get("/api/v0/course_summaries/?course_ids=" + ",".join(quote(key, safe=":") for key in keys), ctx["api"])
            for keys in ctx["course_key_sets"]
        ],
    ),
    ("edx_problems", "programs", "GET v0 programs/", lambda ctx: [_get("/api/v0/programs/", ctx["api"])]),
]
FAMILIES = tuple(dict.fromkeys(family for family, *_ in ENDPOINTS))


# --- floors ----------------------------------------------------------------------------------------


def capture_sql(request):
    """The SQL one in-process request runs, as literal statements (Django binds parameters on the
    client with psycopg 3, so these are the very strings the server receives), and its status."""
    from django.db import connection
    from django.test import Client

    statements = []

    def wrapper(execute, sql, params, many, context):
        if not many:
            statements.append(connection.ops.compose_sql(sql, params) if params is not None else sql)
        return execute(sql, params, many, context)

    client = Client()
    kwargs = {"headers": {k: v for k, v in request["headers"].items() if k != "Content-Type"}}
    if request.get("body") is not None:
        kwargs.update(data=request["body"], content_type="application/json")
    with connection.execute_wrapper(wrapper):
        response = client.generic(request["method"], request["path"], **kwargs)
    return statements, response.status_code


def is_read(statement):
    return not statement.lstrip().upper().startswith(WRITE_PREFIXES)


def measure_floor(requests, conninfo, explain):
    """Replay the SQL of the first FLOOR_VARIANTS requests with psycopg on a fresh connection, in
    a transaction rolled back after each run (writes, such as a last-login stamp, are left out).
    Returns the floor: p50/p95 of the summed statement time per request, the statements per
    request, the slowest statement (median ms) and its plan."""
    import psycopg

    variants = []
    capture_sql(requests[0])  # warm: per-process caches (content types, settings) fill once
    for request in requests[:FLOOR_VARIANTS]:
        began = time.perf_counter()
        statements, status = capture_sql(request)
        reads = [s for s in statements if is_read(s)]
        variants.append(
            {
                "statements": reads,
                "skipped": len(statements) - len(reads),
                "status": status,
                "slow": time.perf_counter() - began > 1.0,
            }
        )
        if variants[-1]["slow"]:
            break  # a request of seconds: one variant is enough (and the capture warmed it)
    timings = [[[] for _ in v["statements"]] for v in variants]
    totals = []
    from django.db import connection as django_connection

    with psycopg.connect(conninfo) as connection:
        with connection.cursor() as cursor:
            # The session settings Django gives its connections (dates are truncated in this zone).
            cursor.execute("SELECT set_config('TimeZone', %s, false)", [django_connection.timezone_name])
            connection.commit()
            for variant in variants:  # warm the buffers as the HTTP runs' warm-up does
                if variant["slow"]:
                    continue
                for statement in variant["statements"]:
                    cursor.execute(statement)
                connection.rollback()
            budget_end = time.perf_counter() + FLOOR_BUDGET_S
            runs = 0
            while runs < FLOOR_RUNS and (runs < FLOOR_MIN_RUNS or time.perf_counter() < budget_end):
                index = runs % len(variants)
                total = 0.0
                for position, statement in enumerate(variants[index]["statements"]):
                    began = time.perf_counter()
                    cursor.execute(statement)
                    elapsed = time.perf_counter() - began
                    timings[index][position].append(elapsed)
                    total += elapsed
                connection.rollback()
                totals.append(total * 1000)
                runs += 1
            slowest = max(
                (
                    (stats.percentile(times, 50) * 1000, v, p)
                    for v, per in enumerate(timings)
                    for p, times in enumerate(per)
                    if times
                ),
                default=None,
            )
            plan = None
            if slowest and explain:
                statement = variants[slowest[1]]["statements"][slowest[2]]
                if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                connection.rollback()
    return {
        "p50_ms": stats._round(stats.percentile(totals, 50), 3),
        "p95_ms": stats._round(stats.percentile(totals, 95), 3),
        "runs": len(totals),
        "variants": len(variants),
        "statements_per_request": round(sum(len(v["statements"]) for v in variants) / len(variants), 1),
        "writes_left_out": sum(v["skipped"] for v in variants),
        "statuses": sorted({v["status"] for v in variants}),
        "slowest_ms": stats._round(slowest[0], 3) if slowest else None,
        "slowest_sql": variants[slowest[1]]["statements"][slowest[2]] if slowest else None,
        "slowest_plan": plan,
    }


# --- the commands ----------------------------------------------------------------------------------


def command_reads(args):
    setup_django()
    from accounts.models import Workspace

    rng = random.Random(args.seed)
    setup = ensure_dataset(args.workspace, args.size)
    workspace = Workspace.objects.get(slug=args.workspace)
    log("Counting the dataset...")
    result = {
        "database": os.environ["DATABASE_URL"].rsplit("/", 1)[-1],
        "setup": setup,
        "dataset": dataset_counts(workspace),
        "postgres": postgres_description(),
        "endpoints": [],
    }
    credentials = issue_credentials(workspace, rng)
    ctx = build_context(workspace, credentials, rng)
    families = set(args.families.split(",")) if args.families else set(FAMILIES)
    for family, name, label, build in ENDPOINTS:
        if family not in families:
            continue
        requests = build(ctx)
        if not requests:
            log(f"{family}/{name}: no request could be built from this dataset, left out")
            continue
        entry = {"family": family, "name": name, "label": label, "requests": requests}
        if args.floors:
            log(f"floor of {family}/{name}...")
            entry["floor"] = measure_floor(requests, os.environ["DATABASE_URL"], args.explain)
        result["endpoints"].append(entry)
    result["mixed"] = mixed_load_world(workspace, ctx, credentials, rng, args.fresh_learners)
    result["rollup_changed_at"] = rollup_changed_at()
    Path(args.out).write_text(json.dumps(result, default=str))


FRESH_DOMAIN = "bench-fresh.example"


def mixed_load_world(workspace, ctx, credentials, rng, fresh_learners):
    """What the mixed load, the heartbeats and the freshness probe send with: the admin API key,
    up to 5,000 learners' emails and every course key but one (the background writer's), the 100
    learners' token headers (heartbeats), and `fresh_learners` new learners with no activity, each
    with a token, plus the one course the writer leaves alone (freshness: a page session of a fresh
    learner there is the only new activity of that course, so a count that grows by one shows it).

    The fresh learners are new members of the workspace, named by the time of the run; they and
    the writer's rows stay in the database (a few thousand rows against millions)."""
    from django.utils import timezone

    from accounts.models import Membership, Role, User
    from accounts.tokens import issue_tokens
    from courses.models import Course

    fresh_course = ctx["courses"][0]
    learner_emails = list(
        Membership.objects.filter(workspace=workspace, role=Role.LEARNER).values_list("user__email", flat=True)
    )
    emails = rng.sample(learner_emails, min(5000, len(learner_emails)))
    courses = list(
        Course.objects.filter(workspace=workspace)
        .exclude(key=fresh_course)
        .order_by("key")
        .values_list("key", flat=True)
    )
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    users = User.objects.bulk_create([User(email=f"fresh-{stamp}-{i}@{FRESH_DOMAIN}") for i in range(fresh_learners)])
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, role=Role.LEARNER) for u in users])
    return {
        "api_key": credentials["api_key"],
        "emails": emails,
        "courses": courses,
        "learners": ctx["learners"],
        "fresh_course": fresh_course,
        "fresh_learners": [
            {"email": u.email, "headers": {"Authorization": f"Bearer {issue_tokens(u, workspace)[1]}"}} for u in users
        ],
    }


def command_ingest(args):
    """A workspace of its own for the write benchmarks (in the same database, so the writes
    maintain the indexes of the big tables), emptied first: 200 learners, 20 courses, 40 videos."""
    setup_django()
    from accounts.models import ApiKey, Membership, Role, User, Workspace
    from courses.models import Course, Video

    delete_ingest_workspace()
    workspace = Workspace.objects.create(slug=INGEST_SLUG, name="Ingest benchmark")
    User.objects.bulk_create([User(email=f"learner{i}@{INGEST_DOMAIN}") for i in range(200)], ignore_conflicts=True)
    users = list(User.objects.filter(email__endswith="@" + INGEST_DOMAIN).order_by("id"))
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, role=Role.LEARNER) for u in users])
    Course.objects.bulk_create(
        [Course(workspace=workspace, key=f"course-v1:Bench+C{i}+2026", title=f"Course {i}") for i in range(20)]
    )
    courses = list(Course.objects.filter(workspace=workspace).order_by("id"))
    Video.objects.bulk_create(
        [Video(workspace=workspace, course=courses[i % 20], key=f"video-{i}", duration_s=300) for i in range(40)]
    )
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN, name=API_KEY_NAME)
    Path(args.out).write_text(
        json.dumps(
            {
                "api_key": raw_key,
                "emails": [u.email for u in users],
                "courses": [c.key for c in courses],
                "videos": [f"video-{i}" for i in range(40)],
            }
        )
    )


def delete_ingest_workspace():
    from analytics.models import XapiStatement
    from courses.services.demo_data import delete_demo_workspace

    XapiStatement.objects.filter(workspace__slug=INGEST_SLUG).delete()
    delete_demo_workspace(INGEST_SLUG)


def rollup_changed_at():
    """The course information rollups' changed_at (ISO, or "none"), once they are fresh."""
    from analytics.models import RollupState
    from analytics.queries.course_info import ROLLUP_NAME

    changed = RollupState.objects.filter(name=ROLLUP_NAME).values_list("changed_at", flat=True).first()
    return changed.isoformat() if changed else "none"


def command_cleanup(args):
    """Remove what the benchmark wrote: the ingest workspace and the bench API keys.

    The ingest's writes mark only the ingest workspace's courses stale (per-course staleness,
    CourseInfoState), which go with the workspace. --rollup-changed-at puts back the global
    RollupState's changed_at, which readers no longer consult (kept for run.py's call)."""
    setup_django()
    from datetime import datetime

    from accounts.models import ApiKey
    from analytics.models import RollupState
    from analytics.queries.course_info import ROLLUP_NAME

    delete_ingest_workspace()
    ApiKey.objects.filter(name=API_KEY_NAME).delete()
    if args.rollup_changed_at:
        changed = None if args.rollup_changed_at == "none" else datetime.fromisoformat(args.rollup_changed_at)
        RollupState.objects.filter(name=ROLLUP_NAME).update(changed_at=changed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reads", "ingest", "cleanup"])
    parser.add_argument("--out")
    parser.add_argument("--size", default="large")
    parser.add_argument("--workspace", default="demo")
    parser.add_argument("--families", default="")
    parser.add_argument("--floors", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fresh-learners", type=int, default=10, help="reads: new learners for the freshness probe")
    parser.add_argument("--rollup-changed-at", default="", help="cleanup: put the rollups' changed_at back")
    args = parser.parse_args(argv)
    {"reads": command_reads, "ingest": command_ingest, "cleanup": command_cleanup}[args.command](args)


if __name__ == "__main__":
    main()
