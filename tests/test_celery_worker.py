"""A task travels through Redis to a real worker process (not eager) and does its work."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import RequestMetric
from tests.worker import WORKER_QUEUE

pytestmark = pytest.mark.worker

def test_worker_on_redis_purges_old_request_metrics(redis_worker):
    from analytics.tasks import purge_request_metrics

    now = timezone.now()
    for days_ago in (40, 35, 31, 29, 1):
        RequestMetric.objects.create(
            at=now - timedelta(days=days_ago), method="GET", endpoint="/api/me/", status=200, latency_ms=3
        )

    started = time.monotonic()
    result = purge_request_metrics.apply_async(kwargs={"keep_days": 30}, queue=WORKER_QUEUE)
    deleted = result.get(timeout=60)

    assert deleted == 3
    assert RequestMetric.objects.count() == 2
    assert result.status == "SUCCESS"
    assert time.monotonic() - started < 60
