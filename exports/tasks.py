from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from . import services


class ExportTask(Task):
    """Marks the job failed, with a readable error, once the task gives up."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, services.ExportCancelled):
            return
        job_id = args[0] if args else kwargs.get("job_id")
        services.mark_export_failed(job_id, f"{type(exc).__name__}: {exc}")


@shared_task(
    base=ExportTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def run_export(job_id):
    """Write an export job's file. Transient database errors are retried with backoff; a worker
    killed mid-export leaves the message unacknowledged, so the job runs again from the start."""
    try:
        job = services.run_export_job(job_id)
    except services.ExportCancelled:
        return "cancelled"
    except (OperationalError, InterfaceError):
        raise  # retried; ExportTask.on_failure marks the job failed when retries run out
    except Exception as exc:
        services.mark_export_failed(job_id, f"{type(exc).__name__}: {exc}")
        raise
    return job.status


@shared_task
def expire_exports():
    """Delete expired export files and mark their jobs expired; returns how many."""
    return services.expire_exports()
