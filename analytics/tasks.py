from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import HealthCheck, RequestMetric


@shared_task(acks_late=True)
def purge_request_metrics(keep_days=None):
    """Delete request metrics and health checks older than keep_days (SYSTEM_METRICS_KEEP_DAYS);
    returns how many request metrics went."""
    cutoff = timezone.now() - timedelta(days=keep_days or settings.SYSTEM_METRICS_KEEP_DAYS)
    deleted, _ = RequestMetric.objects.filter(at__lt=cutoff).delete()
    HealthCheck.objects.filter(minute__lt=cutoff).delete()
    return deleted


@shared_task(acks_late=True, ignore_result=True)
def check_health():
    """Once a minute (beat): record whether the database and the web process answer."""
    from .services.health_checks import record_health_check

    return record_health_check().is_up


@shared_task(acks_late=True)
def refresh_result_totals():
    """Rebuild the Analyse statistics' totals of the workspaces whose totals are stale (a new UTC
    day, a bulk reload of the results); every minute by beat. Returns how many it rebuilt."""
    from .services.result_totals import refresh_stale_result_totals

    return refresh_stale_result_totals()


@shared_task(acks_late=True)
def refresh_video_windows():
    """Rebuild the VideoCloud summary's per-video window totals of the workspaces whose windows
    were built for another UTC day (or never); every minute by beat. Returns how many it rebuilt."""
    from .services.video_windows import refresh_stale_video_windows

    return refresh_stale_video_windows()


@shared_task(acks_late=True)
def refresh_course_info_rollups():
    """Rebuild the Open edX course information rollups of the stale courses only (every few
    seconds by beat, and soon after writes). Returns the courses, rows written per part and the
    seconds it took."""
    from .services.course_info_rollups import refresh_stale_courses

    return refresh_stale_courses(timezone.now())


@shared_task(acks_late=True)
def rebuild_course_info(workspace_id=None):
    """Rebuild the course information rollups of every course (or a workspace's), stale or not:
    the safety net for writes that marked nothing (a queryset .update(), raw SQL)."""
    from .services.course_info_rollups import rebuild_course_info as rebuild

    return rebuild(workspace_id)


@shared_task(acks_late=True)
def rebuild_course_activity_history():
    """Rebuild every week's course activity (hourly), for late or back-dated rows."""
    from .services.course_info_rollups import rebuild_course_activity_history as rebuild

    return rebuild()


@shared_task(acks_late=True)
def prune_activity():
    """The daily retention job (analytics.services.retention); rows deleted per workspace."""
    from analytics.services.retention import prune_activity as prune

    return {result.workspace: result.total for result in prune()}


@shared_task(acks_late=True)
def ensure_partitions():
    """Daily (beat) and when a write meets a month without a partition: the monthly partitions of
    the raw activity tables ahead, and the rows of DEFAULT moved into their months'
    (analytics.services.partitions). Returns the months created per table."""
    from analytics.services.partitions import ensure_month_partitions

    return {report.table: [f"{month:%Y-%m}" for month in report.created] for report in ensure_month_partitions()}
