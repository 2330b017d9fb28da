"""VideoCloud system analytics: the service's own health and performance.

API figures come from RequestMetric rows (written by analytics.middleware) of the caller's
workspace; uptime from the once-a-minute health checks (HealthCheck, service-wide); machine
resources from psutil; processing from the document's queues (videos, thumbnails: this service
transcodes nothing, so they are always empty) and pluggable queue sources (the export jobs).
Request metrics and health checks are kept SYSTEM_METRICS_KEEP_DAYS days: a period starting
earlier is DataUnavailable.
"""

import functools
import math
import os
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic
from typing import Callable

import psutil
from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, Min

from analytics.definitions import ALL, resolve_period
from analytics.models import HealthCheck, RequestMetric

from .periods import DataUnavailable, ratio, whole_number
from analytics.queries.sql import db_datetime, quoted_table, read_cursor, utc_datetime

HEALTH_PROBE_ENDPOINT = "/api/health/"
PERCENTILES = {"p95": 0.95, "p99": 0.99}

# Prime psutil's CPU counter so that the first reading measures something (see cpu_usage).
psutil.cpu_percent(interval=None)


def latency_percentiles(queryset, count):
    """{name: latency_ms} for PERCENTILES over `queryset`, as PostgreSQL's percentile_cont, for
    SQLite, which has none: each percentile reads the two rows around its rank (ORDER BY latency
    LIMIT 2 OFFSET k) and interpolates between them."""
    if not count:
        return dict.fromkeys(PERCENTILES, 0)
    result = {}
    ordered = queryset.order_by("latency_ms").values_list("latency_ms", flat=True)
    for name, fraction in PERCENTILES.items():
        rank = (count - 1) * fraction
        low = math.floor(rank)
        around = list(ordered[low : low + 2])
        high_value = around[1] if len(around) > 1 else around[0]
        result[name] = whole_number(around[0] + (high_value - around[0]) * (rank - low))
    return result


@dataclass(frozen=True)
class ProcessingStats:
    """A processing queue now (queued, processing) and over a period (finished, failed, mean seconds)."""

    queued: int = 0
    processing: int = 0
    average_time_s: float | None = None
    finished: int = 0
    failed: int = 0


def export_job_stats(workspace, period):
    """The workspace's export jobs: queued and processing now; finished, failed and mean seconds
    from start to finish (completed jobs) among jobs that finished in the period."""
    with read_cursor() as cursor:
        cursor.execute(
            _export_job_stats_sql(connection.vendor),
            {"workspace": workspace.pk, "start": db_datetime(period.start), "end": db_datetime(period.end)},
        )
        queued, processing, finished, failed, average_us = cursor.fetchone()
    return ProcessingStats(
        queued=queued,
        processing=processing,
        finished=finished,
        failed=failed,
        # As the ORM's Avg of a duration: whole microseconds.
        average_time_s=timedelta(microseconds=float(average_us)).total_seconds() if average_us is not None else None,
    )


@functools.cache
def _export_job_stats_sql(vendor):
    """export_job_stats' aggregate, written once (building it through the ORM on each request
    cost several times the CPU of running it); the duration in microseconds is the one part
    each database writes its own way."""
    from exports.models import ExportJob, ExportStatus

    if vendor == "postgresql":
        duration_us = "EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000000"
    else:  # SQLite: Django's own function, the one its Avg of a duration uses
        duration_us = "django_timestamp_diff(finished_at, started_at)"
    finished_in_period = "finished_at >= %(start)s AND finished_at < %(end)s"
    return (
        "SELECT"
        f" COUNT(*) FILTER (WHERE status = '{ExportStatus.QUEUED.value}') AS queued,"
        f" COUNT(*) FILTER (WHERE status = '{ExportStatus.PROCESSING.value}') AS processing,"
        f" COUNT(*) FILTER (WHERE {finished_in_period}"
        f" AND status IN ('{ExportStatus.COMPLETED.value}', '{ExportStatus.FAILED.value}')) AS finished,"
        f" COUNT(*) FILTER (WHERE {finished_in_period} AND status = '{ExportStatus.FAILED.value}') AS failed,"
        f" AVG({duration_us}) FILTER (WHERE {finished_in_period}"
        f" AND status = '{ExportStatus.COMPLETED.value}' AND started_at IS NOT NULL) AS average_us"
        f" FROM {quoted_table(ExportJob)} WHERE workspace_id = %(workspace)s"
    )


def nothing_to_transcode(workspace, period):
    """The document's video and thumbnail queues: this service transcodes nothing, so they are
    always empty (reported, as the document shows them, with zeros)."""
    return ProcessingStats()


# Queues shown under `processing`, name -> fn(workspace, period) -> ProcessingStats: the
# document's two first, then this service's own.
PROCESSING_SOURCES: dict[str, Callable] = {
    "videos": nothing_to_transcode,
    "thumbnails": nothing_to_transcode,
    "exports": export_job_stats,
}


def register_processing_source(name, stats):
    """Add a queue to the `processing` section and to the processing error rate."""
    PROCESSING_SOURCES[name] = stats


def format_bytes(size):
    """`4GB`, `3.7GB`, `512KB` (1024-based units, one decimal at most)."""
    size = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.1f}".rstrip("0").rstrip(".") + unit


# (database name) -> (monotonic() of the reading, bytes): this process's last readings.
_database_sizes: dict[str, tuple[float, int | None]] = {}


def database_size_bytes():
    """The database's size, read at most once per DATABASE_SIZE_CACHE_S seconds per process
    (pg_database_size stats every file of the database: the dearest part of a health request)."""
    name = str(connection.settings_dict["NAME"])
    now = monotonic()
    cached = _database_sizes.get(name)
    if cached is not None and now - cached[0] < settings.DATABASE_SIZE_CACHE_S:
        return cached[1]
    size = _read_database_size_bytes()
    _database_sizes[name] = (now, size)
    return size


def _read_database_size_bytes():
    """PostgreSQL: pg_database_size of the current database; SQLite: its file (and WAL) size."""
    if connection.vendor == "postgresql":
        with read_cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        return sum(os.path.getsize(path) for path in (name, name + "-wal") if os.path.exists(path))
    return None


def machine_resources():
    """CPU (use since the previous reading in this process, load averages), memory and the storage
    holding MEDIA_ROOT (export files), plus the database size."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(settings.MEDIA_ROOT))
    database_bytes = database_size_bytes()
    return {
        "cpu": {
            "usage": round(psutil.cpu_percent(interval=None) / 100, 4),
            "load": [round(value, 2) for value in os.getloadavg()],
        },
        "memory": {"usage": round(memory.percent / 100, 4), "available": format_bytes(memory.available)},
        "storage": {"usage": round(disk.percent / 100, 4), "available": format_bytes(disk.free)},
        "database": {
            "size": format_bytes(database_bytes) if database_bytes is not None else None,
            "bytes": database_bytes,
        },
    }


def _uptime_until(period):
    return min(period.end, period.now.replace(second=0, microsecond=0))


def _uptime_ratio(period, until, first, up):
    """The service's availability over the period: minutes with a successful health check /
    minutes since checks began, counting the whole minutes from the later of the period's start
    and the first check's minute (`first`) to the earlier of its end and the current minute
    (`until`: it is still being checked); `up` = successful checks in [start, until). A minute
    without any check counts as down: nothing answered for it. 0 before a first whole minute
    has passed."""
    if first is None:
        return 0.0
    minutes = int((until - max(period.start, first)).total_seconds() // 60)
    return ratio(min(up, max(minutes, 0)), minutes)


@functools.cache
def _health_figures_sql(with_uptime, with_totals, with_percentiles):
    """One statement of the figures system_health reads (uptime's checks, the request totals and,
    on PostgreSQL, the latency percentiles), built once per combination: the ORM's building of
    those aggregates cost more CPU than running them."""
    checks, metrics = quoted_table(HealthCheck), quoted_table(RequestMetric)
    columns = []
    if with_uptime:
        columns += [
            f"(SELECT MIN(minute) FROM {checks}) AS first",
            f"(SELECT COUNT(*) FROM {checks} WHERE is_up AND minute >= %s AND minute < %s) AS up",
        ]
    request_columns = []
    if with_totals:
        request_columns += [
            "COUNT(*) AS count",
            "AVG(latency_ms) AS average",
            "COUNT(*) FILTER (WHERE status >= 500) AS errors",
        ]
    if with_percentiles:
        request_columns += [
            f"PERCENTILE_CONT({float(fraction)}) WITHIN GROUP (ORDER BY latency_ms) AS {name}"
            for name, fraction in PERCENTILES.items()
        ]
    if not request_columns:
        return "SELECT " + ", ".join(columns)
    return (
        "SELECT "
        + ", ".join(columns + ["requests.*"])
        + " FROM (SELECT "
        + ", ".join(request_columns)
        + f" FROM {metrics} WHERE workspace_id = %s AND at >= %s AND at < %s) AS requests"
    )


def _health_figures(workspace, period, sections):
    """{"uptime", "totals", "percentiles"} of system_health's sections, in one statement (SQLite
    has no percentile_cont: latency_percentiles reads its percentiles after it)."""
    with_uptime = "uptime" in sections
    with_totals = bool({"response_time", "errors"} & set(sections))
    with_percentiles = "response_time" in sections
    if not (with_uptime or with_totals):
        return {}
    until = _uptime_until(period)
    params = [db_datetime(period.start), db_datetime(until)] if with_uptime else []
    if with_totals:
        params += [workspace.pk, db_datetime(period.start), db_datetime(period.end)]
    in_statement = with_percentiles and connection.vendor == "postgresql"
    sql = _health_figures_sql(with_uptime, with_totals, in_statement)
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        row = dict(zip(names, cursor.fetchone()))
    figures = {}
    if with_uptime:
        first = None if row["first"] is None else utc_datetime(row["first"])
        figures["uptime"] = _uptime_ratio(period, until, first, row["up"])
    if with_totals:
        figures["totals"] = {name: row[name] for name in ("count", "average", "errors")}
    if in_statement:
        figures["percentiles"] = (
            {name: whole_number(row[name]) for name in PERCENTILES} if row["count"] else dict.fromkeys(PERCENTILES, 0)
        )
    elif with_percentiles:
        figures["percentiles"] = latency_percentiles(_requests(workspace, period), row["count"])
    return figures


def _request_totals(workspace, period):
    """{count, average, errors} of the workspace's API requests in the period: system_health's
    statement, its totals alone."""
    return _health_figures(workspace, period, ("errors",))["totals"]


def _requests(workspace, period):
    return RequestMetric.objects.filter(workspace=workspace, at__gte=period.start, at__lt=period.end)


def _earliest_request(workspace):
    return lambda: RequestMetric.objects.filter(workspace=workspace).aggregate(first=Min("at"))["first"]


def system_period(workspace, name, now=None):
    """The Period `name` at `now` of the system figures (`all` starts on the day of the workspace's
    first recorded request); DataUnavailable when it starts before the oldest request metrics and
    health checks kept (SYSTEM_METRICS_KEEP_DAYS; `all` is what is kept)."""
    period = resolve_period(name, now, earliest=_earliest_request(workspace))
    kept_days = settings.SYSTEM_METRICS_KEEP_DAYS
    if name != ALL and period.start < period.now - timedelta(days=kept_days):
        raise DataUnavailable(
            f"Request metrics and health checks are kept {kept_days} days; period {name} starts "
            f"before them. Use a shorter period or all.",
            field="period",
        )
    return period


def system_health(workspace, period, *, sections=("uptime", "response_time", "errors", "resources")):
    """The service's health over the period, as seen by the workspace.

    uptime: see _uptime_ratio(). response_time: mean, p95 and p99 latency (ms, whole, half up) of the
    workspace's API requests (0 without any). errors: all error rates share one
    denominator, the operations of the period (the workspace's API requests + its export jobs
    finished in the period + storage operations, none measured), so byType sums to rate: api =
    5xx responses, processing = failed export jobs, storage = 0. resources: machine-wide.
    `period`: see system_period.
    """
    result = {}
    figures = _health_figures(workspace, period, sections)
    if "uptime" in sections:
        result["uptime"] = figures["uptime"]
    totals = figures.get("totals")
    if "response_time" in sections:
        result["response_time"] = {"average": whole_number(totals["average"]), **figures["percentiles"]}
    if "errors" in sections:
        queues = [stats(workspace, period) for stats in PROCESSING_SOURCES.values()]
        failed_jobs = sum(queue.failed for queue in queues)
        operations = totals["count"] + sum(queue.finished for queue in queues)
        storage_errors = 0
        result["errors"] = {
            "rate": ratio(totals["errors"] + failed_jobs + storage_errors, operations),
            "by_type": {
                "api": ratio(totals["errors"], operations),
                "processing": ratio(failed_jobs, operations),
                "storage": ratio(storage_errors, operations),
            },
        }
    if "resources" in sections:
        result["resources"] = machine_resources()
    return result


def system_performance(workspace, period, *, sections=("api", "processing", "storage")):
    """The workspace's API traffic and the processing queues over the period.

    api: requests recorded in the period (total, per second of the elapsed part of the period,
    by endpoint path template, busiest first) and mean latency (ms, whole) overall and by endpoint.
    processing: each queue of PROCESSING_SOURCES (queued and processing now, mean seconds of the
    jobs completed in the period, whole, 0 without any). storage: file storage operations and
    bandwidth are not measured yet: zeros. `period`: see system_period.
    """
    result = {}
    if "api" in sections:
        totals = _request_totals(workspace, period)
        endpoints = (
            _requests(workspace, period)
            .values("endpoint")
            .annotate(n=Count("id"), average=Avg("latency_ms"))
            .order_by("-n", "endpoint")
        )
        endpoints = list(endpoints)
        result["api"] = {
            "requests": {
                "total": totals["count"],
                "per_second": ratio(totals["count"], period.elapsed_seconds, places=2),
                "by_endpoint": {row["endpoint"]: row["n"] for row in endpoints},
            },
            "response_time": {
                "average": whole_number(totals["average"]),
                "by_endpoint": {row["endpoint"]: whole_number(row["average"]) for row in endpoints},
            },
        }
    if "processing" in sections:
        result["processing"] = {
            name: {
                "queued": queue.queued,
                "processing": queue.processing,
                "average_time": whole_number(queue.average_time_s),
            }
            for name, queue in ((name, stats(workspace, period)) for name, stats in PROCESSING_SOURCES.items())
        }
    if "storage" in sections:
        result["storage"] = {
            "operations": {"reads": 0, "writes": 0, "errors": 0},
            "bandwidth": {"in": "0B/s", "out": "0B/s"},
        }
    return result
