"""manage.py rebuild_learner_activity [--workspace SLUG] [--if-empty]: recompute the learner-day
rollups from the raw activity tables (the backfill of a database made before them)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.models import Workspace
from analytics.models import LearnerActivity, LearnerDay
from analytics.rollups.registry import rollup
from analytics.services.learner_activity import is_empty


class Command(BaseCommand):
    help = (
        "Recompute the per-learner daily activity rollups (LearnerDay, LearnerActivity) from the page "
        "sessions, learning events and video views, for every workspace or one. Writes keep them up to "
        "date; this is for databases that had activity before the rollups existed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Workspace slug (default: every workspace)")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the rollup already has rows (of that workspace)"
        )

    def handle(self, *args, workspace=None, if_empty=False, **options):
        target = None
        if workspace is not None:
            target = Workspace.objects.filter(slug=workspace).first()
            if target is None:
                raise CommandError(f"No workspace {workspace!r}.")
        if if_empty and not is_empty(target):
            self.stdout.write("The learner-day rollup already has rows; nothing done (--if-empty).")
            return
        started = time.monotonic()
        # Through the registry: a workspace whose raw activity was pruned keeps its history
        # (docs/privacy.md, "Retention"); several workspaces then answer one pair each.
        done = rollup("learner_activity").rebuild(target.pk if target is not None else None)
        days, learners = map(sum, zip(*done)) if isinstance(done, list) else done
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # Mark the new pages all-visible so that window reads can be index-only scans.
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM (ANALYZE) {LearnerDay._meta.db_table}, {LearnerActivity._meta.db_table}")
        self.stdout.write(
            f"Rebuilt the learner-day rollup: {days:,} learner-days of {learners:,} learners "
            f"in {time.monotonic() - started:.1f} s."
        )
