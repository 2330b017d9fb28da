"""A task travels through Redis to a real worker process (not eager) and does its work."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import RequestMetric

pytestmark = pytest.mark.worker


def test_worker_on_redis_purges_old_request_metrics(redis_worker):
    now = timezone.now()
    for days_ago in (40, 35, 31, 29, 1):
        RequestMetric.objects.create(
            at=now - timedelta(days=days_ago), method="GET", endpoint="/api/me/", status=200, latency_ms=3
        )

    result = redis_worker.send_task("analytics.tasks.purge_request_metrics", kwargs={"keep_days": 30})
    deleted = result.get(timeout=60)

    assert deleted == 3
    assert RequestMetric.objects.count() == 2
    assert result.status == "SUCCESS"
