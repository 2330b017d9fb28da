"""The per-learner activity rollups (LearnerDay, LearnerActivity), kept equal to the raw rows.

Every write of page sessions, learning events or video views refreshes the (user, UTC day)
pairs it touched, in its own transaction (analytics.rollups.changes.rows_changed reaches
`refresh_learner_days` through the registry's `learner_activity` entry): the rows of those pairs
are deleted and computed again from the raw tables (one DELETE and one INSERT ... SELECT grouped
over the three tables), then the LearnerActivity row of each of those users is computed again
from their LearnerDay rows. Recomputing rather than adding deltas keeps re-sends, heartbeats (a
page session's duration grows) and moved start times right without knowing the old values.

On PostgreSQL a refresh first takes a transaction-level advisory lock per user (in user id
order): two transactions refreshing the same learner would otherwise each recompute from their
own snapshot and the later write would drop the other's rows. SQLite serialises writers itself.

The learners' per-day totals (WorkspaceDay) are kept by difference in the same refresh: the
refreshed days' sums are taken out before and added back after (learners only, by their role
now). A user whose role changed since their days were counted (LearnerActivity.is_learner) has
all their days moved in or out first (`sync_learner_roles`, also called on membership writes).

`rebuild_learner_activity` recomputes everything (or one workspace) with one statement per
table: the backfill of an existing database and the end of a bulk load.
"""

import threading
from contextlib import contextmanager

from django.db import connection, transaction

from analytics.queries.sql import quoted_table
from analytics.definitions import UTC, is_learner_sql
from analytics.services.rollup_sql import as_utc_day, lock_users, on_conflict, pairs_cte, pairs_rows, utc_day
from analytics.models import (
    DAYS_PER_WORD,
    RECENT_DAY_WORDS,
    RECENT_DAYS,
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    VideoView,
    WorkspaceDay,
)

FORUM_POST_EVENT = "posted_forum"
RETENTION_DAYS = (1, 7, 30)
REBUILD_WORK_MEM = "256MB"
# Bounds on the parameters of one statement (SQLite allows 32,766) and on the pairs it refreshes.
MAX_PARAMS = 5000
MAX_PAIRS = 5000

# The rollup's count columns, in insertion order.
COUNT_COLUMNS = (
    "page_sessions",
    "page_seconds",
    "desktop_sessions",
    "mobile_sessions",
    "tablet_sessions",
    "page_hours",
    "events",
    "forum_posts",
    "video_views",
    "watch_seconds",
    "completed_views",
)


def _utc_hour(column):
    if connection.vendor == "postgresql":
        return f"EXTRACT(HOUR FROM ({column}) AT TIME ZONE 'UTC')::integer"
    return f"CAST(strftime('%%H', {column}) AS INTEGER)"  # %% : the statement has parameters


def date_plus(column, days):
    """SQL: the date `column` + `days` days."""
    if connection.vendor == "postgresql":
        return f"({column} + {int(days)})"
    return f"date({column}, '{int(days):+d} days')"


def _int(expression, kind="INTEGER"):
    # Integers all the way: on PostgreSQL SUM(bigint) is numeric, several times slower to add up.
    return f"CAST({expression} AS {kind})"


def _bits_or(expression, *, repeats=False):
    """SQL aggregate: the OR of the group's values of `expression`, powers of two. SQLite has no
    BIT_OR: the sum of the distinct powers is the same number (`repeats`: a power may come more
    than once in a group, so the sum takes each value once)."""
    if connection.vendor == "postgresql":
        return f"BIT_OR({expression})"
    return f"SUM({'DISTINCT ' if repeats else ''}{expression})"


def _source_selects(source):
    """SELECTs of (workspace_id, user_id, day, *COUNT_COLUMNS) grouped per user and day, one per
    raw table. `source(table, time column)` gives each one's (FROM ... WHERE SQL, params, day
    expression); the raw table's alias is `t`."""
    ps, ev, vv = quoted_table(PageSession), quoted_table(LearningEvent), quoted_table(VideoView)
    parts, params = [], []
    rows, extra, day = source(ps, "started_at")
    # The first SELECT names the columns of the union.
    values = [
        _int("COUNT(*)"),
        _int("SUM(t.duration_s)"),
        *(
            _int(f"SUM(CASE WHEN t.device = '{device}' THEN 1 ELSE 0 END)")
            for device in ("desktop", "mobile", "tablet")
        ),
        _int(_bits_or(f"1 << {_utc_hour('t.started_at')}", repeats=True)),
        "0",
        "0",
        "0",
        "0",
        "0",
    ]
    named = ", ".join(f"{value} AS {name}" for value, name in zip(values, COUNT_COLUMNS))
    parts.append(
        f"SELECT t.workspace_id, t.user_id, {day} AS day, {named} {rows} GROUP BY t.workspace_id, t.user_id, {day}"
    )
    params += extra
    rows, extra, day = source(ev, "occurred_at")
    parts.append(
        f"SELECT t.workspace_id, t.user_id, {day}, 0, 0, 0, 0, 0, 0, {_int('COUNT(*)')}, "
        f"{_int('SUM(CASE WHEN t.type = %s THEN 1 ELSE 0 END)')}, 0, 0, 0 {rows} "
        f"GROUP BY t.workspace_id, t.user_id, {day}"
    )
    params += [FORUM_POST_EVENT, *extra]
    rows, extra, day = source(vv, "started_at")
    parts.append(
        f"SELECT t.workspace_id, t.user_id, {day}, 0, 0, 0, 0, 0, 0, 0, 0, {_int('COUNT(*)')}, "
        f"{_int('SUM(t.watched_s)')}, {_int('SUM(CASE WHEN t.is_completed THEN 1 ELSE 0 END)')} {rows} "
        f"GROUP BY t.workspace_id, t.user_id, {day}"
    )
    params += extra
    return " UNION ALL ".join(parts), params


def _whole_tables(scope, params):
    """A `source` for _source_selects: every row of the raw tables matching `scope`."""
    return lambda table, column: (f"FROM {table} t WHERE {scope}", params, utc_day(f"t.{column}"))


def _insert_days_sql(union_sql, upsert=False):
    # page_hours: each part has at most one row per (user, day) carrying hours, the others 0.
    # "WHERE 1 = 1": SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.
    sums = ", ".join(f"SUM({name})" for name in COUNT_COLUMNS)
    sql = (
        f"INSERT INTO {quoted_table(LearnerDay)} (workspace_id, user_id, day, {', '.join(COUNT_COLUMNS)}) "
        f"SELECT workspace_id, user_id, day, {sums} "
        f"FROM ({union_sql}) AS activity "
        f"WHERE 1 = 1 GROUP BY workspace_id, user_id, day"
    )
    return sql + on_conflict(("workspace_id", "user_id", "day"), COUNT_COLUMNS) if upsert else sql


HOUR_COLUMNS = tuple(f"hour{hour}_last_day" for hour in range(24))
SPAN_COLUMNS = (
    "is_learner",
    "first_day",
    "last_day",
    *(f"is_back_day{days}" for days in RETENTION_DAYS),
    *RECENT_DAY_WORDS,
    "last_page_day",
    "page_days",
    "page_sessions",
    "page_seconds",
    *HOUR_COLUMNS,
)


def days_between(later, earlier):
    """SQL: the whole days from the date `earlier` to the date `later`."""
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


# The LearnerDay columns a span reads: all of them in the learner_day_span_idx index, so that a
# refresh reads its users' days from the index alone (their rows lie scattered over the heap).
SPAN_SOURCE_COLUMNS = ("workspace_id", "user_id", "day", "page_sessions", "page_seconds", "page_hours")


def _insert_spans_sql(where_sql, upsert=False):
    ld = quoted_table(LearnerDay)
    back = ", ".join(
        f"EXISTS (SELECT 1 FROM {ld} later WHERE later.workspace_id = span.workspace_id "
        f"AND later.user_id = span.user_id AND later.day = {date_plus('span.first_day', days)})"
        for days in RETENTION_DAYS
    )
    # The bitmap words: each row of the user's days carries their last day (a window over the
    # rows the span groups anyway, so no second read of their days).
    age = days_between("last_of_user", "day")
    words = ", ".join(
        _int(
            _bits_or(
                f"CASE WHEN {age} >= {low} AND {age} < {low + DAYS_PER_WORD} "
                f"THEN CAST(1 AS BIGINT) << ({age} - {low}) ELSE 0 END"
            ),
            "BIGINT",
        )
        + f" AS {word}"
        for low, word in zip(range(0, RECENT_DAYS, DAYS_PER_WORD), RECENT_DAY_WORDS)
    )
    hours = ", ".join(
        f"MAX(CASE WHEN page_hours & {1 << hour} <> 0 THEN day END) AS {name}" for hour, name in enumerate(HOUR_COLUMNS)
    )
    page_columns = ", ".join(
        f"span.{name}" for name in ("last_page_day", "page_days", "page_sessions", "page_seconds", *HOUR_COLUMNS)
    )
    sql = (
        f"INSERT INTO {quoted_table(LearnerActivity)} (workspace_id, user_id, {', '.join(SPAN_COLUMNS)}) "
        f"SELECT span.workspace_id, span.user_id, {is_learner_sql('span', per_row=upsert)}, span.first_day, span.last_day, {back}, "
        f"{', '.join(f'span.{word}' for word in RECENT_DAY_WORDS)}, {page_columns} FROM ("
        f"SELECT workspace_id, user_id, MIN(day) AS first_day, MAX(day) AS last_day, "
        f"MAX(CASE WHEN page_sessions > 0 THEN day END) AS last_page_day, "
        f"{_int('SUM(CASE WHEN page_sessions > 0 THEN 1 ELSE 0 END)')} AS page_days, "
        f"{_int('SUM(page_sessions)')} AS page_sessions, {_int('SUM(page_seconds)', 'BIGINT')} AS page_seconds, "
        f"{words}, {hours} FROM (SELECT {', '.join(f'd.{name}' for name in SPAN_SOURCE_COLUMNS)}, "
        "MAX(d.day) OVER (PARTITION BY d.workspace_id, d.user_id) AS last_of_user "
        f"FROM {ld} d WHERE {where_sql}) AS days GROUP BY workspace_id, user_id) AS span WHERE 1 = 1"
    )
    return sql + on_conflict(("workspace_id", "user_id"), SPAN_COLUMNS) if upsert else sql


# WorkspaceDay's columns and their sums over LearnerDay rows `d`: of learners only, and of
# every user.
LEARNER_TOTALS = {
    "page_days": "CASE WHEN d.page_sessions > 0 THEN 1 ELSE 0 END",
    "bounce_days": "CASE WHEN d.page_sessions = 1 THEN 1 ELSE 0 END",
    **{
        name: f"d.{name}"
        for name in (
            "page_sessions",
            "page_seconds",
            "desktop_sessions",
            "mobile_sessions",
            "tablet_sessions",
            "forum_posts",
        )
    },
}
EVERYONE_TOTALS = {name: f"d.{name}" for name in ("video_views", "watch_seconds", "completed_views")}


def _totals_select_sql(days_sql, sign=1, *, role_moved=False, signed=False, per_row=False):
    """(columns, SQL) of the WorkspaceDay rows `sign` x the sums of the LearnerDay rows `d` that
    `days_sql` (FROM ... WHERE) selects: SELECT workspace_id, day, then one sum per column:
    LEARNER_TOTALS of the learners among them and EVERYONE_TOTALS of all; role_moved:
    LEARNER_TOTALS of all of them alone (users counted as learners or no longer). signed: each row
    carries its own sign (`d.sign`, 1 or -1). per_row: few rows (a refresh's pairs), whose roles
    are probed one by one (see is_learner_sql: a hash of every membership cost 40 ms a batch). Days in order: two writers adding to the same days
    lock them in the same order."""
    if role_moved:
        columns = {**LEARNER_TOTALS, **dict.fromkeys(EVERYONE_TOTALS, "0")}
        rows_sql = days_sql
    else:
        columns = {name: f"CASE WHEN d.is_learner THEN {sql} ELSE 0 END" for name, sql in LEARNER_TOTALS.items()}
        columns.update(EVERYONE_TOTALS)
        # The role test once per row: PostgreSQL would inline it and run its subquery once per
        # column (OFFSET 0 keeps the subquery whole).
        fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
        rows_sql = f"FROM (SELECT d.*, {is_learner_sql('d', per_row=per_row)} AS is_learner {days_sql}{fence}) d"
    if signed:
        sums = ", ".join(_int(f"SUM(d.sign * ({expression}))", "BIGINT") for expression in columns.values())
    else:
        sums = ", ".join(_int(f"{sign} * SUM({expression})", "BIGINT") for expression in columns.values())
    select_sql = (
        f"SELECT d.workspace_id, d.day, {sums} {rows_sql} GROUP BY d.workspace_id, d.day ORDER BY d.workspace_id, d.day"
    )
    return tuple(columns), select_sql


def _add_totals_sql(days_sql, sign=1, *, role_moved=False, rebuild=False, signed=False, per_row=False):
    """INSERT into WorkspaceDay the rows of _totals_select_sql(days_sql, ...), added to the rows
    there (rebuild: into an empty table)."""
    columns, select_sql = _totals_select_sql(days_sql, sign, role_moved=role_moved, signed=signed, per_row=per_row)
    sql = f"INSERT INTO {quoted_table(WorkspaceDay)} (workspace_id, day, {', '.join(columns)}) {select_sql}"
    if rebuild:
        return sql
    return sql + on_conflict(("workspace_id", "day"), columns, add_to=quoted_table(WorkspaceDay))


# WorkspaceDay's columns moved by a refresh, in _totals_select_sql's order.
TOTALS_COLUMNS = (*LEARNER_TOTALS, *EVERYONE_TOTALS)


def _upsert_days_returning_totals_sql(union_sql):
    """PostgreSQL: after `pairs_cte`, one statement that upserts the pairs' LearnerDay rows and
    returns the difference it makes to the learners' WorkspaceDay totals (workspace_id, day, then
    TOTALS_COLUMNS): `old_days` reads the rows before the upsert (every part of one statement
    sees the same snapshot), the upsert's RETURNING gives them after; the difference adds the new
    rows and takes out the old. For refreshes that never empty a pair (may_empty=False: a
    heartbeat). Parameters: the workspace id, then union_sql's."""
    ld = quoted_table(LearnerDay)
    changes = "FROM (SELECT -1 AS sign, * FROM old_days UNION ALL SELECT 1 AS sign, * FROM new_days) d"
    return (
        f", old_days AS (SELECT d.* FROM {ld} d JOIN pairs p ON p.user_id = d.user_id AND p.day = d.day "
        f"WHERE d.workspace_id = %s), new_days AS ({_insert_days_sql(union_sql, upsert=True)} RETURNING *) "
        + _totals_select_sql(changes, signed=True, per_row=True)[1]
    )


def _add_to_workspace_days_cte(totals):
    """PostgreSQL: (`WITH` SQL, params) adding `totals` ([(workspace_id, day, *TOTALS_COLUMNS)])
    to WorkspaceDay, in day order, to put before the refresh's last statement; ("", []) when
    every row is zeros (the same as no row).

    Every write of a workspace's day updates its one WorkspaceDay row, and the row stays locked
    until the write commits: concurrent heartbeats queue on it. A data-modifying WITH that the
    statement does not read runs after its main part, so the row is taken as late as possible and
    held for little more than the commit."""
    summed = {}  # chunks of pairs may each return the same day
    for workspace_id, day, *sums in totals:
        before = summed.get((workspace_id, day), [0] * len(sums))
        summed[(workspace_id, day)] = [a + b for a, b in zip(before, sums)]
    totals = [(*key, *sums) for key, sums in sorted(summed.items()) if any(sums)]
    if not totals:
        return "", []
    columns = ("workspace_id", "day", *TOTALS_COLUMNS)
    types = ("integer", "date", *["bigint"] * len(TOTALS_COLUMNS))
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    sql = (
        f"WITH workspace_days AS (INSERT INTO {quoted_table(WorkspaceDay)} ({', '.join(columns)}) "
        f"SELECT * FROM unnest({arrays}) WHERE 1 = 1"
        + on_conflict(("workspace_id", "day"), TOTALS_COLUMNS, add_to=quoted_table(WorkspaceDay))
        + ") "
    )
    return sql, [list(values) for values in zip(*totals)]


def _sync_roles(cursor, workspace_id, users):
    """Users among `users` (sorted ids, locked) whose learner role changed since their days were
    counted (LearnerActivity.is_learner): add their days to WorkspaceDay or take them out, and
    record it."""
    la, ld = quoted_table(LearnerActivity), quoted_table(LearnerDay)
    flips = []
    for start in range(0, len(users), MAX_PARAMS):
        chunk = users[start : start + MAX_PARAMS]
        cursor.execute(
            f"SELECT a.user_id, a.is_learner FROM {la} a WHERE a.workspace_id = %s "
            f"AND a.user_id IN ({', '.join(['%s'] * len(chunk))}) AND a.is_learner <> {is_learner_sql('a')}",
            [workspace_id, *chunk],
        )
        flips += cursor.fetchall()
    for was_learner in (True, False):
        flipped = [user_id for user_id, is_learner in flips if bool(is_learner) == was_learner]
        for start in range(0, len(flipped), MAX_PARAMS):
            chunk = flipped[start : start + MAX_PARAMS]
            marks = ", ".join(["%s"] * len(chunk))
            # All their days, whatever the role says now: it is the counting that changes.
            days_sql = f"FROM {ld} d WHERE d.workspace_id = %s AND d.user_id IN ({marks})"
            cursor.execute(_add_totals_sql(days_sql, -1 if was_learner else 1, role_moved=True), [workspace_id, *chunk])
            cursor.execute(
                f"UPDATE {la} SET is_learner = %s WHERE workspace_id = %s AND user_id IN ({marks})",
                [not was_learner, workspace_id, *chunk],
            )


def sync_learner_roles(workspace_id, user_ids):
    """After memberships of `user_ids` in the workspace were created, changed or deleted: count
    (or stop counting) their days in the learners' WorkspaceDay totals."""
    users = sorted({user_id for user_id in user_ids if user_id is not None})
    if not users:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, users)
        _sync_roles(cursor, workspace_id, users)


def activity_pairs(rows, user_key="user_id", time_key="started_at"):
    """{(user_id, UTC day)} of dict rows."""
    return {(row[user_key], as_utc_day(row[time_key])) for row in rows if row.get(time_key) is not None}


class _Gathered(threading.local):
    """The pairs gathered by `refreshed_together` blocks of this thread: {workspace id: [pairs,
    may_empty]}, or None outside such a block."""

    pending = None


_gathered = _Gathered()


@contextmanager
def refreshed_together():
    """Inside the block, refresh_learner_days only gathers its pairs; they are refreshed in one
    call as the block ends (inside the caller's transaction), when it ends without an error.

    A write path that refreshes several times in one transaction (xAPI: statements, voiding,
    video sessions) would take its users' advisory locks in several rounds, each sorted but not
    all together: two such transactions can then wait for each other. One round cannot.
    """
    if _gathered.pending is not None:  # nested: the outer block refreshes
        yield
        return
    _gathered.pending = {}
    try:
        yield
        pending, _gathered.pending = _gathered.pending, None
        for workspace_id, (pairs, may_empty) in sorted(pending.items()):
            refresh_learner_days(workspace_id, pairs, may_empty=may_empty)
    finally:
        _gathered.pending = None


def refresh_learner_days(workspace_id, pairs, *, may_empty=True):
    """Recompute the LearnerDay rows of `pairs` ({(user_id, date or datetime)}) of the workspace
    from the raw tables, and the LearnerActivity rows of their users. Call it inside the write's
    transaction, after the write (without a transaction it makes its own).

    may_empty=False: the caller only added rows or changed them within their day (new events, a
    heartbeat), so no pair can have lost all its activity: the rows are upserted without first
    deleting. Queries: a lock and the role check; per 5,000 pairs the totals out, an INSERT ...
    ON CONFLICT (a DELETE before it when may_empty) and the totals in (on PostgreSQL without
    may_empty, the three in one statement); per 5,000 users the same for LearnerActivity.
    """
    pairs = {(user_id, as_utc_day(day)) for user_id, day in pairs if user_id is not None and day is not None}
    if _gathered.pending is not None:
        gathered = _gathered.pending.setdefault(workspace_id, [set(), False])
        gathered[0] |= pairs
        gathered[1] = gathered[1] or may_empty
        return
    if not pairs:
        return
    pairs = sorted(pairs)
    users = sorted({user_id for user_id, _ in pairs})
    ld, la = quoted_table(LearnerDay), quoted_table(LearnerActivity)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, users)
        _sync_roles(cursor, workspace_id, users)
        pair_days = f"FROM {ld} d JOIN pairs p ON p.user_id = d.user_id AND p.day = d.day WHERE d.workspace_id = %s"
        totals = []  # PostgreSQL without may_empty: the WorkspaceDay difference, added last
        for start in range(0, len(pairs), MAX_PAIRS):
            chunk = pairs[start : start + MAX_PAIRS]
            cte, cte_params = pairs_cte(chunk)
            union_sql, params = _source_selects(pairs_rows(workspace_id, chunk))
            if not may_empty and connection.vendor == "postgresql":
                cursor.execute(cte + _upsert_days_returning_totals_sql(union_sql), [*cte_params, workspace_id, *params])
                totals += cursor.fetchall()
                continue
            # The learners' totals lose these days as they were and gain them as they are now.
            cursor.execute(cte + _add_totals_sql(pair_days, -1, per_row=True), [*cte_params, workspace_id])
            if may_empty:
                cursor.execute(
                    f"{cte}DELETE FROM {ld} WHERE workspace_id = %s "
                    f"AND EXISTS (SELECT 1 FROM pairs p WHERE p.user_id = {ld}.user_id AND p.day = {ld}.day)",
                    [*cte_params, workspace_id],
                )
            cursor.execute(cte + _insert_days_sql(union_sql, upsert=True), [*cte_params, *params])
            cursor.execute(cte + _add_totals_sql(pair_days, per_row=True), [*cte_params, workspace_id])
        for start in range(0, len(users), MAX_PARAMS):
            chunk_users = users[start : start + MAX_PARAMS]
            marks = ", ".join(["%s"] * len(chunk_users))
            # The WorkspaceDay difference of the upserts above: in the last statement.
            totals_sql, totals_params = (
                ("", []) if start + MAX_PARAMS < len(users) else _add_to_workspace_days_cte(totals)
            )
            if may_empty:
                cursor.execute(
                    f"DELETE FROM {la} WHERE workspace_id = %s AND user_id IN ({marks}) "
                    f"AND NOT EXISTS (SELECT 1 FROM {ld} d WHERE d.workspace_id = {la}.workspace_id "
                    f"AND d.user_id = {la}.user_id)",
                    [workspace_id, *chunk_users],
                )
            cursor.execute(
                totals_sql + _insert_spans_sql(f"workspace_id = %s AND user_id IN ({marks})", upsert=True),
                [*totals_params, workspace_id, *chunk_users],
            )


def rebuild_learner_activity(workspace=None, since=None):
    """Recompute every LearnerDay and LearnerActivity row (of one workspace, or all) from the raw
    tables: one INSERT ... SELECT per rollup. Returns (learner-days, learners) written.

    since (one workspace's history horizon, a UTC midnight: its raw rows before it were pruned):
    LearnerDay rows before it are kept, the later ones recomputed from the raw rows, and
    LearnerActivity and WorkspaceDay recomputed from all the LearnerDay rows."""
    workspace_id = getattr(workspace, "pk", workspace)
    if since is not None and workspace_id is None:
        raise ValueError("A history horizon is one workspace's")
    scope, params = ("workspace_id = %s", [workspace_id]) if workspace_id is not None else ("1 = 1", [])
    since_day = since.astimezone(UTC).date() if since is not None else None
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Writes refreshing rows meanwhile would collide with the INSERT (or be lost under the
            # DELETE): they wait for the rebuild; readers do not.
            cursor.execute(
                f"LOCK TABLE {quoted_table(LearnerDay)}, {quoted_table(LearnerActivity)}, {quoted_table(WorkspaceDay)} IN EXCLUSIVE MODE"
            )
        if connection.vendor == "postgresql" and workspace_id is None:
            # TRUNCATE refuses a table with deferred foreign-key checks pending in the transaction
            # (rows written earlier in it, as in a test or a caller's atomic block): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f"TRUNCATE {quoted_table(LearnerActivity)}, {quoted_table(LearnerDay)}, {quoted_table(WorkspaceDay)}"
            )
        else:
            for model in (LearnerActivity, LearnerDay, WorkspaceDay):
                if model is LearnerDay and since_day is not None:
                    cursor.execute(
                        f"DELETE FROM {quoted_table(model)} WHERE {scope} AND day >= %s",
                        [*params, connection.ops.adapt_datefield_value(since_day)],
                    )
                else:
                    cursor.execute(f"DELETE FROM {quoted_table(model)} WHERE {scope}", params)
        if connection.vendor == "postgresql":
            # Enough memory to group every row in one hash table instead of spilling to disk.
            cursor.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
        if since is None:
            source = _whole_tables(scope, params)
        else:  # the raw rows from the horizon on (older ones, back-dated since, are not counted)
            since_params = [*params, connection.ops.adapt_datetimefield_value(since)]

            def source(table, column):
                return (f"FROM {table} t WHERE {scope} AND t.{column} >= %s", since_params, utc_day(f"t.{column}"))

        union_sql, union_params = _source_selects(source)
        # Rows of a day together on disk (as writes append them): a window reads few pages.
        cursor.execute(_insert_days_sql(union_sql) + " ORDER BY workspace_id, day, user_id", union_params)
        days = cursor.rowcount
        cursor.execute(_insert_spans_sql(scope), params)
        learners = cursor.rowcount
        days_scope = "d.workspace_id = %s" if workspace_id is not None else "1 = 1"
        cursor.execute(_add_totals_sql(f"FROM {quoted_table(LearnerDay)} d WHERE {days_scope}", rebuild=True), params)
        if connection.vendor == "postgresql":
            for model in (LearnerDay, LearnerActivity, WorkspaceDay):
                cursor.execute(f"ANALYZE {quoted_table(model)}")
    return days, learners


def is_empty(workspace=None):
    rows = LearnerDay.objects.all()
    if workspace is not None:
        rows = rows.filter(workspace=workspace)
    return not rows.exists()


def forget_user(sender, instance, **kwargs):
    """Before a user is deleted: take their days out of every workspace's totals and delete their
    rollup rows (LearnerDay has no foreign keys; the cascade would order it unpredictably)."""
    ld, la = quoted_table(LearnerDay), quoted_table(LearnerActivity)
    workspace_ids = LearnerActivity.objects.filter(user=instance).values_list("workspace_id", flat=True)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, [instance.pk])
        for workspace_id in sorted(workspace_ids):
            _sync_roles(cursor, workspace_id, [instance.pk])
            days_sql = f"FROM {ld} d WHERE d.workspace_id = %s AND d.user_id = %s"
            cursor.execute(_add_totals_sql(days_sql, -1), [workspace_id, instance.pk])
        cursor.execute(f"DELETE FROM {ld} WHERE user_id = %s", [instance.pk])
        cursor.execute(f"DELETE FROM {la} WHERE user_id = %s", [instance.pk])


def forget_learner_days(workspace_id, user_id):
    """A learner's erasure from one workspace: take their remaining days out of the workspace's
    totals and delete their LearnerDay and LearnerActivity rows there. Refreshes from raw rows
    cannot do it for days whose raw rows retention already pruned (analytics.services.retention):
    those days live only in the rollups. Returns the learner-days removed."""
    ld, la = quoted_table(LearnerDay), quoted_table(LearnerActivity)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, [user_id])
        _sync_roles(cursor, workspace_id, [user_id])
        days_sql = f"FROM {ld} d WHERE d.workspace_id = %s AND d.user_id = %s"
        cursor.execute(_add_totals_sql(days_sql, -1), [workspace_id, user_id])
        cursor.execute(f"DELETE FROM {ld} WHERE workspace_id = %s AND user_id = %s", [workspace_id, user_id])
        days = cursor.rowcount
        cursor.execute(f"DELETE FROM {la} WHERE workspace_id = %s AND user_id = %s", [workspace_id, user_id])
    return days


__all__ = [
    "activity_pairs",
    "date_plus",
    "forget_learner_days",
    "forget_user",
    "is_empty",
    "rebuild_learner_activity",
    "refresh_learner_days",
    "refreshed_together",
    "sync_learner_roles",
]
