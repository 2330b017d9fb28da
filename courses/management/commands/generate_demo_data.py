import argparse
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from analytics.models import (
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemLearnerLatest,
    ProblemPartLatest,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
    VideoView,
)
from courses.models import Attempt, Enrollment, Result
from courses.services.demo_data import (
    DEMO_WORKSPACE,
    SIZES,
    WorkspaceNotEmpty,
    delete_demo_workspace,
    generate_demo_data,
    workspace_has_courses,
)

# The big tables a generation fills, read through covering indexes.
VACUUMED_TABLES = (
    PageSession,
    LearningEvent,
    VideoView,
    Attempt,
    Enrollment,
    Result,
    LearnerDay,
    LearnerActivity,
    ProblemResponse,
    SubsectionOpen,
    ProblemPartLatest,
    ProblemAnswerCount,
    ProblemLearnerLatest,
    ProblemGradeCount,
    SubsectionLearner,
)


class Command(BaseCommand):
    help = (
        "Fill a workspace with realistic synthetic data: people, courses, enrollments, attempts, page "
        "sessions, events, video views, problem responses, subsection opens, programs. Same --seed, same data (times relative to now)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            choices=list(SIZES),
            default="tiny",
            help="tiny (seconds, the demo) ... large (millions of rows, a benchmark)",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1)")
        parser.add_argument("--workspace", default=DEMO_WORKSPACE, help="Workspace slug (default: demo)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--if-empty", action="store_true", help="Do nothing when the workspace already has courses")
        group.add_argument(
            "--replace", action="store_true", help="Delete the workspace and its @<slug>.example users first"
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Progress bars (default: on a terminal, for sizes above tiny)",
        )

    def handle(self, *args, size, seed, workspace, if_empty, replace, progress, **options):
        if if_empty and workspace_has_courses(workspace):
            self.stdout.write(f"Workspace {workspace!r} already has courses: nothing to do (--if-empty).")
            return
        spec = SIZES[size]
        self.stdout.write(
            f"Generating {size} demo data for workspace {workspace!r} on {connection.vendor} (seed {seed}): "
            f"{spec.learners:,} learners, {spec.courses:,} courses, ~{spec.page_sessions:,} page sessions, "
            f"~{spec.events:,} events, ~{spec.video_views:,} video views, ~{spec.problem_responses:,} problem "
            f"responses, ~{spec.subsection_opens:,} subsection opens."
        )
        if progress is None:
            progress = size != "tiny" and sys.stderr.isatty()
        started = time.monotonic()
        if replace:
            self.stdout.write(f"Deleting workspace {workspace!r} and its users first (--replace)...")
            delete_demo_workspace(workspace)
        try:
            _, counts = generate_demo_data(
                workspace, size, seed=seed, progress=progress, log=lambda line: self.stdout.write(line)
            )
        except WorkspaceNotEmpty as exc:
            raise CommandError(str(exc)) from exc
        if connection.vendor == "postgresql" and size != "tiny":
            self._vacuum(VACUUMED_TABLES)
        elapsed = time.monotonic() - started
        self.stdout.write("Rows written:")
        width = max(len(label) for label in counts)
        for label, count in sorted(counts.items()):
            self.stdout.write(f"  {label:<{width}}  {count:>12,}")
        self.stdout.write(f"  {'total':<{width}}  {sum(counts.values()):>12,}")
        self.stdout.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s."))
        self.stdout.write(
            "Demo logins: python manage.py demo_logins"
            + (f" --workspace {workspace}" if workspace != DEMO_WORKSPACE else "")
        )

    def _vacuum(self, models):
        """VACUUM (ANALYZE) the freshly loaded tables, outside the load's transaction: it sets their
        visibility map, without which PostgreSQL's index-only scans (the covering indexes of the
        VideoCloud and Analyse figures) still visit the heap for every row until autovacuum runs."""
        started = time.monotonic()
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
        self.stdout.write(f"  vacuum and statistics: {time.monotonic() - started:.1f} s")
