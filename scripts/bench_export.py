"""Benchmark of export jobs on PostgreSQL: rows/s and peak memory of the process writing the file.

Not a test. Creates and migrates the database (default la_exportbench on 127.0.0.1), fills one
workspace with EVENTS learning events in bulk (INSERT ... SELECT generate_series; skipped when
they are there), then runs an `events` export (period `all`) per format, each in a fresh
process, the way a Celery worker runs the task, and reports wall time, rows/s and the peak
resident memory of that process. Writes docs/benchmarks-export.md.

    .venv/bin/python scripts/bench_export.py [--events 1000000] [--formats csv,parquet]

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/la_exportbench).
"""

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_exportbench"
WORKSPACE_SLUG = "bench-export"
USERS = 1000
TARGET_S = 20
TARGET_MB = 300


def fill(events):
    from django.db import connection

    from accounts.models import Membership, User, Workspace
    from analytics.models import LearningEvent
    from courses.models import Course

    workspace, _ = Workspace.objects.get_or_create(slug=WORKSPACE_SLUG, defaults={"name": "Export benchmark"})
    have = LearningEvent.objects.filter(workspace=workspace).count()
    if have == events:
        return workspace
    LearningEvent.objects.filter(workspace=workspace).delete()
    course, _ = Course.objects.get_or_create(workspace=workspace, key="bench-course", defaults={"title": "Bench"})
    users = [User(email=f"exporter{i}@bench.example") for i in range(USERS)]
    User.objects.bulk_create(users, ignore_conflicts=True)
    user_ids = list(User.objects.filter(email__endswith="@bench.example").values_list("id", flat=True))
    Membership.objects.bulk_create(
        [Membership(user_id=user_id, workspace=workspace) for user_id in user_ids], ignore_conflicts=True
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_learningevent
                (id, workspace_id, user_id, course_id, type, object, occurred_at, source, data, received_at)
            SELECT md5(g::text || 'export')::uuid, %(workspace)s, (%(users)s)[1 + g %% %(n_users)s], %(course)s,
                   (ARRAY['played_video','attempted_problem','posted_forum','viewed'])[1 + g %% 4],
                   'block-v1:bench+' || (g %% 500), now() - (g %% 86400) * interval '1 minute',
                   'tracker', '{}'::jsonb, now()
            FROM generate_series(1, %(events)s) AS g
            """,
            {
                "workspace": workspace.pk,
                "users": user_ids,
                "n_users": len(user_ids),
                "course": course.pk,
                "events": events,
            },
        )
        cursor.execute("ANALYZE analytics_learningevent")
    return workspace


def run_one(job_id):
    """Child process: run one export job as the Celery task does, print the outcome."""
    import django

    django.setup()
    from exports.services import run_export_job

    started = time.perf_counter()
    job = run_export_job(job_id)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{job.row_count} {elapsed:.3f} {peak_mb:.1f} {job.file_size}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_environment(DEFAULT_DATABASE_URL)
    if args.run:
        run_one(args.run)
        return
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Role
    from exports.models import ExportJob

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    workspace = fill(args.events)
    print(f"data ready in {time.perf_counter() - started:.1f}s")
    results = []
    for export_format in args.formats.split(","):
        job = ExportJob.objects.create(
            workspace=workspace, requester_role=Role.ADMIN, type="events", period="all", format=export_format
        )
        output = subprocess.run(
            [sys.executable, __file__, "--run", str(job.pk)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        ).stdout.split()
        rows, seconds, peak_mb, size = int(output[0]), float(output[1]), float(output[2]), int(output[3])
        results.append((export_format, rows, seconds, peak_mb, size))
        print(f"{export_format}: {rows} rows in {seconds:.1f}s = {rows / seconds:,.0f} rows/s, peak {peak_mb:.0f} MB")
    write_report(results)


def write_report(results):
    load = os.getloadavg()
    lines = [
        "# Export benchmark",
        "",
        "`scripts/bench_export.py`: an `events` export (period `all`) written by `run_export_job`, the",
        "function the Celery task runs, in a fresh process per format; peak memory is that process's",
        "maximum resident set size. Targets: 1 million rows of CSV in under",
        f"{TARGET_S} s with peak worker memory under {TARGET_MB} MB.",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, PostgreSQL on the same machine; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
        "",
        "| format | rows | seconds | rows/s | peak MB | file MB | target met |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for export_format, rows, seconds, peak_mb, size in results:
        met = "yes" if peak_mb < TARGET_MB and (export_format != "csv" or seconds < TARGET_S) else "no"
        lines.append(
            f"| {export_format} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {peak_mb:.0f} | "
            f"{size / 1e6:.1f} | {met} |"
        )
    (ROOT / "docs" / "benchmarks-export.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
