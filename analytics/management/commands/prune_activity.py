from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from analytics.services.retention import BATCH_SIZE, prune_activity


class Command(BaseCommand):
    help = (
        "Delete raw page sessions, learning events and video views older than each workspace's "
        "raw activity retention (UTC day boundary), in batches; the rollups keep them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Workspace slug (default: every workspace with a retention)")
        parser.add_argument("--dry-run", action="store_true", help="Count the rows that would go, delete nothing")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, workspace=None, dry_run=False, batch_size=BATCH_SIZE, **options):
        if workspace is not None and not Workspace.objects.filter(slug=workspace).exists():
            raise CommandError(f"No workspace {workspace!r}")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(label, rows):
            self.stdout.write(f"  {label}: {rows} rows deleted")

        for result in prune_activity(workspace, dry_run=dry_run, batch_size=batch_size, progress=progress):
            if result.skipped:
                self.stdout.write(f"{result.workspace}: skipped ({result.skipped})")
                continue
            verb = "would delete" if dry_run else "deleted"
            counts = ", ".join(f"{label} {rows}" for label, rows in result.deleted.items())
            self.stdout.write(
                f"{result.workspace}: before {result.horizon.isoformat()} {verb} {result.total} rows ({counts}); "
                f"{result.batches} batches, longest {result.longest_batch_s:.3f} s"
            )
