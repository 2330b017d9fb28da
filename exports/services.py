"""Export jobs: create (validated), run (write the file through Django's storage), cancel,
expire, and sign download links."""

import codecs
import itertools
import logging
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import Role
from analytics.definitions import taught_courses
from config.replicas import read_connection, replica_reads

from .models import ExportFormat, ExportJob, ExportStatus
from .periods import export_window
from .pseudonyms import pseudonymized
from .sources import SOURCES, ExportScope
from .writers import WRITERS

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
DOWNLOAD_SALT = "exports.download"
ACTIVE_STATUSES = (ExportStatus.QUEUED, ExportStatus.PROCESSING)
EXPORT_FAILED = "ANALYTICS_EXPORT_FAILED"  # the document's code for a failed export


class ExportRequestError(ValueError):
    """A request for an export that cannot be served; `code` is the VideoCloud error code."""

    def __init__(self, code, message, field=None):
        super().__init__(message)
        self.code = code
        self.field = field


class ExportCancelled(Exception):
    pass


def export_ttl():
    return timedelta(hours=getattr(settings, "EXPORT_TTL_HOURS", 24))


def scope_for(job):
    """What the job's requester may export, as recorded when the job was created."""
    if job.requester_role == Role.ADMIN:
        return ExportScope(workspace=job.workspace)
    if job.requester_role == Role.INSTRUCTOR:
        # An instructor API key's job has no person: it teaches nothing, its exports are empty.
        taught = taught_courses(job.workspace, job.requested_by)
        return ExportScope(workspace=job.workspace, course_ids=tuple(taught.values_list("id", flat=True)))
    return ExportScope(workspace=job.workspace, user_id=job.requested_by_id)


def validate_export_request(credential, export_type, period, metrics, export_format, filters):
    """Check an export request against the sources and the requester's role.

    Raises ExportRequestError with the VideoCloud code, a DRF ValidationError for bad filters
    (field paths under `filters.`) and PermissionError; returns the normalised metrics list.
    """
    source = SOURCES.get(export_type)
    if source is None:
        raise ExportRequestError(
            "ANALYTICS_INVALID_TYPE", f"Unknown export type {export_type!r}; expected one of {sorted(SOURCES)}.", "type"
        )
    if export_format not in ExportFormat.values:
        raise ExportRequestError(
            "ANALYTICS_INVALID_FORMAT",
            f"Unknown format {export_format!r}; expected one of {ExportFormat.values}.",
            "format",
        )
    export_window(period)
    unknown = [metric for metric in metrics if metric not in source.metric_groups]
    if unknown:
        raise ExportRequestError(
            "ANALYTICS_INVALID_METRICS",
            f"Unknown metrics {unknown} for type {export_type!r}; expected some of {list(source.metric_groups)}.",
            "metrics",
        )
    if credential.role == Role.LEARNER and not source.learner_allowed:
        raise PermissionError("Learners may only export their own activity (type=user).")
    if credential.role == Role.INSTRUCTOR and not source.instructor_allowed:
        raise PermissionError(f"Exports of type {export_type!r} are for workspace admins.")
    if filters and source.parse_filters is None:
        raise ExportRequestError(
            "ANALYTICS_INVALID_PARAMETER", f"Exports of type {export_type!r} take no filters.", "filters"
        )
    if source.parse_filters is not None:
        try:
            source.parse_filters(filters)
        except ValidationError as exc:
            raise ValidationError({"filters": exc.detail}) from exc
    if credential.role == Role.LEARNER and credential.user is None:
        raise PermissionError("A learner export needs a person, not an API key.")
    return list(metrics)


class QueueUnavailable(Exception):
    """The task broker could not take the export: the job was removed, nothing is pending."""


def create_export_job(credential, export_type, period, metrics, export_format, filters, *, pseudonymize=None):
    """Create the job and queue its task once the job is committed (a worker must find it).

    If the broker cannot take the task (bounded by CELERY_BROKER_CONNECTION_TIMEOUT and
    CELERY_TASK_PUBLISH_RETRY_POLICY), the job is deleted and QueueUnavailable raised from the
    commit: the caller answers 503 and no job is left queued that no worker will ever run.

    pseudonymize: replace learners' emails and names by a keyed hash (exports.pseudonyms); None:
    the workspace's default (Workspace.pseudonymize_exports).

    The job's link expires EXPORT_TTL_HOURS after its creation: the link is handed out at once
    (the document's `downloadUrl` and `expiresAt` in the creation's answer).
    """
    now = timezone.now()
    job = ExportJob.objects.create(
        created_at=now,
        expires_at=now + export_ttl(),
        workspace=credential.workspace,
        requested_by=credential.user,
        requested_by_key=credential.api_key,
        requester_role=credential.role,
        type=export_type,
        period=period,
        metrics=metrics,
        format=export_format,
        filters=filters or {},
        pseudonymize=credential.workspace.pseudonymize_exports if pseudonymize is None else bool(pseudonymize),
    )
    transaction.on_commit(lambda: queue_export(job.pk))
    return job


def queue_export(job_id):
    from kombu.exceptions import OperationalError as BrokerError

    from .tasks import run_export

    try:
        run_export.apply_async(args=[job_id], retry=True)
    except BrokerError as exc:
        logger.warning("Export %s not queued, broker unavailable: %s", job_id, exc)
        ExportJob.objects.filter(pk=job_id).delete()
        raise QueueUnavailable(str(exc)) from exc


def jobs_visible_to(credential):
    """The caller's own jobs: those requested with the same user or the same API key."""
    jobs = ExportJob.objects.filter(workspace=credential.workspace)
    if credential.api_key is not None:
        return jobs.filter(requested_by_key=credential.api_key)
    return jobs.filter(requested_by=credential.user)


def _coerce(columns):
    converters = []
    for column in columns:
        if column.type == "string":
            converters.append(lambda v: v if v is None or isinstance(v, str) else str(v))
        elif column.type == "float":
            converters.append(lambda v: None if v is None else float(v))
        else:
            converters.append(None)
    if not any(converters):
        return lambda row: row
    return lambda row: tuple(value if convert is None else convert(value) for convert, value in zip(converters, row))


def _still_wanted(job_id):
    return ExportJob.objects.filter(pk=job_id, status=ExportStatus.PROCESSING).exists()


def _record_progress(job, written):
    """Save the rows written so far; raises ExportCancelled when the job was cancelled meanwhile."""
    ExportJob.objects.filter(pk=job.pk).update(row_count=written)
    if not _still_wanted(job.pk):
        raise ExportCancelled(job.public_id)


def _write_batches(job, writer, columns, rows):
    coerce = _coerce(columns)
    written = 0
    while batch := [coerce(row) for row in itertools.islice(rows, BATCH_SIZE)]:
        writer.write(batch)
        written += len(batch)
        _record_progress(job, written)
    return written


def _copy_csv(queryset, columns, stream):
    """CSV straight from PostgreSQL's COPY: the database formats the rows, Python only moves
    bytes. Same header, BOM, quoting, line ends and time format as CsvWriter. The rows written
    are counted by line ends (a value holding a line break would count twice). The connection is
    busy until COPY ends, so progress is saved once, after it (COPY writes a million rows in
    seconds)."""
    # elide_empty=False: an empty scope (an instructor teaching no course) is a query with a false
    # condition, not EmptyResultSet.
    reads = read_connection()
    sql, params = queryset.query.get_compiler(connection=reads, elide_empty=False).as_sql()
    stream.write(codecs.BOM_UTF8 + (",".join(column.name for column in columns) + "\n").encode())
    copied = 0
    with reads.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for data in copy:
                stream.write(data)
                copied += bytes(data).count(b"\n")
    return copied


def run_export_job(job_id):
    """Write the job's file and mark it completed; progress is saved after every batch.

    A job that is cancelled while running stops at its next batch and leaves no file.
    """
    job = ExportJob.objects.select_related("workspace").get(pk=job_id)
    if job.status not in ACTIVE_STATUSES:
        return job
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.PROCESSING, started_at=timezone.now(), tries=job.tries + 1, row_count=0, error=""
    )
    source = SOURCES[job.type]
    columns = source.columns(job.metrics)
    window = export_window(job.period)
    writer_class = WRITERS[job.format]
    # The rows come from a replica when one is current (config/replicas.py); the job's own row,
    # its progress and its cancellation stay on the primary.
    with replica_reads(), tempfile.TemporaryFile() as stream:
        rows = source.rows(scope_for(job), window, job.filters, columns)
        if job.pseudonymize:
            rows = pseudonymized(rows, columns, job.workspace_id)
        ExportJob.objects.filter(pk=job.pk).update(rows_expected=rows.count)
        if job.format == ExportFormat.CSV and rows.copy_queryset is not None and connection.vendor == "postgresql":
            writer = None
            written = _copy_csv(rows.copy_queryset, columns, stream)
            _record_progress(job, written)
        else:
            writer = writer_class(stream, columns)
            written = _write_batches(job, writer, columns, rows.rows)
        if writer is not None:
            writer.close()
        stream.seek(0)
        name = default_storage.save(
            f"exports/{job.workspace.slug}/{job.public_id}.{writer_class.extension}", File(stream)
        )
    now = timezone.now()
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.PROCESSING).update(
        status=ExportStatus.COMPLETED,
        row_count=written,
        rows_expected=written,
        file_name=name,
        file_size=default_storage.size(name),
        finished_at=now,
        expires_at=Coalesce(F("expires_at"), Value(now + export_ttl())),  # jobs created without one
    )
    if not updated:
        default_storage.delete(name)
        raise ExportCancelled(job.public_id)
    job.refresh_from_db()
    return job


def mark_export_failed(job_id, error):
    ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(
        status=ExportStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def cancel_or_delete_export(job):
    """A queued or running job is cancelled; a finished one is removed with its file."""
    if job.status in ACTIVE_STATUSES:
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
        return "cancelled"
    if job.file_name:
        default_storage.delete(job.file_name)
    job.delete()
    return "deleted"


def expire_exports(now=None):
    """Delete the files of completed jobs past their expiry and mark those jobs expired."""
    now = now or timezone.now()
    expired = ExportJob.objects.filter(status=ExportStatus.COMPLETED, expires_at__lte=now)
    names = list(expired.values_list("file_name", flat=True))
    for name in names:
        default_storage.delete(name)
    return expired.update(status=ExportStatus.EXPIRED, file_name="")


def link_expires_at(job):
    """When the job's download link expires: its expires_at, set at creation (jobs created
    without one: their creation + EXPORT_TTL_HOURS)."""
    return job.expires_at or job.created_at + export_ttl()


def download_token(job):
    return signing.dumps({"id": job.public_id, "exp": int(link_expires_at(job).timestamp())}, salt=DOWNLOAD_SALT)


class DownloadRefused(Exception):
    """The link does not give the file, ever: `status` and the VideoCloud `code` to answer."""

    def __init__(self, status, message, code=None):
        super().__init__(message)
        self.status = status
        self.code = code or ("ANALYTICS_FORBIDDEN" if status == 403 else "ANALYTICS_EXPORT_EXPIRED")


class DownloadPending(Exception):
    """The file is not written yet: ask again later."""

    def __init__(self, job):
        super().__init__(job.public_id)
        self.job = job


def job_for_download(public_id, token, now=None):
    """The completed job a signed token grants. DownloadRefused(403) when tampered or not this
    job's, (410 ANALYTICS_EXPORT_EXPIRED) when expired, cancelled or removed, (410
    ANALYTICS_EXPORT_FAILED) when the job failed; DownloadPending while it is queued or running."""
    try:
        claims = signing.loads(token or "", salt=DOWNLOAD_SALT)
    except signing.BadSignature as exc:
        raise DownloadRefused(403, "This download link is not valid.") from exc
    if claims.get("id") != public_id:
        raise DownloadRefused(403, "This download link is not valid.")
    now = now or timezone.now()
    if claims.get("exp", 0) <= now.timestamp():
        raise DownloadRefused(410, "This download link has expired.")
    job = ExportJob.objects.filter(public_id=public_id).first()
    if job is not None and job.status in ACTIVE_STATUSES:
        raise DownloadPending(job)
    if job is not None and job.status == ExportStatus.FAILED:
        raise DownloadRefused(410, f"The export failed: {job.error}", code=EXPORT_FAILED)
    if job is None or job.status != ExportStatus.COMPLETED or not job.file_name:
        raise DownloadRefused(410, "This export is no longer available.")
    return job
