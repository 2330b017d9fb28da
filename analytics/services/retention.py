"""Retention of raw activity: page sessions, learning events and video views older than a
workspace's `raw_activity_retention_days` are deleted, their rollups kept.

The horizon is a UTC day boundary: midnight UTC today minus the retention days. Rows before it
are deleted in batches (BATCH_SIZE rows per transaction, by primary key, found through the
(workspace, time) indexes), so no lock is held for long and writers of new rows never wait.

The rows are deleted with the base manager's raw delete: not through RollupManager nor
rows_changed, which would recompute the rollups of those days from the remaining raw rows (none)
and lose the history. The rollups already hold them: the learner-day rollups are kept in the
writing transaction; course information rollups of stale courses are refreshed first (a
workspace still stale after that is not pruned this time).

After a prune, Workspace.raw_activity_pruned_before records the horizon: the rollup registry
(analytics.rollups.registry.history_horizon) keeps rollup rows of such a workspace instead of
rebuilding them from raw rows that are gone.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from analytics.definitions import UTC
from analytics.models import LearningEvent, PageSession, VideoView
from analytics.services.partitions import MonthPartition, drop_partition, existing_months, is_partitioned


def quote(name):
    return connection.ops.quote_name(name)


BATCH_SIZE = 5000
# The raw tables pruned and their time column.
PRUNED = ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at"))


def horizon_for(days, now=None):
    """Midnight UTC of today minus `days` (None: keep forever)."""
    if days is None:
        return None
    today = (now or timezone.now()).astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)


@dataclass
class PruneResult:
    workspace: str
    horizon: datetime | None
    deleted: dict = field(default_factory=dict)  # model label: rows (would be) deleted
    batches: int = 0
    longest_batch_s: float = 0.0
    skipped: str = ""

    @property
    def total(self):
        return sum(self.deleted.values())


def _rollups_hold(workspace):
    """Bring course information rollups of the workspace up to date; whether they now are."""
    from analytics.services.course_info_rollups import has_stale_courses, refresh_stale_courses

    if has_stale_courses(workspace.pk):
        refresh_stale_courses()
    return not has_stale_courses(workspace.pk)


def prune_workspace(workspace, *, now=None, dry_run=False, batch_size=BATCH_SIZE, progress=None):
    """Delete the workspace's raw activity before its horizon; a PruneResult. progress(model
    label, rows so far) after each batch."""
    result = PruneResult(workspace.slug, horizon_for(workspace.raw_activity_retention_days, now))
    if result.horizon is None:
        result.skipped = "no retention set"
        return result
    if dry_run:
        for model, column in PRUNED:
            rows = model._base_manager.filter(workspace=workspace, **{f"{column}__lt": result.horizon})
            result.deleted[model._meta.label] = rows.count()
        return result
    if not _rollups_hold(workspace):
        result.skipped = "course information rollups still stale"
        return result
    for model, column in PRUNED:
        label = model._meta.label
        result.deleted[label] = 0
        old = model._base_manager.filter(workspace=workspace, **{f"{column}__lt": result.horizon})
        while True:
            started = time.perf_counter()
            with transaction.atomic():
                ids = list(old.order_by().values_list("pk", flat=True)[:batch_size])
                if ids:
                    model._base_manager.filter(pk__in=ids)._raw_delete(model._base_manager.db)
            result.longest_batch_s = max(result.longest_batch_s, time.perf_counter() - started)
            if not ids:
                break
            result.batches += 1
            result.deleted[label] += len(ids)
            if progress:
                progress(label, result.deleted[label])
    # Only ever moves forward: a longer retention set later cannot bring rows back.
    current = Workspace.objects.filter(pk=workspace.pk).values_list("raw_activity_pruned_before", flat=True).first()
    if current is None or current < result.horizon:
        Workspace.objects.filter(pk=workspace.pk).update(raw_activity_pruned_before=result.horizon)
        workspace.raw_activity_pruned_before = result.horizon
    return result


def prune_activity(slug=None, *, now=None, dry_run=False, batch_size=BATCH_SIZE, progress=None):
    """Prune every workspace with a retention (or the one `slug` names); [PruneResult].

    On PostgreSQL a month partition whose every row is before its workspace's horizon is
    detached and dropped whole first (partitions are shared by all workspaces); the rest goes
    row by row."""
    workspaces = Workspace.objects.order_by("pk")
    if slug is not None:
        workspaces = workspaces.filter(slug=slug)
    else:
        workspaces = workspaces.filter(raw_activity_retention_days__isnull=False)
    workspaces = list(workspaces)
    dropped = {} if dry_run else drop_expired_partitions(workspaces, now=now)
    results = []
    for workspace in workspaces:
        result = prune_workspace(workspace, now=now, dry_run=dry_run, batch_size=batch_size, progress=progress)
        for label, rows in dropped.get(workspace.pk, {}).items():
            result.deleted[label] = result.deleted.get(label, 0) + rows
        results.append(result)
    return results


def drop_expired_partitions(workspaces, *, now=None):
    """Drop the month partitions of the pruned tables that hold only rows before their own
    workspace's horizon, among `workspaces` whose course information rollups hold; returns
    {workspace id: {model label: rows dropped}}. Any row of another workspace keeps the
    partition (a scan that stops at the first such row: daily, and only of expired months)."""
    if not is_partitioned():
        return {}
    horizons = {}
    for workspace in workspaces:
        horizon = horizon_for(workspace.raw_activity_retention_days, now)
        if horizon is not None and _rollups_hold(workspace):
            horizons[workspace.pk] = horizon
    if not horizons:
        return {}
    dropped = {}
    for model, _ in PRUNED:
        table = model._meta.db_table
        for month in sorted(existing_months(table)):
            partition = MonthPartition(table, month)
            end = partition.bounds[1]
            ready = [pk for pk, horizon in horizons.items() if horizon >= end]
            if not ready or _holds_rows_of_others(partition.name, ready):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT workspace_id, count(*) FROM {quote(partition.name)} GROUP BY workspace_id")
                counts = cursor.fetchall()
            drop_partition(table, month)
            for workspace_id, rows in counts:
                dropped.setdefault(workspace_id, {})[model._meta.label] = rows
    return dropped


def _holds_rows_of_others(partition, workspace_ids):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {quote(partition)} WHERE NOT (workspace_id = ANY(%s)))", [workspace_ids]
        )
        return cursor.fetchone()[0]
