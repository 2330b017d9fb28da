"""SQL pieces shared by the rollups refreshed on write (learner_activity, video_days,
reaction_days): UTC days, the (user, day) pairs a write touched, upserts, and the per-user
advisory locks the learner-day and video-day refreshes share."""

from datetime import datetime, time, timedelta

from django.db import connection

from analytics.definitions import UTC
from analytics.queries.sql import db_datetime

# Advisory lock namespace (the first int4 of pg_advisory_xact_lock(int4, int4)): "LDAY".
LOCK_CLASS = 0x4C444159


def utc_day(column):
    """SQL: the UTC date of the timestamp `column`."""
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"  # SQLite: Django stores UTC text


def as_utc_day(moment):
    """The UTC date of a datetime (a date is returned as it is)."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date()
    return moment


def lock_users(cursor, user_ids):
    """PostgreSQL: take the transaction-level advisory lock of each user's learner days, in user
    id order (the learner-day and video-day refreshes of one user wait for each other)."""
    if connection.vendor == "postgresql" and user_ids:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, u) FROM unnest(%s::integer[]) AS u",
            [LOCK_CLASS, sorted(user_ids)],
        )


def pairs_cte(pairs):
    """SQL `WITH pairs(user_id, day) AS (...)` of [(user_id, date)], and its parameters: one
    parameter per column on PostgreSQL (arrays), one per value on SQLite."""
    if connection.vendor == "postgresql":
        users, days = zip(*pairs)
        cte = "WITH pairs(user_id, day) AS (SELECT * FROM unnest(%s::integer[], %s::date[])) "
        return cte, [list(users), list(days)]
    values = ", ".join(["(%s, %s)"] * len(pairs))
    adapt = connection.ops.adapt_datefield_value
    return f"WITH pairs(user_id, day) AS (VALUES {values}) ", [v for user, day in pairs for v in (user, adapt(day))]


def pairs_rows(workspace_id, pairs):
    """A `source(table, time column)` giving (FROM ... WHERE SQL, params, day expression): the raw
    rows of the `pairs` CTE's (user, UTC day), found by the raw tables' (workspace, user, time)
    indexes whatever the number of days and users. `pairs` are the CTE's [(user_id, date)]:
    their first and last day bound the rows by constants too, so that PostgreSQL plans only the
    monthly partitions they fall in (planning every partition cost more than running it)."""
    days = [day for _, day in pairs]
    first = db_datetime(datetime.combine(min(days), time(), UTC))
    after_last = db_datetime(datetime.combine(max(days) + timedelta(days=1), time(), UTC))

    def source(table, column):
        if connection.vendor == "postgresql":
            start, end = "(p.day::timestamp AT TIME ZONE 'UTC')", "((p.day + 1)::timestamp AT TIME ZONE 'UTC')"
        else:  # SQLite compares Django's UTC datetime text with the day's text
            start, end = "p.day", "date(p.day, '+1 day')"
        join = (
            f"FROM pairs p JOIN {table} t ON t.workspace_id = %s AND t.user_id = p.user_id "
            f"AND t.{column} >= {start} AND t.{column} < {end} WHERE t.{column} >= %s AND t.{column} < %s"
        )
        return join, [workspace_id, first, after_last], "p.day"

    return source


def on_conflict(keys, columns, *, add_to=None):
    """ON CONFLICT clause setting `columns` to the new row's values, or (add_to: the table)
    adding them to the stored ones."""
    if add_to is None:
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
    else:
        updates = ", ".join(f"{name} = {add_to}.{name} + excluded.{name}" for name in columns)
    return f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
