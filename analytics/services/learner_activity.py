"""The per-learner activity rollups (LearnerDay, LearnerActivity), kept equal to the raw rows.

Every write of page sessions, learning events or video views calls `refresh_learner_days` with
the (user, UTC day) pairs it touched, in its own transaction: the rows of those pairs are deleted
and computed again from the raw tables (one DELETE and one INSERT ... SELECT grouped over the
three tables), then the LearnerActivity row of each of those users is computed again from their
LearnerDay rows. Recomputing rather than adding deltas keeps re-sends, heartbeats (a page
session's duration grows) and moved start times right without knowing the old values.

On PostgreSQL a refresh first takes a transaction-level advisory lock per user (in user id
order): two transactions refreshing the same learner would otherwise each recompute from their
own snapshot and the later write would drop the other's rows. SQLite serialises writers itself.

`rebuild_learner_activity` recomputes everything (or one workspace) with one statement per
table: the backfill of an existing database and the end of a bulk load.
"""

from collections import defaultdict
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.db import connection, transaction

from analytics.models import LearnerActivity, LearnerDay, LearningEvent, PageSession, VideoView

UTC = dt_timezone.utc
FORUM_POST_EVENT = "posted_forum"
RETENTION_DAYS = (1, 7, 30)
# Advisory lock namespace (the first int4 of pg_advisory_xact_lock(int4, int4)): "LDAY".
LOCK_CLASS = 0x4C444159
REBUILD_WORK_MEM = "256MB"
# Bound on the parameters of one statement (SQLite allows 32,766).
MAX_PARAMS = 5000

# The rollup's count columns, in insertion order.
COUNT_COLUMNS = (
    "page_sessions", "page_seconds", "desktop_sessions", "mobile_sessions", "tablet_sessions", "page_hours",
    "events", "forum_posts", "video_views", "watch_seconds",
)  # fmt: skip


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _utc_day(column):
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"  # SQLite: Django stores UTC text


def _utc_hour(column):
    if connection.vendor == "postgresql":
        return f"EXTRACT(HOUR FROM ({column}) AT TIME ZONE 'UTC')::integer"
    return f"CAST(strftime('%%H', {column}) AS INTEGER)"  # %% : the statement has parameters


def date_plus(column, days):
    """SQL: the date `column` + `days` days."""
    if connection.vendor == "postgresql":
        return f"({column} + {int(days)})"
    return f"date({column}, '+{int(days)} days')"


def _int(expression):
    # Integers all the way: on PostgreSQL SUM(bigint) is numeric, several times slower to add up.
    return f"CAST({expression} AS INTEGER)"


def _hours_mask(hour):
    """SQL aggregate: the OR of 2^hour over the group's rows (SQLite has no BIT_OR: the sum of
    the distinct powers of two is the same number)."""
    if connection.vendor == "postgresql":
        return f"BIT_OR(1 << {hour})"
    return f"SUM(DISTINCT 1 << {hour})"


def _source_selects(where):
    """SELECTs of (workspace_id, user_id, day, *COUNT_COLUMNS) grouped per user and UTC day, one
    per raw table. `where(time column)` gives each one's (SQL, params) condition."""
    ps, ev, vv = _table(PageSession), _table(LearningEvent), _table(VideoView)
    parts, params = [], []
    page_day = _utc_day("started_at")
    sql, extra = where("started_at")
    # The first SELECT names the columns of the union.
    values = [
        _int("COUNT(*)"), _int("SUM(duration_s)"),
        *(_int(f"SUM(CASE WHEN device = '{device}' THEN 1 ELSE 0 END)") for device in ("desktop", "mobile", "tablet")),
        _int(_hours_mask(_utc_hour("started_at"))), "0", "0", "0", "0",
    ]  # fmt: skip
    named = ", ".join(f"{value} AS {name}" for value, name in zip(values, COUNT_COLUMNS))
    parts.append(
        f"SELECT workspace_id, user_id, {page_day} AS day, {named} "
        f"FROM {ps} WHERE {sql} GROUP BY workspace_id, user_id, {page_day}"
    )
    params += extra
    event_day = _utc_day("occurred_at")
    sql, extra = where("occurred_at")
    parts.append(
        f"SELECT workspace_id, user_id, {event_day}, 0, 0, 0, 0, 0, 0, {_int('COUNT(*)')}, "
        f"{_int('SUM(CASE WHEN type = %s THEN 1 ELSE 0 END)')}, 0, 0 "
        f"FROM {ev} WHERE {sql} GROUP BY workspace_id, user_id, {event_day}"
    )
    params += [FORUM_POST_EVENT, *extra]
    view_day = _utc_day("started_at")
    sql, extra = where("started_at")
    parts.append(
        f"SELECT workspace_id, user_id, {view_day}, 0, 0, 0, 0, 0, 0, 0, 0, {_int('COUNT(*)')}, "
        f"{_int('SUM(watched_s)')} FROM {vv} WHERE {sql} GROUP BY workspace_id, user_id, {view_day}"
    )
    params += extra
    return " UNION ALL ".join(parts), params


def _on_conflict(keys, columns):
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
    return f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


def _insert_days_sql(union_sql, upsert=False):
    # page_hours: each part has at most one row per (user, day) carrying hours, the others 0.
    # "WHERE 1 = 1": SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.
    sums = ", ".join(f"SUM({name})" for name in COUNT_COLUMNS)
    sql = (
        f"INSERT INTO {_table(LearnerDay)} (workspace_id, user_id, day, {', '.join(COUNT_COLUMNS)}) "
        f"SELECT workspace_id, user_id, day, {sums} "
        f"FROM ({union_sql}) AS activity "
        f"WHERE 1 = 1 GROUP BY workspace_id, user_id, day"
    )
    return sql + _on_conflict(("workspace_id", "user_id", "day"), COUNT_COLUMNS) if upsert else sql


SPAN_COLUMNS = ("first_day", "last_day", *(f"is_back_day{days}" for days in RETENTION_DAYS))


def _insert_spans_sql(where_sql, upsert=False):
    ld = _table(LearnerDay)
    back = ", ".join(
        f"EXISTS (SELECT 1 FROM {ld} later WHERE later.workspace_id = span.workspace_id "
        f"AND later.user_id = span.user_id AND later.day = {date_plus('span.first_day', days)})"
        for days in RETENTION_DAYS
    )
    flags = ", ".join(f"is_back_day{days}" for days in RETENTION_DAYS)
    sql = (
        f"INSERT INTO {_table(LearnerActivity)} (workspace_id, user_id, first_day, last_day, {flags}) "
        f"SELECT span.workspace_id, span.user_id, span.first_day, span.last_day, {back} FROM ("
        f"SELECT workspace_id, user_id, MIN(day) AS first_day, MAX(day) AS last_day FROM {ld} "
        f"WHERE {where_sql} GROUP BY workspace_id, user_id) AS span WHERE 1 = 1"
    )
    return sql + _on_conflict(("workspace_id", "user_id"), SPAN_COLUMNS) if upsert else sql


def _day_bounds(day):
    start = datetime.combine(day, time.min, UTC)
    adapt = connection.ops.adapt_datetimefield_value
    return adapt(start), adapt(start + timedelta(days=1))


def _as_day(moment):
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date()
    return moment


def activity_pairs(rows, user_key="user_id", time_key="started_at"):
    """{(user_id, UTC day)} of dict rows."""
    return {(row[user_key], _as_day(row[time_key])) for row in rows if row.get(time_key) is not None}


def _chunks(by_day):
    """Split {day: [user ids]} into groups of at most MAX_PARAMS user ids."""
    chunk, size = {}, 0
    for day, users in by_day.items():
        users = sorted(users)
        while users:
            room = MAX_PARAMS - size
            chunk[day], users = users[:room], users[room:]
            size += len(chunk[day])
            if size >= MAX_PARAMS:
                yield chunk
                chunk, size = {}, 0
    if chunk:
        yield chunk


def _lock_users(cursor, user_ids):
    if connection.vendor == "postgresql" and user_ids:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, u) FROM unnest(%s::integer[]) AS u",
            [LOCK_CLASS, sorted(user_ids)],
        )


def refresh_learner_days(workspace_id, pairs, *, may_empty=True):
    """Recompute the LearnerDay rows of `pairs` ({(user_id, date)}) of the workspace from the raw
    tables, and the LearnerActivity rows of their users. Call it inside the write's transaction,
    after the write (without a transaction it makes its own).

    may_empty=False: the caller only added rows or changed them within their day (new events, a
    heartbeat), so no pair can have lost all its activity: the rows are upserted without first
    deleting. Queries: a lock (PostgreSQL only); per 5,000 pairs an INSERT ... ON CONFLICT (and
    a DELETE before it when may_empty); per 5,000 users the same for LearnerActivity.
    """
    by_day = defaultdict(set)
    for user_id, day in pairs:
        if user_id is not None and day is not None:
            by_day[_as_day(day)].add(user_id)
    if not by_day:
        return
    users = sorted(set().union(*by_day.values()))
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _lock_users(cursor, users)
        for chunk in _chunks(by_day):
            if may_empty:
                day_sql, day_params = [], []
                for day, chunk_users in chunk.items():
                    day_sql.append(f"(day = %s AND user_id IN ({', '.join(['%s'] * len(chunk_users))}))")
                    day_params += [connection.ops.adapt_datefield_value(day), *chunk_users]
                cursor.execute(
                    f"DELETE FROM {_table(LearnerDay)} WHERE workspace_id = %s AND ({' OR '.join(day_sql)})",
                    [workspace_id, *day_params],
                )

            def where(time_column, chunk=chunk):
                conditions, params = [], [workspace_id]
                for day, chunk_users in chunk.items():
                    conditions.append(
                        f"({time_column} >= %s AND {time_column} < %s "
                        f"AND user_id IN ({', '.join(['%s'] * len(chunk_users))}))"
                    )
                    params += [*_day_bounds(day), *chunk_users]
                return f"workspace_id = %s AND ({' OR '.join(conditions)})", params

            union_sql, params = _source_selects(where)
            cursor.execute(_insert_days_sql(union_sql, upsert=True), params)
        ld = _table(LearnerDay)
        for start in range(0, len(users), MAX_PARAMS):
            chunk_users = users[start : start + MAX_PARAMS]
            marks = ", ".join(["%s"] * len(chunk_users))
            if may_empty:
                cursor.execute(
                    f"DELETE FROM {_table(LearnerActivity)} WHERE workspace_id = %s AND user_id IN ({marks}) "
                    f"AND NOT EXISTS (SELECT 1 FROM {ld} d WHERE d.workspace_id = {_table(LearnerActivity)}.workspace_id "
                    f"AND d.user_id = {_table(LearnerActivity)}.user_id)",
                    [workspace_id, *chunk_users],
                )
            cursor.execute(
                _insert_spans_sql(f"workspace_id = %s AND user_id IN ({marks})", upsert=True),
                [workspace_id, *chunk_users],
            )


def rebuild_learner_activity(workspace=None):
    """Recompute every LearnerDay and LearnerActivity row (of one workspace, or all) from the raw
    tables: one INSERT ... SELECT per rollup. Returns (learner-days, learners) written."""
    workspace_id = getattr(workspace, "pk", workspace)
    scope, params = ("workspace_id = %s", [workspace_id]) if workspace_id is not None else ("1 = 1", [])
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Writes refreshing rows meanwhile would collide with the INSERT (or be lost under the
            # DELETE): they wait for the rebuild; readers do not.
            cursor.execute(f"LOCK TABLE {_table(LearnerDay)}, {_table(LearnerActivity)} IN EXCLUSIVE MODE")
        if connection.vendor == "postgresql" and workspace_id is None:
            # TRUNCATE refuses a table with deferred foreign-key checks pending in the transaction
            # (rows written earlier in it, as in a test or a caller's atomic block): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {_table(LearnerActivity)}, {_table(LearnerDay)}")
        else:
            cursor.execute(f"DELETE FROM {_table(LearnerActivity)} WHERE {scope}", params)
            cursor.execute(f"DELETE FROM {_table(LearnerDay)} WHERE {scope}", params)
        if connection.vendor == "postgresql":
            # Enough memory to group every row in one hash table instead of spilling to disk.
            cursor.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
        union_sql, union_params = _source_selects(lambda column: (scope, params))
        # Rows of a day together on disk (as writes append them): a window reads few pages.
        cursor.execute(_insert_days_sql(union_sql) + " ORDER BY workspace_id, day, user_id", union_params)
        days = cursor.rowcount
        cursor.execute(_insert_spans_sql(scope), params)
        learners = cursor.rowcount
        if connection.vendor == "postgresql":
            for model in (LearnerDay, LearnerActivity):
                cursor.execute(f"ANALYZE {_table(model)}")
    return days, learners


def is_empty(workspace=None):
    rows = LearnerDay.objects.all()
    if workspace is not None:
        rows = rows.filter(workspace=workspace)
    return not rows.exists()


# ORM saves and deletes (factories, admin): bulk write paths call refresh_learner_days themselves.

SOURCES = {PageSession: "started_at", LearningEvent: "occurred_at", VideoView: "started_at"}


def _before_save(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding:
        return
    field = SOURCES[sender]
    instance._learner_day_before = (
        sender.objects.filter(pk=instance.pk).values_list("workspace_id", "user_id", field).first()
    )


def _after_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    field = SOURCES[sender]
    before = getattr(instance, "_learner_day_before", None)
    instance._learner_day_before = None
    if before is not None and before[0] != instance.workspace_id:
        refresh_learner_days(before[0], {(before[1], before[2])})
        before = None
    pairs = {(instance.user_id, getattr(instance, field))}
    if before is not None:
        pairs.add((before[1], before[2]))
    refresh_learner_days(instance.workspace_id, pairs)


def _after_delete(sender, instance, **kwargs):
    refresh_learner_days(instance.workspace_id, {(instance.user_id, getattr(instance, SOURCES[sender]))})


def connect_signals():
    from django.db.models.signals import post_delete, post_save, pre_save

    for model in SOURCES:
        uid = f"learner-activity-{model._meta.model_name}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre-save")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}-delete")


__all__ = [
    "activity_pairs", "connect_signals", "date_plus", "is_empty", "rebuild_learner_activity", "refresh_learner_days",
]
