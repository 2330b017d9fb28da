from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .models import RequestMetric


@shared_task(acks_late=True)
def purge_request_metrics(keep_days=30):
    """Delete request metrics older than keep_days; returns how many rows went."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = RequestMetric.objects.filter(at__lt=cutoff).delete()
    return deleted
