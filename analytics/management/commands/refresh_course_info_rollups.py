"""Rebuild the Open edX course information rollups now (what the Celery beat does every 30 s)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from analytics.services.course_info_rollups import (
    rebuild_course_activity_history,
    refresh_course_info_rollups,
)


class Command(BaseCommand):
    help = "Rebuild the rollups behind /api/v0/courses/{course_id}/... from the raw rows."

    def add_arguments(self, parser):
        parser.add_argument(
            "--recent-only",
            action="store_true",
            help="Only what the 30-second job rebuilds (activity of the previous and current week).",
        )

    def handle(self, *args, recent_only=False, **options):
        result = refresh_course_info_rollups(timezone.now())
        if not recent_only:
            result["activity_weeks"] = rebuild_course_activity_history()
        self.stdout.write(", ".join(f"{name}: {value}" for name, value in result.items()))
