"""Totals over the result rows (`analyse_statistics`), in one aggregate query."""

from datetime import datetime, time, timedelta

from django.db import connection
from django.utils import timezone

from analytics.definitions import UTC
from accounts.models import LearnerGroup
from courses.models import AttemptState, ResultGroupTotal, ResultTotal, ResultTotalsState

from .filters import ENROLLMENT_TYPES, RESULT_STATES, ResultFilters
from .rows import COURSE, _literal, _rows_sql, boundary_on_day_sql, hashed_in_sql, result_rows_sql
from analytics.queries.sql import read_cursor

TOTAL = ResultTotal._meta.db_table
GROUP_TOTAL = ResultGroupTotal._meta.db_table
STATE = ResultTotalsState._meta.db_table
GROUP = LearnerGroup._meta.db_table
MEMBER = LearnerGroup.members.through._meta.db_table

BY_CONTENT_LIMIT = 20


# The sums of a set of result rows `r`, per (course, type, state) group of them.
_SUMS = (
    "COUNT(*) AS total, SUM(r.progress_pct) AS progress_sum, COUNT(r.score_pct) AS scored, "
    "SUM(r.score_pct) AS score_sum, COUNT(r.certificate_at) AS certificates, SUM(r.time_spent) AS time_spent"
)


def _sums_per(column, values):
    """One `SUM(g.total) FILTER (WHERE column = value)` expression per value (the package's
    constants, as literals)."""
    return [f"SUM(g.total) FILTER (WHERE {column} = {_literal(value)})" for value in values]


def result_groups_sql(workspace, filters=ResultFilters(), *, course_ids=None, now=None, restrict=None):
    """(sql, params) of the sums of the rows `result_rows_sql` gives (same arguments) per (course,
    enrollment type, effective state). Columns: course_pk, enrollment_type, effective_state,
    total, progress_sum, scored (rows with a score), score_sum, certificates, time_spent. The
    statistics add these up; courses.ResultTotal stores them (analytics.services.result_totals)."""
    rows_sql, params = result_rows_sql(workspace, filters, course_ids=course_ids, now=now, restrict=restrict)
    return (
        f"SELECT r.course_pk, r.enrollment_type, r.effective_state, {_SUMS} "
        f"FROM ({rows_sql}) AS r GROUP BY r.course_pk, r.enrollment_type, r.effective_state",
        params,
    )


def result_group_sums_sql(workspace, *, course_ids=None, group_ids=None, now=None, restrict=None):
    """(sql, params) of the sums of `result_groups_sql` (no filters; same other arguments) per
    learner group of the workspace (of `group_ids` only: (sql, params) of a subquery of group
    pks): columns group_pk, then those of result_groups_sql. A row counts in each group of its
    learner (the group filter's rule: the group's members' rows). courses.ResultGroupTotal
    stores them (analytics.services.result_totals)."""
    rows_sql, params = result_rows_sql(workspace, course_ids=course_ids, now=now, restrict=restrict)
    only, only_params = "", []
    if group_ids is not None:
        only, only_params = f"AND m.learnergroup_id IN ({group_ids[0]}) ", group_ids[1]
    return (
        f"SELECT m.learnergroup_id AS group_pk, r.course_pk, r.enrollment_type, r.effective_state, {_SUMS} "
        f"FROM ({rows_sql}) AS r JOIN {MEMBER} m ON m.user_id = r.user_pk {only}"
        f"JOIN {GROUP} lg ON lg.id = m.learnergroup_id AND lg.workspace_id = %s "
        "GROUP BY m.learnergroup_id, r.course_pk, r.enrollment_type, r.effective_state",
        [*params, *only_params, workspace.pk],
    )


def stored_groups_sql(workspace, now):
    """(sql, params) of the per-(course, type, state) sums of every result row of the workspace
    at `now` (those of `result_groups_sql` without filters), read from the stored totals: right
    only while the workspace's ResultTotal rows hold the UTC day of `now` (`result_totals_day`;
    inside a statement, `stored_totals_hold_day_sql`).

    Those rows plus the sums of the few rows that change during the day (a clock boundary
    today), counted from Result at `now`; the two never overlap (`boundary_on_day_sql`)."""
    start = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    changing_sql, params = result_groups_sql(
        workspace, now=now, restrict=boundary_on_day_sql(start, start + timedelta(days=1))
    )
    return (
        f"{changing_sql} UNION ALL SELECT t.course_id, t.enrollment_type, t.state, t.results, t.progress_sum, "
        f"t.scored, t.score_sum, t.certificates, t.time_spent_s FROM {TOTAL} t WHERE t.workspace_id = %s",
        [*params, workspace.pk],
    )


def stored_group_sums_sql(workspace, group_id, now):
    """(sql, params) of the per-(course, type, state) sums of the result rows of the members of
    the workspace's learner group `group_id` (a public id) at `now` (those of
    `result_groups_sql` with that group as the only filter), read from the stored per-group
    totals: right only while the workspace's totals hold the UTC day of `now`, as for
    `stored_groups_sql`.

    The group's ResultGroupTotal rows plus the sums of the group's rows that change during the
    day, found along the workspace's clock-boundary indexes (few), then kept for the group's
    members: never the group's every row."""
    start = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    boundary, boundary_params = boundary_on_day_sql(start, start + timedelta(days=1))
    members = (
        f"SELECT m.user_id FROM {MEMBER} m JOIN {GROUP} lg ON lg.id = m.learnergroup_id "
        "WHERE lg.workspace_id = %s AND lg.public_id = %s"
    )
    # ONE read of the day's boundary rows ("any": CASE columns), not the two parts of a page: the
    # plan stays small enough that PostgreSQL does not start parallel workers for a few rows.
    # A hashed membership filter on those rows (hashed_in_sql): as a join, PostgreSQL walked every
    # member's rows instead (a group of 12,000 learners: 84 ms, 30 ms this way).
    rows_sql, params = _rows_sql(
        workspace,
        ResultFilters(),
        "any",
        now=now,
        restrict=(f"{boundary} AND {hashed_in_sql('r.user_id', members)}", [*boundary_params, workspace.pk, group_id]),
    )
    return (
        f"SELECT r.course_pk, r.enrollment_type, r.effective_state, {_SUMS} FROM ({rows_sql}) AS r "
        "GROUP BY r.course_pk, r.enrollment_type, r.effective_state "
        "UNION ALL SELECT t.course_id, t.enrollment_type, t.state, t.results, t.progress_sum, "
        f"t.scored, t.score_sum, t.certificates, t.time_spent_s FROM {GROUP_TOTAL} t "
        f"JOIN {GROUP} lg ON lg.id = t.group_id WHERE lg.workspace_id = %s AND lg.public_id = %s",
        [*params, workspace.pk, group_id],
    )


def one_group(filters):
    """The public id of the learner group that is the only condition of `filters` (named once or
    more), else None."""
    if len(set(filters.group_ids)) == 1 and filters == ResultFilters(group_ids=filters.group_ids):
        return filters.group_ids[0]
    return None


def stored_sums_sql(workspace, filters, now):
    """(sql, params) of the stored per-(course, type, state) sums that stand for the rows of
    `filters` at `now` (`stored_groups_sql` without filters, `stored_group_sums_sql` for one
    group alone), or None when no stored totals do. Right only while the workspace's totals hold
    the UTC day of `now` (`stored_totals_hold_day_sql`)."""
    if filters == ResultFilters():
        return stored_groups_sql(workspace, now)
    group_id = one_group(filters)
    if group_id is not None:
        return stored_group_sums_sql(workspace, group_id, now)
    return None


def stored_totals_hold_day_sql(workspace, now):
    """(sql, params) of a condition: the workspace's ResultTotal rows hold the UTC day of `now`."""
    day = connection.ops.adapt_datefield_value(now.astimezone(UTC).date())
    return f"EXISTS (SELECT 1 FROM {STATE} s WHERE s.workspace_id = %s AND s.day = %s)", [workspace.pk, day]


def _groups_source_sql(workspace, filters, course_ids, now):
    """(sql, params) of the per-(course, type, state) sums the statistics add up: the strategy,
    in one place. Without any filter, or with one learner group as the only filter, and without
    course scope, on the day the workspace's stored totals hold, from those rows
    (`stored_sums_sql`); otherwise the sums of every matching row."""
    now = now or timezone.now()
    stored = stored_sums_sql(workspace, filters, now) if course_ids is None else None
    if stored is not None and result_totals_day(workspace.pk) == now.astimezone(UTC).date():
        return stored
    return result_groups_sql(workspace, filters, course_ids=course_ids, now=now)


def result_totals_day(workspace_id):
    """The UTC day the workspace's ResultTotal and ResultGroupTotal rows hold, or None when they
    are not built."""
    return ResultTotalsState.objects.filter(workspace_id=workspace_id).values_list("day", flat=True).first()


def analyse_statistics(workspace, filters=ResultFilters(), *, course_ids=None, now=None):
    """Totals over the rows `result_rows_sql` gives for the same filters, in ONE aggregate query.

    total; byState (all five states, zeros included); byEnrollmentType (MANDATORY, OPTIONAL,
    NOT_ENROLLED); averageProgress over all rows (0 when there are none); averageScore over rows
    with a score (None when none has one); completionRate = APPROVED rows / total (0 when total
    is 0); certificatesIssued = rows with a certificate date; totalTimeSpent in seconds; byContent:
    the 20 contents with most rows (ties by name, case-insensitive, then key), each with byState.

    The rows are summed per (course, type, state) (`_groups_source_sql`: from the stored totals
    when it can), then per course; the top 20 and the workspace line are both read from those
    per-course sums (a CTE), so the rows are scanned a single time.
    """
    groups_sql, params = _groups_source_sql(workspace, filters, course_ids, now)
    state_counts = _sums_per("g.effective_state", RESULT_STATES)
    type_counts = _sums_per("g.enrollment_type", ENROLLMENT_TYPES)
    count_columns = [f"n{index}" for index in range(len(state_counts) + len(type_counts))]
    sums = ["total", *count_columns, "progress_sum", "scored", "score_sum", "certificates", "time_spent"]
    per_course = (
        "SELECT g.course_pk, SUM(g.total) AS total, "
        + ", ".join(f"{expression} AS {name}" for expression, name in zip([*state_counts, *type_counts], count_columns))
        + ", SUM(g.progress_sum) AS progress_sum, SUM(g.scored) AS scored, SUM(g.score_sum) AS score_sum, "
        "SUM(g.certificates) AS certificates, "
        f"SUM(g.time_spent) AS time_spent FROM ({groups_sql}) AS g GROUP BY g.course_pk"
    )
    statistics_sql = (
        f"WITH per_course AS ({per_course}) "
        "SELECT * FROM (SELECT * FROM ("
        f"SELECT 0 AS is_workspace, c.key, c.title, {', '.join(f'p.{name}' for name in sums)} "
        f"FROM per_course p JOIN {COURSE} c ON c.id = p.course_pk "
        f"ORDER BY p.total DESC, LOWER(c.title), c.key LIMIT {BY_CONTENT_LIMIT}) AS top_contents "
        f"UNION ALL SELECT 1, NULL, NULL, {', '.join(f'SUM({name})' for name in sums)} FROM per_course"
        ") AS lines ORDER BY is_workspace, total DESC, LOWER(title), key"
    )
    with read_cursor() as cursor:
        cursor.execute(statistics_sql, params)
        *content_rows, workspace_row = [dict(zip(["is_workspace", "key", "title", *sums], row)) for row in cursor]

    def by_state(row):
        return dict(zip(RESULT_STATES, (int(row[name] or 0) for name in count_columns[: len(RESULT_STATES)])))

    total = int(workspace_row["total"] or 0)
    approved = by_state(workspace_row)[AttemptState.APPROVED]
    scored = int(workspace_row["scored"] or 0)
    return {
        "total": total,
        "by_state": by_state(workspace_row),
        "by_enrollment_type": dict(
            zip(ENROLLMENT_TYPES, (int(workspace_row[name] or 0) for name in count_columns[len(RESULT_STATES) :]))
        ),
        "average_progress": round(float(workspace_row["progress_sum"]) / total, 2) if total else 0,
        "average_score": round(float(workspace_row["score_sum"]) / scored, 2) if scored else None,
        "completion_rate": round(approved / total, 4) if total else 0,
        "certificates_issued": int(workspace_row["certificates"] or 0),
        "total_time_spent": int(workspace_row["time_spent"] or 0),
        "by_content": [
            {"id": row["key"], "name": row["title"], "total": int(row["total"]), "by_state": by_state(row)}
            for row in content_rows
        ],
    }
