"""Course reports made by the export machinery, as Open edX's
`/api/v0/courses/{course_id}/reports/{report_name}/` serves them (analytics/api/edx_summaries.py).

A report is an export job (ExportJob) of the report's source type, period `all`, CSV, filtered to
one course (`filters = {"course_id": <key>}`). The rule (docs/api/course_info.md, "Problem
response report"):

- the answer is the course's latest *ready* report: completed, its file present, not expired
  (export files live EXPORT_TTL_HOURS, 24 h by default);
- a new report is queued when there is none ready, or when the latest ready one finished more
  than REPORT_MAX_AGE (a day) ago; not when one is already queued or running for the course
  and was created less than PENDING_FOR ago (an hour: after that it is taken as stuck and
  another is queued). The caller's credential is recorded as the requester, so the job shows in
  their export list, with their scope (an instructor's covers the course they teach).
"""

import logging
from datetime import timedelta

from django.utils import timezone

from .models import ExportFormat, ExportJob, ExportStatus
from .services import ACTIVE_STATUSES, QueueUnavailable, create_export_job

logger = logging.getLogger(__name__)

# Open edX report name -> the export source that makes it.
REPORT_SOURCES = {"problem_response": "problem_response"}
REPORT_PERIOD = "all"
REPORT_MAX_AGE = timedelta(days=1)
PENDING_FOR = timedelta(hours=1)


def course_report_jobs(course, report_name):
    """Every export job of this report for this course (its workspace's only)."""
    return ExportJob.objects.filter(
        workspace_id=course.workspace_id, type=REPORT_SOURCES[report_name], filters__course_id=course.key
    )


def latest_ready_report(course, report_name, now=None):
    """The course's latest completed, unexpired report job with its file, or None."""
    now = now or timezone.now()
    return (
        course_report_jobs(course, report_name)
        .filter(status=ExportStatus.COMPLETED, expires_at__gt=now)
        .exclude(file_name="")
        .order_by("-finished_at")
        .first()
    )


def course_report(credential, course, report_name, now=None):
    """The latest ready report job of the course (None if there is none), queueing a new one
    when the rule of the module asks for it. The queueing happens after the caller's commit;
    if the task broker cannot take it, the job is dropped and the answer is unchanged."""
    now = now or timezone.now()
    ready = latest_ready_report(course, report_name, now)
    if ready is None or ready.finished_at is None or ready.finished_at <= now - REPORT_MAX_AGE:
        pending = course_report_jobs(course, report_name).filter(
            status__in=ACTIVE_STATUSES, created_at__gt=now - PENDING_FOR
        )
        if not pending.exists():
            try:
                create_export_job(
                    credential,
                    REPORT_SOURCES[report_name],
                    REPORT_PERIOD,
                    [],
                    ExportFormat.CSV,
                    {"course_id": course.key},
                )
            except QueueUnavailable as exc:  # raised here when not inside a transaction
                logger.warning("Report %s of %s not queued: %s", report_name, course.key, exc)
    return ready
