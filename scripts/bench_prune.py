"""Pruning raw activity at scale (docs/privacy.md, "Retention"): generates ROWS raw rows (half
page sessions, half learning events) older than the horizon on its own scratch PostgreSQL
database (never la_bench), then runs the prune in 5,000-row batches and prints rows/s and the
longest batch transaction. Writes only its own database:

    .venv/bin/python scripts/bench_prune.py            # postgres://postgres@127.0.0.1:5432/bench_prune
    ROWS=200000 DATABASE_URL=postgres://.../other .venv/bin/python scripts/bench_prune.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.benchlib import configure_environment, create_database_if_missing  # noqa: E402

configure_environment("postgres://postgres@127.0.0.1:5432/bench_prune")
if "la_bench" in os.environ["DATABASE_URL"]:
    sys.exit("bench_prune deletes rows: never run it on la_bench")
create_database_if_missing(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import User, Workspace  # noqa: E402
from analytics.models import LearningEvent, PageSession  # noqa: E402
from analytics.queries.sql import quoted_table  # noqa: E402
from analytics.services.retention import prune_workspace  # noqa: E402

ROWS = int(os.environ.get("ROWS", 1_000_000))
USERS = 2_000

call_command("migrate", verbosity=0)
workspace, _ = Workspace.objects.get_or_create(slug="bench-prune", defaults={"name": "Bench prune"})
Workspace.objects.filter(pk=workspace.pk).update(raw_activity_retention_days=30, raw_activity_pruned_before=None)
workspace.refresh_from_db()
User.objects.bulk_create(
    [User(email=f"prune{i}@bench.invalid") for i in range(USERS)], ignore_conflicts=True, batch_size=1000
)
user_ids = list(User.objects.filter(email__endswith="@bench.invalid").values_list("pk", flat=True))
low, high = min(user_ids), max(user_ids)
half = ROWS // 2
started = time.perf_counter()
with connection.cursor() as cursor:
    # Raw SQL on purpose: generated rows, no rollup kept (the prune does not read the rollups).
    cursor.execute(f"DELETE FROM {quoted_table(PageSession)} WHERE workspace_id = %s", [workspace.pk])
    cursor.execute(f"DELETE FROM {quoted_table(LearningEvent)} WHERE workspace_id = %s", [workspace.pk])
    cursor.execute(
        f"INSERT INTO {quoted_table(PageSession)} (id, workspace_id, user_id, page, path, started_at, duration_s, "
        "course_key, chapter_key, device, received_at) "
        "SELECT gen_random_uuid(), %s, %s + (g %% (%s - %s + 1)), 'Page', '/p', "
        "now() - interval '40 days' - (g %% 300) * interval '1 day', 60, '', '', 'desktop', now() "
        "FROM generate_series(1, %s) g",
        [workspace.pk, low, high, low, half],
    )
    cursor.execute(
        f"INSERT INTO {quoted_table(LearningEvent)} (id, workspace_id, user_id, type, object, occurred_at, source, "
        "data, received_at) "
        "SELECT gen_random_uuid(), %s, %s + (g %% (%s - %s + 1)), 'viewed', '', "
        "now() - interval '40 days' - (g %% 300) * interval '1 day', 'tracker', '{}', now() "
        "FROM generate_series(1, %s) g",
        [workspace.pk, low, high, low, ROWS - half],
    )
    cursor.execute(f"ANALYZE {quoted_table(PageSession)}")
    cursor.execute(f"ANALYZE {quoted_table(LearningEvent)}")
print(f"generated {ROWS} rows in {time.perf_counter() - started:.1f} s")

last = [time.perf_counter()]


def progress(label, rows):
    if rows % 100_000 == 0:
        now = time.perf_counter()
        print(f"  {label}: {rows} rows ({now - last[0]:.1f} s for the last 100,000)")
        last[0] = now


started = time.perf_counter()
result = prune_workspace(workspace, progress=progress)
seconds = time.perf_counter() - started
print(
    f"pruned {result.total} rows in {seconds:.1f} s: {result.total / seconds:,.0f} rows/s, "
    f"{result.batches} batches, longest batch transaction {result.longest_batch_s * 1000:.0f} ms"
)
