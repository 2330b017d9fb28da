"""The once-a-minute health check behind the uptime of /analytics/system/health."""

import urllib.error
import urllib.request

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from analytics.models import HealthCheck


def minute_start(moment):
    return moment.replace(second=0, microsecond=0)


def probe_database():
    """None when the database answers `SELECT 1`, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"database: {exc}"[:200]
    return None


def probe_web(url=None, timeout_s=None):
    """None when the web process answers its health probe (HEALTH_CHECK_URL) with 200, else why
    not. No URL configured: not checked (None)."""
    url = settings.HEALTH_CHECK_URL if url is None else url
    if not url:
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s or settings.HEALTH_CHECK_TIMEOUT_S) as response:
            if response.status != 200:
                return f"web: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"web: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"web: {getattr(exc, 'reason', exc)}"[:200]
    return None


def record_health_check(now=None, probes=(probe_database, probe_web)):
    """Check the service and record the result for the current UTC minute; returns the row.

    The minute is up when every probe succeeds. Idempotent per minute: a second check in the same
    minute can only turn it up (a minute with one successful check was a minute of service).
    """
    now = now or timezone.now()
    failures = [failure for failure in (probe() for probe in probes) if failure]
    is_up = not failures
    check, created = HealthCheck.objects.get_or_create(
        minute=minute_start(now), defaults={"is_up": is_up, "checked_at": now, "detail": "; ".join(failures)[:200]}
    )
    if not created and is_up and not check.is_up:
        HealthCheck.objects.filter(pk=check.pk).update(is_up=True, checked_at=now, detail="")
        check.refresh_from_db()
    return check
