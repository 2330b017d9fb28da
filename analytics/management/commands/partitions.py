from django.core.management.base import BaseCommand, CommandError

from analytics.services.partitions import MONTHS_AHEAD, ensure_month_partitions, is_partitioned


class Command(BaseCommand):
    help = (
        "Create the monthly partitions of page sessions, learning events, video views and xAPI "
        "statements from the current month to --ahead months on, and move rows waiting in the "
        "DEFAULT partitions into their months' (PostgreSQL; what the daily beat task does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=MONTHS_AHEAD, help="Months after the current one")

    def handle(self, *args, ahead=MONTHS_AHEAD, **options):
        if ahead < 0:
            raise CommandError("--ahead must be 0 or more")
        if not is_partitioned():
            self.stdout.write("This database keeps plain tables (partitions are made on PostgreSQL only).")
            return
        for report in ensure_month_partitions(ahead):
            created = ", ".join(f"{month:%Y-%m}" for month in report.created) or "none"
            self.stdout.write(
                f"{report.table}: {report.partitions} month partitions; created {created}; "
                f"{report.moved_rows} rows moved from DEFAULT, {report.default_rows} still there"
            )
