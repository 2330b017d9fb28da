"""manage.py import_tracking_logs --workspace SLUG FILE...: Open edX tracking logs (docs/tracking-logs.md)."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from accounts.models import Workspace
from analytics.services.tracking_logs import DEFAULT_EMAIL_DOMAIN, import_tracking_logs


class Command(BaseCommand):
    help = (
        "Import Open edX tracking logs (JSON lines, logger prefix allowed, .gz too) into a workspace, created "
        "when missing: video player events become video views (and played_video events), server problem_check "
        "attempted_problem, forum events events, enrollment events enrollments. Other event types are counted "
        "and skipped, lines that are not JSON events counted as invalid. Importing twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug (created when missing)")
        parser.add_argument("files", nargs="+", metavar="FILE", help="Tracking-log files (plain or gzip)")
        parser.add_argument(
            "--email-domain",
            default=DEFAULT_EMAIL_DOMAIN,
            help=f"Domain of the placeholder emails of LMS users (default {DEFAULT_EMAIL_DOMAIN})",
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the summary as JSON")

    def handle(self, *args, workspace, files, email_domain, as_json, **options):
        if slugify(workspace) != workspace:
            raise CommandError(f"--workspace must be a slug (letters, digits, hyphens), got {workspace!r}")
        target, created = Workspace.objects.get_or_create(slug=workspace, defaults={"name": workspace})
        if created:
            self.stdout.write(f"Created workspace {workspace}.")
        started = time.perf_counter()
        try:
            summary = import_tracking_logs(target, files, email_domain=email_domain)
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename or 'a file'}: {exc.strerror or exc}") from exc
        elapsed = time.perf_counter() - started

        if as_json:
            self.stdout.write(json.dumps({**summary.as_dict(), "seconds": round(elapsed, 3)}, sort_keys=True))
            return
        for source, number, reason in summary.invalid_examples:
            self.stderr.write(f"{source}:{number}: {reason}")
        self.stdout.write(f"{'event type':<48}{'imported':>10}{'skipped':>10}")
        for name, counts in sorted(summary.by_type.items()):
            self.stdout.write(f"{name[:47]:<48}{counts['imported']:>10}{counts['skipped']:>10}")
        for reason, count in sorted(summary.skip_reasons.items()):
            self.stdout.write(f"skipped, {reason}: {count}")
        self.stdout.write(
            f"{summary.lines} lines read from {summary.files} file(s) in {elapsed:.1f}s: {summary.imported} imported, "
            f"{summary.skipped} skipped, {summary.invalid} invalid. Written: {summary.events_created} events, "
            f"{summary.video_views_written} video views, {summary.enrollments_written} enrollments, "
            f"{summary.attempts_written} attempts, {summary.problem_responses_created} problem responses, "
            f"{summary.subsection_opens_created} subsection opens, into workspace {target.slug}."
        )
