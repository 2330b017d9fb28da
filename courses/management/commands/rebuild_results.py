import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from courses.models import Result
from courses.results import rebuild_results


class Command(BaseCommand):
    help = (
        "Recompute the Analyse result table (courses.Result) from attempts and enrollments: "
        "to backfill a database made before the table existed, or after writing attempts "
        "or enrollments with raw SQL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", metavar="SLUG", help="only this workspace (default: all)")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the table (or the workspace's part) has rows"
        )

    def handle(self, *args, workspace=None, if_empty=False, **options):
        target = None
        if workspace:
            target = Workspace.objects.filter(slug=workspace).first()
            if target is None:
                raise CommandError(f"No workspace with slug {workspace!r}")
        existing = Result.objects.filter(workspace=target) if target else Result.objects.all()
        if if_empty and existing.exists():
            self.stdout.write("Results already there: nothing done.")
            return
        started = time.monotonic()
        count = rebuild_results(target)
        self.stdout.write(f"{count} result rows in {time.monotonic() - started:.1f} s.")
