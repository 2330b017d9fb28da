"""The once-a-minute health check behind /analytics/system/health's uptime."""

import socket
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from analytics.models import HealthCheck, RequestMetric
from analytics.services.health_checks import probe_web, record_health_check
from analytics.tasks import check_health, purge_request_metrics

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 3, 30, 15, 30, 42, tzinfo=timezone.utc)
MINUTE = datetime(2024, 3, 30, 15, 30, tzinfo=timezone.utc)


def up():
    return None


def down():
    return "database: gone"


def test_a_check_records_its_minute_up_when_every_probe_answers():
    check = record_health_check(NOW, probes=(up, up))

    assert (check.minute, check.is_up, check.detail) == (MINUTE, True, "")


def test_a_check_is_down_when_a_probe_fails_and_says_why():
    check = record_health_check(NOW, probes=(up, down))

    assert (check.is_up, check.detail) == (False, "database: gone")


def test_a_second_check_in_the_minute_can_only_turn_it_up():
    record_health_check(NOW, probes=(down,))
    record_health_check(NOW + timedelta(seconds=5), probes=(up,))
    record_health_check(NOW + timedelta(seconds=10), probes=(down,))

    assert list(HealthCheck.objects.values_list("minute", "is_up")) == [(MINUTE, True)]


def test_web_probe_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed: nothing listens there

    assert probe_web(f"http://127.0.0.1:{port}/api/health/", timeout_s=2).startswith("web: ")


@pytest.mark.django_db(transaction=True)
def test_web_probe_passes_when_the_web_process_answers_its_health_endpoint(live_server):
    assert probe_web(f"{live_server.url}/api/health/", timeout_s=5) is None


def test_web_probe_fails_when_the_url_answers_an_error(live_server):
    assert probe_web(f"{live_server.url}/no-such-page/", timeout_s=5).startswith("web: ")


def test_web_probe_is_skipped_without_a_url():
    assert probe_web("") is None


def test_beat_task_checks_the_database_and_the_web_process(settings):
    settings.HEALTH_CHECK_URL = ""  # no web process in the test run: the database only

    assert check_health() is True
    assert HealthCheck.objects.filter(is_up=True).count() == 1


def test_beat_runs_the_check_once_a_minute():
    assert settings.CELERY_BEAT_SCHEDULE["check-health"] == {
        "task": "analytics.tasks.check_health",
        "schedule": 60,
        "options": {"expires": 60},
    }


def test_purge_removes_health_checks_older_than_the_kept_days():
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    HealthCheck.objects.create(minute=now - timedelta(days=31), is_up=True)
    kept = HealthCheck.objects.create(minute=now - timedelta(days=29), is_up=True)
    RequestMetric.objects.create(at=now - timedelta(days=31), method="GET", endpoint="/x", status=200, latency_ms=1)

    assert purge_request_metrics() == 1
    assert list(HealthCheck.objects.values_list("pk", flat=True)) == [kept.pk]
