"""Keeping courses.ResultTotal: the Analyse statistics' sums per (course, enrollment type,
effective state) as they read on one UTC day, rows with a clock boundary that day left out.

The sums are those of `analytics.queries.analyse.statistics.result_groups_sql` at the first
instant of the day, over the rows `boundary_on_day_sql(..., on=False)` keeps: the reader adds the
rows it leaves out, counted at the real time, so the row rules are stated once.

`refresh_result_totals(workspace_id, course_ids)` recomputes the courses whose results a write
changed, in the writing transaction (the rollup registry's `result_totals` entry, after
`results`). `rebuild_result_totals(workspace_id)` recomputes a workspace for today; on a new day
the totals are stale (readers count every row) until `refresh_stale_result_totals` (beat, every
minute) rebuilds them.

Concurrency (PostgreSQL): writers hold the workspace's ResultTotalsState row FOR SHARE and an
advisory lock per course they recompute, a rebuild holds the state row FOR UPDATE; so two
writers of one course, or a writer and a rebuild, never compute from snapshots that miss each
other's rows.
"""

from datetime import datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from analytics.definitions import UTC
from analytics.queries.analyse.rows import boundary_on_day_sql
from analytics.queries.analyse.statistics import result_groups_sql
from courses.models import ResultTotal, ResultTotalsState

TOTAL = ResultTotal._meta.db_table
STATE = ResultTotalsState._meta.db_table
COLUMNS = (
    "workspace_id, course_id, enrollment_type, state, results, progress_sum, scored, score_sum, certificates, "
    "time_spent_s"
)
# The first key of the advisory locks of one course's totals (the second is the course id).
_LOCK_NAMESPACE = 74_221


def today():
    return timezone.now().astimezone(UTC).date()


def _insert_totals(cursor, workspace, day, course_ids=None):
    """INSERT ... SELECT of the workspace's totals on `day` (of `course_ids` only, when given)."""
    start = datetime.combine(day, time(), UTC)
    groups_sql, params = result_groups_sql(
        workspace,
        course_ids=course_ids,
        now=start,
        restrict=boundary_on_day_sql(start, start + timedelta(days=1), on=False),
    )
    cursor.execute(
        f"INSERT INTO {TOTAL} ({COLUMNS}) SELECT %s, g.course_pk, g.enrollment_type, g.effective_state, g.total, "
        f"g.progress_sum, g.scored, COALESCE(g.score_sum, 0), g.certificates, g.time_spent FROM ({groups_sql}) AS g",
        [workspace.pk, *params],
    )


def _state_day(cursor, workspace_id, lock):
    """The day the workspace's totals hold (None: not built), its state row locked `lock`
    ("SHARE" or "UPDATE") on PostgreSQL."""
    suffix = f" FOR {lock}" if connection.vendor == "postgresql" else ""
    cursor.execute(f"SELECT day FROM {STATE} WHERE workspace_id = %s{suffix}", [workspace_id])
    row = cursor.fetchone()
    if row is None:
        return None
    day = row[0]
    return datetime.strptime(day, "%Y-%m-%d").date() if isinstance(day, str) else day


def refresh_result_totals(workspace_id, course_ids):
    """Recompute the totals of `course_ids` (courses whose Result rows changed) in the caller's
    transaction, when the workspace's totals hold today; the whole workspace when they were never
    built; otherwise nothing (stale until the next rebuild: another day, or the results were
    reloaded in bulk)."""
    course_ids = sorted({int(course_id) for course_id in course_ids})
    if not course_ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        if not ResultTotalsState.objects.filter(workspace_id=workspace_id).exists():
            # Never built (a new workspace: its first results): build it whole, it is small.
            rebuild_result_totals(workspace_id)
            return
        day = _state_day(cursor, workspace_id, "SHARE")
        if day is None or day != today():
            return
        if connection.vendor == "postgresql":
            for course_id in course_ids:  # sorted: two writers lock in the same order
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, course_id])
        placeholders = ", ".join(["%s"] * len(course_ids))
        cursor.execute(
            f"DELETE FROM {TOTAL} WHERE workspace_id = %s AND course_id IN ({placeholders})",
            [workspace_id, *course_ids],
        )
        _insert_totals(cursor, Workspace(pk=workspace_id), day, course_ids=course_ids)


def rebuild_result_totals(workspace_id=None):
    """Recompute the totals of the workspace (None: every workspace) for today; returns the
    number of rows."""
    workspace_ids = (
        [workspace_id]
        if workspace_id is not None
        else list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    )
    count = 0
    for each in workspace_ids:
        with transaction.atomic(), connection.cursor() as cursor:
            day = today()
            ResultTotalsState.objects.get_or_create(workspace_id=each, defaults={"day": day})
            _state_day(cursor, each, "UPDATE")
            cursor.execute(f"DELETE FROM {TOTAL} WHERE workspace_id = %s", [each])
            _insert_totals(cursor, Workspace(pk=each), day)
            count += cursor.rowcount
            ResultTotalsState.objects.filter(workspace_id=each).update(day=day)
    return count


def result_totals_stale(workspace_id=None):
    """True when readers count every row: the totals of the workspace (None: of some workspace)
    are not built or hold another day than today."""
    workspaces = Workspace.objects.all() if workspace_id is None else Workspace.objects.filter(pk=workspace_id)
    fresh = ResultTotalsState.objects.filter(day=today()).values("workspace_id")
    return workspaces.exclude(pk__in=fresh).exists()


def refresh_stale_result_totals():
    """Rebuild the totals of every workspace whose totals are stale (a new day, a bulk reload of
    the results); returns the number of workspaces rebuilt."""
    fresh = ResultTotalsState.objects.filter(day=today()).values("workspace_id")
    stale = list(Workspace.objects.exclude(pk__in=fresh).order_by("pk").values_list("pk", flat=True))
    for workspace_id in stale:
        rebuild_result_totals(workspace_id)
    return len(stale)
