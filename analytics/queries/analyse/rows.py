"""The row set: ONE SQL statement of the result rows (`result_rows_sql`), and its parts that
never overlap (`result_parts_sql`), which the pages, counts and statistics select from."""

from django.utils import timezone

from accounts.models import User
from courses.models import AttemptState, Course, Result

from analytics.queries.sql import db_datetime

from .filters import ENROLLMENT_TYPES, NOT_ENROLLED, RESULT_STATES, ResultFilters
from .scope import _scope_sql, _scopes

RESULT = Result._meta.db_table
USER = User._meta.db_table
COURSE = Course._meta.db_table


_CONSTANTS = frozenset([*RESULT_STATES, *ENROLLMENT_TYPES])


def _literal(constant):
    """One of the package's state / type constants as an SQL string literal (never user input)."""
    assert constant in _CONSTANTS, constant
    return f"'{constant}'"


def hashed_in_sql(column, subquery):
    """`column IN (subquery)` kept a filter on the rows at hand, tested against a hash of the
    subquery's values: the `OR 1 = 0` stops PostgreSQL from turning the IN into a semi-join,
    which would walk the subquery's side (every member's rows) or lose the outer rows' order."""
    return f"({column} IN ({subquery}) OR 1 = 0)"


class _Sql:
    """Accumulates SQL text and its parameters in order."""

    def __init__(self):
        self.params = []

    def param(self, value):
        self.params.append(value)
        return "%s"

    def params_of(self, sql, params):
        self.params.extend(params)
        return sql


def result_rows_sql(workspace, filters=ResultFilters(), *, course_ids=None, now=None, restrict=None):
    """(sql, params) of the Analyse result rows of `workspace` matching `filters`.

    Columns: user_pk, course_pk, attempt_public_id (NULL without attempt), enrollment_type,
    effective_state, progress_pct, score_pct, time_spent, started_at, finished_at,
    certificate_at, expiry_at, activity_at. One row per (learner, course), see the module doc.

    Rules: the latest attempt is the one with the highest version_number ((user, course,
    version_number) is unique, so there is no tie). An enrollment is active while unenrolled_at
    is empty or after `now`. expiry_at is the active enrollment's expiry, else the attempt's.
    effective_state is EXPIRED when expiry_at is before `now` and the stored state is not
    APPROVED, else the stored state (NOT_STARTED without attempt). activity_at (updatedAt) is the
    later of last activity and completion, else the first activity, else the active enrollment's
    date, else when the attempt was recorded. Filters: AND between filters, OR inside one; ranges
    include `start` and exclude `end`; `course_ids` (the course scope: None for every course of
    the workspace, else ids or a Course queryset, e.g. analytics.definitions.course_scope) limits
    the rows to those courses.

    The rows are read from courses.Result (precomputed on write, see courses.results): a row
    whose enrollment is active or absent reads the stored columns as they are; a row whose
    enrollment has ended by `now` reads the attempt's own expiry and activity, as NOT_ENROLLED,
    and is no result without an attempt. With a scope of learners or courses the statement
    reads the scope's rows once and decides between the two with CASE expressions; without
    one it is a UNION ALL of the two parts (`result_parts_sql`), which never overlap: each
    filters on plain columns, so the planner can use the workspace's indexes and a page can
    cut each part along an index. `restrict`: an extra (sql, params) condition on the Result
    rows `r` (e.g. `boundary_on_day_sql`).
    """
    scope_sql, scope_params = _scope_sql(workspace, filters, course_ids)
    parts = result_parts_sql(workspace, filters, course_ids=course_ids, now=now, restrict=restrict)
    sql = " UNION ALL ".join(part_sql for part_sql, _ in parts)
    return (
        f"{scope_sql}SELECT * FROM ({sql}) AS result_rows",
        [*scope_params, *(param for _, params in parts for param in params)],
    )


def result_parts_sql(workspace, filters=ResultFilters(), *, course_ids=None, now=None, restrict=None):
    """[(sql, params)] of the same rows as `result_rows_sql` (without its WITH clause, see
    `_scope_sql`: a statement reading the parts starts with it) in parts that never overlap.

    With a scope of learners or courses, ONE part: the scope's rows are read once, along the
    learner or course index, and the columns that depend on `now` are CASE expressions over
    them (an index cannot order or cut a scope's rows anyway: they come learner by learner).
    Without a scope, rows whose enrollment is active or absent (stored columns as they are, so
    an ordered page or an activity range can follow the workspace index), and when the type
    filter allows NOT_ENROLLED, rows with an attempt whose enrollment has ended (few)."""
    if _scopes(workspace, filters, course_ids):
        return [_rows_sql(workspace, filters, "any", course_ids=course_ids, now=now, restrict=restrict)]
    parts = [_rows_sql(workspace, filters, "active", course_ids=course_ids, now=now, restrict=restrict)]
    if not filters.enrollment_types or NOT_ENROLLED in filters.enrollment_types:
        parts.append(_rows_sql(workspace, filters, "ended", course_ids=course_ids, now=now, restrict=restrict))
    return parts


_NOT_ENROLLED_SQL = f"CAST({_literal(NOT_ENROLLED)} AS VARCHAR(12))"


# The Result rows `r` of each part (_rows_sql's `which`), given `now` for %s.
KEPT_ROWS = {
    "active": "(r.enrollment_ends_at IS NULL OR r.enrollment_ends_at > %s)",
    "ended": "r.enrollment_ends_at <= %s AND r.attempt_public_id IS NOT NULL",
    "any": "(r.attempt_public_id IS NOT NULL OR r.enrollment_ends_at IS NULL OR r.enrollment_ends_at > %s)",
}


def _rows_sql(workspace, filters, which, *, course_ids=None, now=None, restrict=None):
    """(sql, params) of the result rows of courses.Result `r` whose enrollment is active or
    absent (`which` "active"), has ended by `now` ("ended"), or both ("any": the columns are
    then CASE expressions, which hide them from the planner; used to read a page's rows by key)."""
    now = db_datetime(now or timezone.now())
    sql = _Sql()
    # Column SQL below holds `now` as %s placeholders; params_of adds one `now` per placeholder.
    ended = "(r.enrollment_ends_at IS NOT NULL AND r.enrollment_ends_at <= %s)"
    if which == "active":
        enrollment_type = f"COALESCE(CAST(r.enrollment_kind AS VARCHAR(12)), {_NOT_ENROLLED_SQL})"
        expiry, activity = "r.expires_at", "r.activity_at"
    elif which == "ended":
        enrollment_type, expiry, activity = _NOT_ENROLLED_SQL, "r.attempt_expires_at", "r.attempt_activity_at"
    else:
        enrollment_type = (
            f"CASE WHEN {ended} OR r.enrollment_kind IS NULL THEN {_NOT_ENROLLED_SQL} "
            "ELSE CAST(r.enrollment_kind AS VARCHAR(12)) END"
        )
        expiry = f"CASE WHEN {ended} THEN r.attempt_expires_at ELSE r.expires_at END"
        activity = f"CASE WHEN {ended} THEN r.attempt_activity_at ELSE r.activity_at END"
    columns = (
        "SELECT r.user_id AS user_pk, r.course_id AS course_pk, r.attempt_public_id AS attempt_public_id, "
        f"{sql.params_of(enrollment_type, [now] * enrollment_type.count('%s'))} AS enrollment_type, "
        f"CASE WHEN {sql.params_of(expiry, [now] * expiry.count('%s'))} < {sql.param(now)} "
        f"AND r.state <> {_literal(AttemptState.APPROVED)} THEN {_literal(AttemptState.EXPIRED)} ELSE r.state END "
        "AS effective_state, r.progress AS progress_pct, r.score AS score_pct, r.time_spent_s AS time_spent, "
        "r.started_at AS started_at, r.completed_at AS finished_at, r.certificate_issued_at AS certificate_at, "
        f"{sql.params_of(expiry, [now] * expiry.count('%s'))} AS expiry_at, "
        f"{sql.params_of(activity, [now] * activity.count('%s'))} AS activity_at "
    )
    kept = KEPT_ROWS[which]
    where = [f"r.workspace_id = {sql.param(workspace.pk)}", sql.params_of(kept, [now])]
    for name, _ in _scopes(workspace, filters, course_ids):
        where.append(f"r.{'user_id' if name == 'scope_learners' else 'course_id'} IN (SELECT id FROM {name})")
    if restrict is not None:
        where.append(sql.params_of(*restrict))
    conditions = []
    for column, values in (("effective_state", filters.states), ("enrollment_type", filters.enrollment_types)):
        if values:
            conditions.append(f"{column} IN ({', '.join(sql.param(value) for value in values)})")
    for column, date_range in (("activity_at", filters.updated_at), ("expiry_at", filters.expiry)):
        if date_range is not None and date_range.start is not None:
            conditions.append(f"{column} >= {sql.param(db_datetime(date_range.start))}")
        if date_range is not None and date_range.end is not None:
            conditions.append(f"{column} < {sql.param(db_datetime(date_range.end))}")
    rows_sql = f"{columns}FROM {RESULT} r WHERE {' AND '.join(where)}"
    if conditions:
        rows_sql = f"SELECT * FROM ({rows_sql}) AS result_rows WHERE {' AND '.join(conditions)}"
    return rows_sql, sql.params


def boundary_on_day_sql(start, end, *, on=True):
    """(sql, params) of a condition over Result `r`: the row has a clock boundary in [start, end)
    (`on`), or has none there (`on=False`, the exact complement). The boundaries are the instants
    its figures change at: its enrollment's end, and, unless APPROVED, the expiries it reads
    (`expires_at` while enrolled, `attempt_expires_at` after).

    A row with no boundary in a UTC day reads the same at every instant of that day as at its
    first one: each comparison with `now` falls the same way all day."""
    start, end = db_datetime(start), db_datetime(end)
    between = "({column} >= %s AND {column} < %s)"
    condition = (
        f"({between.format(column='r.enrollment_ends_at')} OR (r.state <> {_literal(AttemptState.APPROVED)} AND "
        f"({between.format(column='r.expires_at')} OR {between.format(column='r.attempt_expires_at')})))"
    )
    params = [start, end] * 3
    if on:
        return condition, params
    # CASE rather than NOT: a NULL boundary makes the comparisons NULL, not false.
    return f"(CASE WHEN {condition} THEN 0 ELSE 1 END) = 1", params
