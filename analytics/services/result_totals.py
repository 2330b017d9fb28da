"""Keeping courses.ResultTotal: the Analyse statistics' sums per (course, enrollment type,
effective state) as they read on one UTC day, rows with a clock boundary that day left out; and
courses.ResultGroupTotal, the same sums per learner group (one group's statistics and page
total), kept with them: same day, same state row, same refresh and rebuild.

The sums are those of `analytics.queries.analyse.statistics.result_groups_sql` at the first
instant of the day, over the rows `boundary_on_day_sql(..., on=False)` keeps: the reader adds the
rows it leaves out, counted at the real time, so the row rules are stated once.

`refresh_result_totals(workspace_id, course_ids, user_ids)` recomputes the courses whose results
a write changed (ResultTotal; ResultGroupTotal for the groups of the learners written), in the
writing transaction (the rollup registry's `result_totals` entry, after `results`);
`refresh_group_totals(workspace_id, user_ids, group_ids)` the totals of the groups users joined
or left, for the courses they have results in (the registry entry reads the group membership
rows); `forget_results` takes a deleted user's rows out. `rebuild_result_totals(workspace_id)`
recomputes a workspace for today; on a new day the totals are stale (readers count every row)
until `refresh_stale_result_totals` (beat, every minute) rebuilds them.

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
from analytics.queries.analyse.statistics import MEMBER, result_group_sums_sql, result_groups_sql
from courses.models import Result, ResultGroupTotal, ResultTotal, ResultTotalsState

TOTAL = ResultTotal._meta.db_table
GROUP_TOTAL = ResultGroupTotal._meta.db_table
STATE = ResultTotalsState._meta.db_table
SUM_COLUMNS = "enrollment_type, state, results, progress_sum, scored, score_sum, certificates, time_spent_s"
COLUMNS = f"workspace_id, course_id, {SUM_COLUMNS}"
GROUP_COLUMNS = f"workspace_id, group_id, course_id, {SUM_COLUMNS}"
_SUMS = (
    "g.enrollment_type, g.effective_state, g.total, g.progress_sum, g.scored, COALESCE(g.score_sum, 0), "
    "g.certificates, g.time_spent"
)
# The first key of the advisory locks of one course's totals (the second is the course id).
_LOCK_NAMESPACE = 74_221


def today():
    return timezone.now().astimezone(UTC).date()


def _insert_totals(cursor, workspace, day, course_ids=None):
    """INSERT ... SELECT of the workspace's totals on `day` (of `course_ids` only, when given):
    ResultTotal, then ResultGroupTotal; returns the number of rows."""
    start = datetime.combine(day, time(), UTC)
    kept = boundary_on_day_sql(start, start + timedelta(days=1), on=False)
    groups_sql, params = result_groups_sql(workspace, course_ids=course_ids, now=start, restrict=kept)
    cursor.execute(
        f"INSERT INTO {TOTAL} ({COLUMNS}) SELECT %s, g.course_pk, {_SUMS} FROM ({groups_sql}) AS g",
        [workspace.pk, *params],
    )
    return cursor.rowcount


def _insert_group_totals(cursor, workspace, day, course_ids=None, group_ids=None):
    """INSERT ... SELECT of the workspace's per-group totals on `day` (of `course_ids` and of
    `group_ids`, (sql, params) of a subquery of group pks, only, when given); returns the number
    of rows."""
    start = datetime.combine(day, time(), UTC)
    kept = boundary_on_day_sql(start, start + timedelta(days=1), on=False)
    sums_sql, params = result_group_sums_sql(
        workspace, course_ids=course_ids, group_ids=group_ids, now=start, restrict=kept
    )
    cursor.execute(
        f"INSERT INTO {GROUP_TOTAL} ({GROUP_COLUMNS}) SELECT %s, g.group_pk, g.course_pk, {_SUMS} "
        f"FROM ({sums_sql}) AS g",
        [workspace.pk, *params],
    )
    return cursor.rowcount


def _delete_totals(cursor, table, workspace_id, course_ids=None, group_ids=None):
    """Delete the workspace's rows of `table` (of `course_ids` and `group_ids`, as for
    `_insert_group_totals`, only)."""
    where, params = "workspace_id = %s", [workspace_id]
    if course_ids is not None:
        where += f" AND course_id IN ({', '.join(['%s'] * len(course_ids))})"
        params += list(course_ids)
    if group_ids is not None:
        where += f" AND group_id IN ({group_ids[0]})"
        params += list(group_ids[1])
    cursor.execute(f"DELETE FROM {table} WHERE {where}", params)


def _groups_of_sql(user_ids):
    """(sql, params) of a subquery of the pks of the groups the users belong to now."""
    return f"SELECT learnergroup_id FROM {MEMBER} WHERE user_id IN ({', '.join(['%s'] * len(user_ids))})", user_ids


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


def _day_to_refresh(cursor, workspace_id, lock):
    """Today, when the workspace's totals hold it (its state row read FOR `lock`): the day a
    refresh recomputes. None when there is nothing to refresh: the totals were never built (a
    new workspace: built whole now, it is small) or hold another day (stale until the rebuild)."""
    if not ResultTotalsState.objects.filter(workspace_id=workspace_id).exists():
        rebuild_result_totals(workspace_id)
        return None
    day = _state_day(cursor, workspace_id, lock)
    return day if day == today() else None


def refresh_result_totals(workspace_id, course_ids, user_ids=None):
    """Recompute the totals of `course_ids` (courses whose Result rows changed) in the caller's
    transaction, when the workspace's totals hold today; the whole workspace when they were never
    built; otherwise nothing (stale until the next rebuild: another day, or the results were
    reloaded in bulk). The per-group totals of those courses are recomputed for the groups of
    `user_ids` (the learners whose rows changed: no other group's rows did), or every group
    when None; the groups are read after the locks are held."""
    course_ids = sorted({int(course_id) for course_id in course_ids})
    if not course_ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        day = _day_to_refresh(cursor, workspace_id, "SHARE")
        if day is None:
            return
        if connection.vendor == "postgresql":
            for course_id in course_ids:  # sorted: two writers lock in the same order
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, course_id])
        workspace = Workspace(pk=workspace_id)
        _delete_totals(cursor, TOTAL, workspace_id, course_ids)
        _insert_totals(cursor, workspace, day, course_ids=course_ids)
        groups = None if user_ids is None else _groups_of_sql(sorted({int(user_id) for user_id in user_ids}))
        if groups is not None and not groups[1]:
            return
        _delete_totals(cursor, GROUP_TOTAL, workspace_id, course_ids, groups)
        _insert_group_totals(cursor, workspace, day, course_ids=course_ids, group_ids=groups)


def refresh_group_totals(workspace_id, user_ids, group_ids=None):
    """Recompute the per-group totals of the groups `group_ids` (pks; None: every group) for
    every course the users (who joined or left them) have results in, in the caller's
    transaction, when the workspace's totals hold today (never built: built whole; another day:
    nothing, stale until the rebuild).

    On PostgreSQL the workspace's ResultTotalsState row is held FOR UPDATE, as by a rebuild: no
    writer of results is between reading the users' courses and recomputing them (a result of
    a new course written meanwhile would miss the group it just joined). Group changes are rare
    (admin, user imports); writers of results wait for the commit."""
    user_ids = sorted({int(user_id) for user_id in user_ids})
    if not user_ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        day = _day_to_refresh(cursor, workspace_id, "UPDATE")
        if day is None:
            return
        course_ids = sorted(
            set(
                Result.objects.filter(workspace_id=workspace_id, user_id__in=user_ids).values_list(
                    "course_id", flat=True
                )
            )
        )
        if not course_ids:
            return
        groups = None
        if group_ids is not None:
            group_ids = sorted({int(group_id) for group_id in group_ids})
            groups = (", ".join(["%s"] * len(group_ids)), group_ids)
        _delete_totals(cursor, GROUP_TOTAL, workspace_id, course_ids, groups)
        _insert_group_totals(cursor, Workspace(pk=workspace_id), day, course_ids=course_ids, group_ids=groups)


def forget_results(sender, instance, **kwargs):
    """Before a user is deleted (pre_delete): delete their Result rows (the cascade would) and
    recompute the totals of their courses, per group for their groups (still there), in every
    workspace, so neither table keeps counting them until the next day's rebuild."""
    rows = Result.objects.filter(user_id=instance.pk)
    courses_by_workspace = {}
    for workspace_id, course_id in rows.values_list("workspace_id", "course_id"):
        courses_by_workspace.setdefault(workspace_id, set()).add(course_id)
    if not courses_by_workspace:
        return
    with transaction.atomic(savepoint=False):
        rows._raw_delete(rows.db)
        for workspace_id, course_ids in sorted(courses_by_workspace.items()):
            refresh_result_totals(workspace_id, course_ids, user_ids=[instance.pk])


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
            for table in (TOTAL, GROUP_TOTAL):
                _delete_totals(cursor, table, each)
            count += _insert_totals(cursor, Workspace(pk=each), day)
            count += _insert_group_totals(cursor, Workspace(pk=each), day)
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
