"""Pages of result rows: a filtered, ordered page and its total (`analyse_results_page`), and
every row in keyset chunks for exports (`iter_result_rows`)."""

import hashlib
from datetime import timezone as dt_timezone

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.queries.sql import db_datetime, fetch_dicts, read_cursor

from .filters import RESULT_STATES, Page, ResultFilters, ResultOrder
from .rows import (
    COURSE,
    KEPT_ROWS,
    RESULT,
    USER,
    _rows_sql,
    hashed_in_sql,
    result_parts_sql,
    result_rows_sql,
)
from .scope import _scope_sql
from .statistics import stored_sums_sql, stored_totals_hold_day_sql

_USER_NAME_SQL = (
    "COALESCE(NULLIF(TRIM(COALESCE({u}.first_name, '') || ' ' || COALESCE({u}.last_name, '')), ''), {u}.email)"
)
_STATE_RANK_SQL = (
    "CASE r.effective_state "
    + " ".join(f"WHEN '{state}' THEN {rank}" for rank, state in enumerate(RESULT_STATES))
    + " END"
)
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
    scope,
    parts,
    rows_sql,
    sort_key="r.user_pk",
    sort_join="",
    direction="ASC",
    *,
    limit,
    skip=0,
    after=None,
    with_total=False,
    nulls_last=False,
    stored_total=None,
):
    """Rows of the `parts` of result_parts_sql (`scope`: their WITH clause, from _scope_sql),
    ordered by sort_key (NULLs last when nulls_last), then learner and course, cut to limit /
    skip (and to rows after the (user_pk, course_pk) key `after`), then described. with_total
    adds `total_rows`, the number of rows before the cut, counted by a subquery of the same
    statement; without a scope, `stored_total` ((condition, params), (sums, params): the stored
    totals' freshness and per-group sums, see `_stored_total`) makes it their sum while they
    are fresh (PostgreSQL and SQLite run only the CASE branch taken).

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
            count, total_params = _stored_or_counted(
                stored_total,
                f"(SELECT COUNT(*) FROM ({' UNION ALL '.join(sql for sql, _ in parts)}) AS t)",
                [param for _, part_params in parts for param in part_params],
            )
            total_column = f", {count} AS total_rows"
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


def _walks_activity_index(filters, order, course_ids):
    """Whether a page may be read by `_walked_page`: a scope of learners only, no filter on a
    column that depends on the clock or on the activity (each would make the scope's share of
    the walk unpredictable), the default order (updatedAt descending: the index's own)."""
    return (
        order.field == "updatedAt"
        and order.descending
        and course_ids is None
        and not filters.content_ids
        and (filters.group_ids or filters.user_ids or filters.custom_fields)
        and not (filters.states or filters.enrollment_types or filters.expiry or filters.updated_at)
    )


def _walked_page(workspace, filters, parts, rows_sql, *, limit, skip, now, stored_total=None):
    """(total, rows) of a learner-scoped page in the default order, read along the workspace's
    indexes like a page without scope, or None when that does not pay or did not find the page.

    ONE statement: the scope's rows are counted (one index-only pass, no sort); when there are
    at least WALK_MIN_SCOPE_ROWS of them, the page is read in two parts like a page without
    scope (enrollment active or absent, along the activity_at index; ended, along the small
    attempt_activity_at one), keeping the rows of the scope's learners, each part stopping after
    limit + skip of them. The scope is tested per index entry against a hash of its learners
    (`hashed_in_sql`: as a join, PostgreSQL would not keep the walked order). The first part reads at most WALK_BUDGET_ROWS index entries (a scope whose rows are
    all old): None when it found fewer than limit + skip rows, or when the scope was too small
    to walk (no row carries the total then) and the caller reads the page by sorting.
    `stored_total` (see `_stored_total`: one group alone) gives the scope's count from the
    stored totals while they are fresh instead of counting the scope's rows."""
    scope, scope_params = _scope_sql(workspace, filters, None)
    ((part_sql, part_params),) = parts
    db_now = db_datetime(now)
    in_scope = hashed_in_sql("w.user_pk", "SELECT id FROM scope_learners")
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
    scope_total, scope_total_params = _stored_or_counted(
        stored_total, f"(SELECT COUNT(*) FROM ({part_sql}) AS t)", part_params
    )
    head = f"{scope}, scope_total (n) AS (SELECT {scope_total}), walked AS ({active}), walked_ended AS ({ended}) "
    params = [
        *scope_params,
        *scope_total_params,
        workspace.pk,
        db_now,
        WALK_BUDGET_ROWS,
        WALK_MIN_SCOPE_ROWS,
        limit + skip,
        workspace.pk,
        db_now,
        WALK_MIN_SCOPE_ROWS,
        limit + skip,
    ]
    rows = _fetch_described(
        head,
        ", (SELECT n FROM scope_total) AS total_rows, (SELECT COUNT(*) FROM walked) AS walked_rows",
        "(SELECT * FROM walked UNION ALL SELECT * FROM walked_ended)",
        "DESC",
        rows_sql,
        params,
        limit=limit,
        skip=skip,
    )
    if not rows or rows[0]["walked_rows"] < limit + skip:
        return None
    total = rows[0]["total_rows"]
    for row in rows:
        del row["total_rows"], row["walked_rows"]
    return total, rows


def _count(rows_sql, params):
    with read_cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({rows_sql}) AS r", params)
        return cursor.fetchone()[0]


def _stored_total(workspace, filters, course_ids, now):
    """The stored totals that may give the total of a page of the whole workspace (no filter, no
    course scope) or of one learner group (the only filter): (freshness condition, per-group
    sums), both (sql, params); else None. Counting every row of a large workspace, or of a
    large group, costs as much as the rest of the page many times over."""
    if course_ids is not None:
        return None
    sums = stored_sums_sql(workspace, filters, now)
    return None if sums is None else (stored_totals_hold_day_sql(workspace, now), sums)


def _stored_or_counted(stored_total, count, count_params):
    """(sql, params) of a scalar: the sum of the stored totals' `total` while they are fresh,
    else the count (`count`: a scalar subquery with its parameters). PostgreSQL and SQLite run
    only the CASE branch taken."""
    if stored_total is None:
        return count, count_params
    (fresh, fresh_params), (sums, sums_params) = stored_total
    return (
        f"CASE WHEN {fresh} THEN (SELECT CAST(COALESCE(SUM(g.total), 0) AS BIGINT) FROM ({sums}) AS g) "
        f"ELSE {count} END",
        [*fresh_params, *sums_params, *count_params],
    )


def analyse_results_page(workspace, filters, order=ResultOrder(), *, limit=50, skip=0, course_ids=None, now=None):
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
    parts = result_parts_sql(workspace, filters, course_ids=course_ids, now=now)
    sort_key, sort_join = _SORT_KEYS[order.field]
    every_row = _rows_sql(workspace, ResultFilters(), "any", now=now)
    stored_total = _stored_total(workspace, filters, course_ids, now)
    if _walks_activity_index(filters, order, course_ids) and limit + skip <= WALK_MAX_PAGE_END:
        walked = _walked_page(
            workspace, filters, parts, every_row, limit=limit, skip=skip, now=now, stored_total=stored_total
        )
        if walked is not None:
            return Page(*walked)
    rows = _described_page(
        _scope_sql(workspace, filters, course_ids),
        parts,
        every_row,
        sort_key,
        sort_join,
        "DESC" if order.descending else "ASC",
        limit=limit,
        skip=skip,
        with_total=True,
        nulls_last=order.field in _NULLABLE_SORT_KEYS,
        stored_total=stored_total,
    )
    if rows:
        total = rows[0]["total_rows"]
    else:
        total = _count(*result_rows_sql(workspace, filters, course_ids=course_ids, now=now)) if skip else 0
    for row in rows:
        del row["total_rows"]
    return Page(total=total, rows=rows)


def iter_result_rows(workspace, filters=ResultFilters(), *, course_ids=None, now=None, chunk_size=2000):
    """(total, iterator of every result row) by learner then course, for exports.

    The rows of `analyse_results_page`, read in chunks of `chunk_size` by keyset (never OFFSET),
    all at the same `now`, so a long export neither slows down nor shifts.
    """
    now = now or timezone.now()
    parts = result_parts_sql(workspace, filters, course_ids=course_ids, now=now)
    every_row = _rows_sql(workspace, ResultFilters(), "any", now=now)
    scope = _scope_sql(workspace, filters, course_ids)

    def rows():
        after = None
        while True:
            chunk = _described_page(scope, parts, every_row, limit=chunk_size, after=after)
            yield from chunk
            if len(chunk) < chunk_size:
                return
            after = (chunk[-1]["user_pk"], chunk[-1]["course_pk"])

    return _count(*result_rows_sql(workspace, filters, course_ids=course_ids, now=now)), rows()
