from celery import Task, shared_task

from . import services


class ErasureTask(Task):
    """Marks the job failed once the retries run out (its subject is kept: `erase_user --job`
    resumes it)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        services.mark_erasure_failed(job_id, f"{type(exc).__name__}: {exc}")


@shared_task(
    base=ErasureTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=12,
)
def run_erasure(job_id):
    """Erase a job's subject. Idempotent: every retry (an error, a worker lost mid-way) continues
    from the last committed batch; returns the job's counts."""
    return services.run_erasure(job_id).job.counts
