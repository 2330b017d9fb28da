"""Skillhabit "Analyse" results: one row per learner and content, their filters and statistics.

The rows are, by definition:

* attempt rows: each learner's latest attempt of a course (highest version_number), with their
  active enrollment in it: the row takes its type (MANDATORY / OPTIONAL), or NOT_ENROLLED
  without one;
* enrollment rows: active enrollments without any attempt: NOT_STARTED, progress 0.

So every (learner, course) pair with an attempt or an active enrollment appears exactly once.

They are read from the result table courses.Result, one row per (learner, course) with an
attempt or an enrollment, which every write of attempts and enrollments keeps current in its own
transaction (courses/results.py). Joining attempts with enrollments and anti-joining older
versions on every request cost 8-12 microseconds per row in scope (seconds for a whole
workspace; docs/benchmarks-analyse.md); the table turns a page into an index scan. What depends
on the clock (an enrollment that has ended by `now`, a result past its expiry) is decided here,
from stored columns, so rows never go stale as time passes.

The row set is ONE SQL statement, built by `result_rows_sql`; the page, its count and the
statistics all select FROM it. The scope (ORM-compiled id subqueries for learners and courses)
is a CTE of that statement. With a scope, its rows are read in one pass (the page's cut and
its count from the same CTE of keys); without one, in two parts that can follow the
workspace's indexes. A large scope of learners in the default order is both: counted in one
pass, its page read along the workspace's indexes (`_walked_page`). The SQL is plain SQL-92
plus NULLS LAST and FILTER: it runs on PostgreSQL and SQLite alike.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.db import connection
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Concat, Lower, Trim
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, User
from analytics.queries.sql import fetch_dicts
from courses.models import AttemptState, Course, EnrollmentKind, Result

NOT_ENROLLED = "NOT_ENROLLED"
RESULT_STATES = [state.value for state in AttemptState]  # NOT_STARTED ... EXPIRED, document order
ENROLLMENT_TYPES = [EnrollmentKind.MANDATORY.value, EnrollmentKind.OPTIONAL.value, NOT_ENROLLED]
CONTENT_TYPE_COURSE = "COURSE"
BY_CONTENT_LIMIT = 20
ORDER_FIELDS = ("updatedAt", "progress", "score", "userName", "contentName", "state")


@dataclass(frozen=True)
class DateRange:
    """`start` included, `end` excluded; either may be None (open end)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class CustomFieldFilter:
    field_id: str  # CustomField.public_id
    values: tuple[str, ...]


@dataclass(frozen=True)
class ResultFilters:
    """The `filters` object of a request. Empty tuples and None mean "no filter".

    Ids are public ids: LearnerGroup.public_id, User.public_id, Course.key, CustomField.public_id.
    """

    group_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    content_ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    enrollment_types: tuple[str, ...] = ()
    custom_fields: tuple[CustomFieldFilter, ...] = ()
    updated_at: DateRange | None = None
    expiry: DateRange | None = None


@dataclass(frozen=True)
class ResultOrder:
    field: str = "updatedAt"  # one of ORDER_FIELDS
    descending: bool = True


@dataclass(frozen=True)
class Page:
    total: int
    rows: list


# The scope: which learners and courses the rows may belong to -------------------------------


def _learners_matching(workspace, filters):
    """Ids of the users passing every learner-level filter (groups OR'ed, users, each custom
    field AND'ed), as a one-column queryset (a user may appear more than once: read it with
    `IN`), or None when there is no such filter.

    Built on the membership and custom-value rows themselves rather than on the user table: a
    group scope is then one index range of the group's members (joining the users added one
    lookup per member and nothing else)."""
    subsets = []
    if filters.group_ids:
        members = LearnerGroup.members.through.objects.filter(
            learnergroup__workspace=workspace, learnergroup__public_id__in=filters.group_ids
        )
        subsets.append((members, "user_id"))
    for custom_field in filters.custom_fields:
        holders = CustomFieldValue.objects.filter(
            field__workspace=workspace, field__public_id=custom_field.field_id, value__in=custom_field.values
        )
        subsets.append((holders, "user_id"))
    if filters.user_ids:
        subsets.append((User.objects.filter(public_id__in=filters.user_ids), "id"))
    if not subsets:
        return None
    (learners, column), *others = subsets
    for other, other_column in others:
        learners = learners.filter(**{f"{column}__in": other.order_by().values(other_column)})
    return learners.order_by().values(column)


def _courses_matching(workspace, filters, instructor):
    """Courses passing the content filter and inside the instructor's scope, as an id queryset,
    or None when neither applies."""
    if not filters.content_ids and instructor is None:
        return None
    courses = Course.objects.filter(workspace=workspace)
    if filters.content_ids:
        courses = courses.filter(key__in=filters.content_ids)
    if instructor is not None:
        courses = courses.filter(instructors=instructor)
    return courses.order_by().values("id")


# The row set -----------------------------------------------------------------------------------

RESULT = Result._meta.db_table
USER = User._meta.db_table
COURSE = Course._meta.db_table


_CONSTANTS = frozenset([*RESULT_STATES, *ENROLLMENT_TYPES])


def _literal(constant):
    """One of this module's state / type constants as an SQL string literal (never user input)."""
    assert constant in _CONSTANTS, constant
    return f"'{constant}'"


def _db_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


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


def result_rows_sql(workspace, filters=ResultFilters(), *, instructor=None, now=None):
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
    include `start` and exclude `end`; `instructor` limits the rows to the courses they teach.

    The rows are read from courses.Result (precomputed on write, see courses.results): a row
    whose enrollment is active or absent reads the stored columns as they are; a row whose
    enrollment has ended by `now` reads the attempt's own expiry and activity, as NOT_ENROLLED,
    and is no result without an attempt. With a scope of learners or courses the statement
    reads the scope's rows once and decides between the two with CASE expressions; without
    one it is a UNION ALL of the two parts (`result_parts_sql`), which never overlap: each
    filters on plain columns, so the planner can use the workspace's indexes and a page can
    cut each part along an index.
    """
    scope_sql, scope_params = _scope_sql(workspace, filters, instructor)
    parts = result_parts_sql(workspace, filters, instructor=instructor, now=now)
    sql = " UNION ALL ".join(part_sql for part_sql, _ in parts)
    return (
        f"{scope_sql}SELECT * FROM ({sql}) AS result_rows",
        [*scope_params, *(param for _, params in parts for param in params)],
    )


def _scope_sql(workspace, filters, instructor):
    """(sql, params) of the WITH clause naming the scope: `scope_learners` and / or
    `scope_courses` (ids), the CTEs the parts of `result_parts_sql` read; ("", []) without scope.
    Computed once per statement however many parts and counts read it (PostgreSQL materializes
    a CTE read more than once)."""
    ctes, params = [], []
    for name, ids in _scopes(workspace, filters, instructor):
        sql, ids_params = ids.query.sql_with_params()
        ctes.append(f"{name} (id) AS ({sql})")
        params.extend(ids_params)
    return (f"WITH {', '.join(ctes)} " if ctes else ""), params


def _scopes(workspace, filters, instructor):
    """[(CTE name, id queryset)] of the scope in force."""
    scopes = [
        ("scope_learners", _learners_matching(workspace, filters)),
        ("scope_courses", _courses_matching(workspace, filters, instructor)),
    ]
    return [(name, ids) for name, ids in scopes if ids is not None]


def result_parts_sql(workspace, filters=ResultFilters(), *, instructor=None, now=None):
    """[(sql, params)] of the same rows as `result_rows_sql` (without its WITH clause, see
    `_scope_sql`: a statement reading the parts starts with it) in parts that never overlap.

    With a scope of learners or courses, ONE part: the scope's rows are read once, along the
    learner or course index, and the columns that depend on `now` are CASE expressions over
    them (an index cannot order or cut a scope's rows anyway: they come learner by learner).
    Without a scope, rows whose enrollment is active or absent (stored columns as they are, so
    an ordered page or an activity range can follow the workspace index), and when the type
    filter allows NOT_ENROLLED, rows with an attempt whose enrollment has ended (few)."""
    if _scopes(workspace, filters, instructor):
        return [_rows_sql(workspace, filters, "any", instructor=instructor, now=now)]
    parts = [_rows_sql(workspace, filters, "active", instructor=instructor, now=now)]
    if not filters.enrollment_types or NOT_ENROLLED in filters.enrollment_types:
        parts.append(_rows_sql(workspace, filters, "ended", instructor=instructor, now=now))
    return parts


_NOT_ENROLLED_SQL = f"CAST({_literal(NOT_ENROLLED)} AS VARCHAR(12))"


# The Result rows `r` of each part (_rows_sql's `which`), given `now` for %s.
KEPT_ROWS = {
    "active": "(r.enrollment_ends_at IS NULL OR r.enrollment_ends_at > %s)",
    "ended": "r.enrollment_ends_at <= %s AND r.attempt_public_id IS NOT NULL",
    "any": "(r.attempt_public_id IS NOT NULL OR r.enrollment_ends_at IS NULL OR r.enrollment_ends_at > %s)",
}


def _rows_sql(workspace, filters, which, *, instructor=None, now=None):
    """(sql, params) of the result rows of courses.Result `r` whose enrollment is active or
    absent (`which` "active"), has ended by `now` ("ended"), or both ("any": the columns are
    then CASE expressions, which hide them from the planner; used to read a page's rows by key)."""
    now = _db_datetime(now or timezone.now())
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
    for name, _ in _scopes(workspace, filters, instructor):
        where.append(f"r.{'user_id' if name == 'scope_learners' else 'course_id'} IN (SELECT id FROM {name})")
    conditions = []
    for column, values in (("effective_state", filters.states), ("enrollment_type", filters.enrollment_types)):
        if values:
            conditions.append(f"{column} IN ({', '.join(sql.param(value) for value in values)})")
    for column, date_range in (("activity_at", filters.updated_at), ("expiry_at", filters.expiry)):
        if date_range is not None and date_range.start is not None:
            conditions.append(f"{column} >= {sql.param(_db_datetime(date_range.start))}")
        if date_range is not None and date_range.end is not None:
            conditions.append(f"{column} < {sql.param(_db_datetime(date_range.end))}")
    rows_sql = f"{columns}FROM {RESULT} r WHERE {' AND '.join(where)}"
    if conditions:
        rows_sql = f"SELECT * FROM ({rows_sql}) AS result_rows WHERE {' AND '.join(conditions)}"
    return rows_sql, sql.params


# Pages -----------------------------------------------------------------------------------------

_USER_NAME_SQL = (
    "COALESCE(NULLIF(TRIM(COALESCE({u}.first_name, '') || ' ' || COALESCE({u}.last_name, '')), ''), {u}.email)"
)
_STATE_RANK_SQL = "CASE r.effective_state " + " ".join(
    f"WHEN '{state}' THEN {rank}" for rank, state in enumerate(RESULT_STATES)
) + " END"
# Order field -> (sort key SQL over the rows `r`, join it needs). Only the score can be NULL: the
# other keys sort without NULLS LAST, so a descending page can follow a descending index.
_SORT_KEYS = {
    "updatedAt": ("r.activity_at", ""),
    "progress": ("r.progress_pct", ""),
    "score": ("r.score_pct", ""),
    "userName": (f"LOWER({_USER_NAME_SQL.format(u='su')})", f"JOIN {USER} su ON su.id = r.user_pk"),
    "contentName": ("LOWER(sc.title)", f"JOIN {COURSE} sc ON sc.id = r.course_pk"),
    "state": (_STATE_RANK_SQL, ""),
}
_NULLABLE_SORT_KEYS = frozenset(["score"])
_DATETIME_COLUMNS = ("started_at", "finished_at", "certificate_at", "expiry_at", "activity_at")


def _as_datetime(value):
    """Timestamps computed in SQL come back from SQLite as text."""
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt_timezone.utc)
    return value


def result_id(row):
    """The public id of a result: its attempt's public_id, or for an enrollment without attempt a
    stable 24-hex id derived from the learner and the course (it becomes the attempt's id once
    the learner starts)."""
    if row["attempt_public_id"]:
        return row["attempt_public_id"]
    digest = hashlib.sha1(f"{row['user_public_id']}/{row['course_key']}".encode()).hexdigest()
    return digest[:24]


def _described_page(
    scope, parts, rows_sql, sort_key="r.user_pk", sort_join="", direction="ASC", *, limit, skip=0, after=None,
    with_total=False, nulls_last=False,
):
    """Rows of the `parts` of result_parts_sql (`scope`: their WITH clause, from _scope_sql),
    ordered by sort_key (NULLs last when nulls_last), then learner and course, cut to limit /
    skip (and to rows after the (user_pk, course_pk) key `after`), then described. with_total
    adds `total_rows`, the number of rows before the cut, counted by a subquery of the same
    statement.

    The cut reads only keys and sort keys. With a scope (one part): its keys are a CTE that
    both the count and the cut read, so the scope's rows are read once (PostgreSQL materializes
    a CTE read twice). Without (one or two parts): each part is ordered and cut to limit + skip
    rows on its own (so it can stop early along an index: PostgreSQL does not merge the ordered
    parts of a UNION ALL itself), then the cut parts are merged, ordered and cut again: the
    same keys as ordering the union; the count reads the parts again. Only the page's keys are
    then joined to `rows_sql` ((sql, params) of every row, by key), the users and the courses."""
    keyset, keyset_params = "", []
    if after is not None:
        keyset = "WHERE r.user_pk > %s OR (r.user_pk = %s AND r.course_pk > %s) "
        keyset_params = [after[0], after[0], after[1]]
    order = f"{direction}{' NULLS LAST' if nulls_last else ''}"
    total_column, total_params, cut_params = "", [], []
    if scope[0] and len(parts) == 1:
        part_sql, part_params = parts[0]
        keys = f"SELECT r.user_pk, r.course_pk, {sort_key} AS sort_key FROM ({part_sql}) AS r {sort_join} {keyset}"
        head = f"{scope[0]}, page_keys AS ({keys}) "
        head_params = [*scope[1], *part_params, *keyset_params]
        cut = "page_keys"
        if with_total:
            total_column = ", (SELECT COUNT(*) FROM page_keys) AS total_rows"
    else:
        head, head_params = scope
        cut_parts = []
        for part_sql, part_params in parts:
            cut_parts.append(
                f"SELECT * FROM (SELECT r.user_pk, r.course_pk, {sort_key} AS sort_key FROM ({part_sql}) AS r "
                f"{sort_join} {keyset}ORDER BY sort_key {order}, r.user_pk, r.course_pk LIMIT %s) AS cut_part"
            )
            cut_params += [*part_params, *keyset_params, limit + skip]
        cut = f"({' UNION ALL '.join(cut_parts)})"
        if with_total:
            total_column = f", (SELECT COUNT(*) FROM ({' UNION ALL '.join(sql for sql, _ in parts)}) AS t) AS total_rows"
            total_params = [param for _, part_params in parts for param in part_params]
    return _fetch_described(
        head, total_column, cut, order, rows_sql, [*head_params, *total_params, *cut_params], limit=limit, skip=skip
    )


def _fetch_described(head, extra_columns, cut, order, rows_sql, params, *, limit, skip):
    """The rows of the keys `cut` (SQL of a relation of user_pk, course_pk, sort_key) ordered by
    sort_key in `order`, then learner and course, cut to limit / skip, each joined to its row
    of `rows_sql`, its user and its course. `head` is the statement's WITH clause, `params`
    those of head, extra_columns and cut in that order."""
    page_sql = (
        f"{head}SELECT r.*, k.sort_key{extra_columns}, u.public_id AS user_public_id, u.email AS user_email, "
        f"{_USER_NAME_SQL.format(u='u')} AS user_name, u.avatar_url AS user_avatar, "
        "c.key AS course_key, c.title AS course_title "
        f"FROM (SELECT * FROM {cut} AS k "
        f"ORDER BY k.sort_key {order}, k.user_pk, k.course_pk LIMIT %s OFFSET %s) AS k "
        f"JOIN ({rows_sql[0]}) AS r ON r.user_pk = k.user_pk AND r.course_pk = k.course_pk "
        f"JOIN {USER} u ON u.id = k.user_pk JOIN {COURSE} c ON c.id = k.course_pk "
        f"ORDER BY k.sort_key {order}, k.user_pk, k.course_pk"
    )
    rows = fetch_dicts(page_sql, [*params, limit, skip, *rows_sql[1]])
    for row in rows:
        for column in _DATETIME_COLUMNS:
            row[column] = _as_datetime(row[column])
        row["result_id"] = result_id(row)
    return rows


# A large scope of learners in the default order: walk the workspace's activity index instead
# of sorting the scope (docs/benchmarks-analyse.md). Below WALK_MIN_SCOPE_ROWS rows a sort is as
# cheap; the walk reads at most WALK_BUDGET_ROWS index entries of rows with an active (or no)
# enrollment before giving up for the sort (a scope whose rows are all old).
WALK_MIN_SCOPE_ROWS = 5_000
WALK_BUDGET_ROWS = 20_000
WALK_MAX_PAGE_END = 1_000


def _walks_activity_index(filters, order, instructor):
    """Whether a page may be read by `_walked_page`: a scope of learners only, no filter on a
    column that depends on the clock or on the activity (each would make the scope's share of
    the walk unpredictable), the default order (updatedAt descending: the index's own)."""
    return (
        order.field == "updatedAt" and order.descending and instructor is None and not filters.content_ids
        and (filters.group_ids or filters.user_ids or filters.custom_fields)
        and not (filters.states or filters.enrollment_types or filters.expiry or filters.updated_at)
    )


def _walked_page(workspace, filters, parts, rows_sql, *, limit, skip, now):
    """(total, rows) of a learner-scoped page in the default order, read along the workspace's
    indexes like a page without scope, or None when that does not pay or did not find the page.

    ONE statement: the scope's rows are counted (one index-only pass, no sort); when there are
    at least WALK_MIN_SCOPE_ROWS of them, the page is read in two parts like a page without
    scope (enrollment active or absent, along the activity_at index; ended, along the small
    attempt_activity_at one), keeping the rows of the scope's learners, each part stopping after
    limit + skip of them. The scope is tested per index entry against a hash of its learners
    (`OR 1 = 0` keeps PostgreSQL from turning the IN into a join, whose output order it does not
    keep). The first part reads at most WALK_BUDGET_ROWS index entries (a scope whose rows are
    all old): None when it found fewer than limit + skip rows, or when the scope was too small
    to walk (no row carries the total then) and the caller reads the page by sorting."""
    scope, scope_params = _scope_sql(workspace, filters, None)
    (part_sql, part_params), = parts
    db_now = _db_datetime(now)
    in_scope = "(w.user_pk IN (SELECT id FROM scope_learners) OR 1 = 0)"
    large_enough = "(SELECT n FROM scope_total) >= %s"
    active = (
        "SELECT * FROM (SELECT r.user_id AS user_pk, r.course_id AS course_pk, r.activity_at AS sort_key "
        f"FROM {RESULT} r WHERE r.workspace_id = %s AND {KEPT_ROWS['active']} "
        "ORDER BY r.activity_at DESC, r.user_id, r.course_id LIMIT %s) AS w "
        f"WHERE {in_scope} AND {large_enough} ORDER BY w.sort_key DESC, w.user_pk, w.course_pk LIMIT %s"
    )
    ended = (
        "SELECT * FROM (SELECT r.user_id AS user_pk, r.course_id AS course_pk, r.attempt_activity_at AS sort_key "
        f"FROM {RESULT} r WHERE r.workspace_id = %s AND {KEPT_ROWS['ended']}) AS w "
        f"WHERE {in_scope} AND {large_enough} ORDER BY w.sort_key DESC, w.user_pk, w.course_pk LIMIT %s"
    )
    head = (
        f"{scope}, scope_total (n) AS (SELECT COUNT(*) FROM ({part_sql}) AS t), "
        f"walked AS ({active}), walked_ended AS ({ended}) "
    )
    params = [
        *scope_params, *part_params,
        workspace.pk, db_now, WALK_BUDGET_ROWS, WALK_MIN_SCOPE_ROWS, limit + skip,
        workspace.pk, db_now, WALK_MIN_SCOPE_ROWS, limit + skip,
    ]
    rows = _fetch_described(
        head, ", (SELECT n FROM scope_total) AS total_rows, (SELECT COUNT(*) FROM walked) AS walked_rows",
        "(SELECT * FROM walked UNION ALL SELECT * FROM walked_ended)", "DESC", rows_sql, params,
        limit=limit, skip=skip,
    )
    if not rows or rows[0]["walked_rows"] < limit + skip:
        return None
    total = rows[0]["total_rows"]
    for row in rows:
        del row["total_rows"], row["walked_rows"]
    return total, rows


def _count(rows_sql, params):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({rows_sql}) AS r", params)
        return cursor.fetchone()[0]


def analyse_results_page(workspace, filters, order=ResultOrder(), *, limit=50, skip=0, instructor=None, now=None):
    """One page of the result rows in `order`, and their total, in one query.

    The total is a COUNT(*) subquery of the same statement: with a scope, over the keys the
    cut sorts (read once); without, apart from the sort, so the page itself can stop after
    limit + skip rows of an index. Only a page past the end (no row to carry the total) needs a
    second, COUNT(*) query. NULLs (a missing score) sort last in both directions; ties are
    broken by learner then course (the row's key), so consecutive pages neither repeat nor skip
    rows. Names sort without regard to case. Users and courses are joined after the page is
    cut. Each row has the columns of `result_rows_sql` plus result_id, user_public_id,
    user_email, user_name, user_avatar, course_key and course_title.

    A scope of learners alone in the default order first tries `_walked_page` (the same rows:
    the tests compare both reads): with a large scope, sorting it costs more than walking the
    workspace's activity index until the page is full.
    """
    now = now or timezone.now()
    parts = result_parts_sql(workspace, filters, instructor=instructor, now=now)
    sort_key, sort_join = _SORT_KEYS[order.field]
    every_row = _rows_sql(workspace, ResultFilters(), "any", now=now)
    if _walks_activity_index(filters, order, instructor) and limit + skip <= WALK_MAX_PAGE_END:
        walked = _walked_page(workspace, filters, parts, every_row, limit=limit, skip=skip, now=now)
        if walked is not None:
            return Page(*walked)
    rows = _described_page(
        _scope_sql(workspace, filters, instructor), parts, every_row, sort_key, sort_join,
        "DESC" if order.descending else "ASC", limit=limit, skip=skip, with_total=True,
        nulls_last=order.field in _NULLABLE_SORT_KEYS,
    )
    if rows:
        total = rows[0]["total_rows"]
    else:
        total = _count(*result_rows_sql(workspace, filters, instructor=instructor, now=now)) if skip else 0
    for row in rows:
        del row["total_rows"]
    return Page(total=total, rows=rows)


def iter_result_rows(workspace, filters=ResultFilters(), *, instructor=None, now=None, chunk_size=2000):
    """(total, iterator of every result row) by learner then course, for exports.

    The rows of `analyse_results_page`, read in chunks of `chunk_size` by keyset (never OFFSET),
    all at the same `now`, so a long export neither slows down nor shifts.
    """
    now = now or timezone.now()
    parts = result_parts_sql(workspace, filters, instructor=instructor, now=now)
    every_row = _rows_sql(workspace, ResultFilters(), "any", now=now)
    scope = _scope_sql(workspace, filters, instructor)

    def rows():
        after = None
        while True:
            chunk = _described_page(scope, parts, every_row, limit=chunk_size, after=after)
            yield from chunk
            if len(chunk) < chunk_size:
                return
            after = (chunk[-1]["user_pk"], chunk[-1]["course_pk"])

    return _count(*result_rows_sql(workspace, filters, instructor=instructor, now=now)), rows()


# Statistics ------------------------------------------------------------------------------------


def _counts_per(column, values):
    """One `COUNT(*) FILTER (WHERE column = value)` expression per value (this module's
    constants, as literals)."""
    return [f"COUNT(*) FILTER (WHERE {column} = {_literal(value)})" for value in values]


def analyse_statistics(workspace, filters=ResultFilters(), *, instructor=None, now=None):
    """Totals over the rows `result_rows_sql` gives for the same filters, in ONE aggregate query.

    total; byState (all five states, zeros included); byEnrollmentType (MANDATORY, OPTIONAL,
    NOT_ENROLLED); averageProgress over all rows (0 when there are none); averageScore over rows
    with a score (None when none has one); completionRate = APPROVED rows / total (0 when total
    is 0); certificatesIssued = rows with a certificate date; totalTimeSpent in seconds; byContent:
    the 20 contents with most rows (ties by name, case-insensitive, then key), each with byState.

    The rows are aggregated once per course; the top 20 and the workspace line are both read
    from those per-course sums (a CTE), so the rows are scanned a single time.
    """
    rows_sql, params = result_rows_sql(workspace, filters, instructor=instructor, now=now)
    state_counts = _counts_per("r.effective_state", RESULT_STATES)
    type_counts = _counts_per("r.enrollment_type", ENROLLMENT_TYPES)
    count_columns = [f"n{index}" for index in range(len(state_counts) + len(type_counts))]
    sums = ["total", *count_columns, "progress_sum", "scored", "score_sum", "certificates", "time_spent"]
    per_course = (
        "SELECT r.course_pk, COUNT(*) AS total, "
        + ", ".join(f"{expression} AS {name}" for expression, name in zip([*state_counts, *type_counts], count_columns))
        + ", SUM(r.progress_pct) AS progress_sum, COUNT(r.score_pct) AS scored, SUM(r.score_pct) AS score_sum, "
        "COUNT(r.certificate_at) AS certificates, "
        f"SUM(r.time_spent) AS time_spent FROM ({rows_sql}) AS r GROUP BY r.course_pk"
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
    with connection.cursor() as cursor:
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


# Lookups: what a client filters by. Each is one count plus one page query (custom fields: +1).


def _page(queryset, limit, skip):
    return Page(total=queryset.count(), rows=list(queryset[skip : skip + limit]))


def analyse_groups(workspace, *, search="", limit=50, skip=0):
    """Groups of the workspace whose name contains `search` (case-insensitive), by name, with
    their member count."""
    groups = LearnerGroup.objects.filter(workspace=workspace)
    if search:
        groups = groups.filter(name__icontains=search)
    total = groups.count()
    rows = (
        groups.annotate(members_count=Count("members"))
        .order_by("name", "id")
        .values("public_id", "name", "members_count")[skip : skip + limit]
    )
    return Page(total=total, rows=list(rows))


def analyse_custom_fields(workspace, *, search="", limit=50, skip=0):
    """Custom fields whose name contains `search`, by name, each with the distinct non-empty
    values its users hold (sorted): the values a customFields filter can match."""
    fields = CustomField.objects.filter(workspace=workspace)
    if search:
        fields = fields.filter(name__icontains=search)
    page = _page(fields.order_by("name", "id").values("id", "public_id", "name"), limit, skip)
    known = (
        CustomFieldValue.objects.filter(field_id__in=[row["id"] for row in page.rows])
        .exclude(value="")
        .values_list("field_id", "value")
        .distinct()
        .order_by("field_id", "value")
    )
    values_by_field = {}
    for field_id, value in known:
        values_by_field.setdefault(field_id, []).append(value)
    for row in page.rows:
        row["values"] = values_by_field.get(row.pop("id"), [])
    return page


def analyse_contents(workspace, *, search="", limit=50, skip=0, instructor=None):
    """Courses (all of the workspace, or those `instructor` teaches) whose title or key contains
    `search`, by title then key."""
    courses = Course.objects.filter(workspace=workspace)
    if instructor is not None:
        courses = courses.filter(instructors=instructor)
    if search:
        courses = courses.filter(Q(title__icontains=search) | Q(key__icontains=search))
    return _page(courses.order_by(Lower("title"), "key").values("key", "title"), limit, skip)


def analyse_users(workspace, *, search="", limit=50, skip=0, instructor=None):
    """Members of the workspace (for an instructor: those enrolled in or attempting one of their
    courses) whose name or email contains `search`, by name then email.

    An instructor's learners are read from the result table, which has one row per (learner,
    course) with an enrollment (ended or not) or an attempt: the same pairs, along the course
    index alone."""
    full_name = Trim(Concat(F("first_name"), Value(" "), F("last_name")))
    users = User.objects.filter(
        id__in=Membership.objects.filter(workspace=workspace).values("user_id")
    ).annotate(full_name_text=full_name)
    if instructor is not None:
        taught = Course.objects.filter(workspace=workspace, instructors=instructor).values("id")
        users = users.filter(id__in=Result.objects.filter(course_id__in=taught).values("user_id"))
    if search:
        users = users.filter(Q(full_name_text__icontains=search) | Q(email__icontains=search))
    users = users.order_by(Lower("full_name_text"), "email").values(
        "public_id", "full_name_text", "email", "avatar_url"
    )
    return _page(users, limit, skip)
