"""The daily video reaction counts (ReactionDay), kept equal to the raw reactions on every write.

A write of reactions (or a role change) recounts the UTC days it touched from the raw reactions
of those days (the (workspace, at) index), in the writing transaction: a day holds a few thousand
reactions at most, and a recount needs no old values. On PostgreSQL the recount first takes a
transaction-level advisory lock per (workspace, day), in day order: under READ COMMITTED the
recount that waited then sees the other writer's committed rows (a per-day row lock, as
WorkspaceDay's upserts take one).

`rebuild_reaction_days` recomputes the rows of one workspace (or all) in one statement.
"""

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction

from analytics.definitions import UTC, is_learner_sql
from analytics.models import ReactionDay, ReactionType, VideoReaction
from analytics.queries.sql import quoted_table
from analytics.services.learner_activity import MAX_PARAMS
from analytics.services.rollup_sql import as_utc_day, utc_day

# Advisory lock namespace (the first int4 of pg_advisory_xact_lock(int4, int4)): "RDAY".
LOCK_CLASS = 0x52444159
COUNT_COLUMNS = ("likes", "comments", "shares", "learner_likes", "learner_comments", "learner_shares")
TYPES = (ReactionType.LIKE, ReactionType.COMMENT, ReactionType.SHARE)


def _count_sql(where_sql):
    """INSERT into ReactionDay the counts per (workspace, UTC day) of the reactions `r` of
    `where_sql` (a WHERE condition); the learner test once per row (OFFSET 0 keeps it there)."""
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    day = utc_day("r.at")
    counts = [f"SUM(CASE WHEN r.type = '{kind.value}' THEN 1 ELSE 0 END)" for kind in TYPES]
    counts += [f"SUM(CASE WHEN r.type = '{kind.value}' AND r.is_learner THEN 1 ELSE 0 END)" for kind in TYPES]
    return (
        f"INSERT INTO {quoted_table(ReactionDay)} (workspace_id, day, {', '.join(COUNT_COLUMNS)}) "
        f"SELECT r.workspace_id, r.day, {', '.join(counts)} FROM ("
        f"SELECT r.workspace_id, {day} AS day, r.type, {is_learner_sql('r')} AS is_learner "
        f"FROM {quoted_table(VideoReaction)} r WHERE {where_sql}{fence}) r "
        f"GROUP BY r.workspace_id, r.day"
    )


def _day_bounds(day):
    """[day 00:00Z, next day 00:00Z) as the database compares `at` with them."""
    adapt = connection.ops.adapt_datetimefield_value
    start = datetime.combine(day, time.min, UTC)
    return [adapt(start), adapt(start + timedelta(days=1))]


def _as_date(value):
    return date.fromisoformat(value) if isinstance(value, str) else as_utc_day(value)


def _recount(cursor, workspace_id, days, *, without_user=None):
    table = quoted_table(ReactionDay)
    where = "r.workspace_id = %s AND r.at >= %s AND r.at < %s"
    extra = []
    if without_user is not None:
        where += " AND r.user_id <> %s"
        extra = [without_user]
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s || ':' || d::text)) FROM unnest(%s::date[]) AS d",
            [LOCK_CLASS, str(workspace_id), days],
        )
    for day in days:
        cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s AND day = %s", [workspace_id, day])
        cursor.execute(_count_sql(where), [workspace_id, *_day_bounds(day), *extra])


def _days_of_users(cursor, workspace_id, users):
    marks = ", ".join(["%s"] * len(users))
    cursor.execute(
        f"SELECT DISTINCT {utc_day('r.at')} FROM {quoted_table(VideoReaction)} r "
        f"WHERE r.workspace_id = %s AND r.user_id IN ({marks})",
        [workspace_id, *users],
    )
    return {_as_date(row[0]) for row in cursor.fetchall()}


def refresh_reaction_days(workspace_id, pairs=(), users=()):
    """After reactions of `pairs` ((user_id, moment)) were written, or the role of `users`
    changed: recount the days concerned from the raw reactions, in the caller's transaction.
    Queries: the users' days (when users), a lock (PostgreSQL), per day a DELETE and an INSERT."""
    days = {as_utc_day(moment) for _, moment in pairs if moment is not None}
    users = sorted({user_id for user_id in users if user_id is not None})
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(users), MAX_PARAMS):
            days |= _days_of_users(cursor, workspace_id, users[start : start + MAX_PARAMS])
        if days:
            _recount(cursor, workspace_id, sorted(days))


def rebuild_reaction_days(workspace_id=None):
    """Recompute every ReactionDay row (of one workspace, or all). Returns the rows written."""
    where, params = ("{}.workspace_id = %s", [workspace_id]) if workspace_id is not None else ("1 = 1", [])
    table = quoted_table(ReactionDay)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {table} WHERE {where.format(table)}", params)
        cursor.execute(_count_sql(where.format("r")), params)
        return cursor.rowcount


def forget_reactor(sender, instance, **kwargs):
    """Before a user is deleted: recount the days of their reactions without them (the cascade
    deleting the reactions sends no refresh for a deleted user)."""
    workspace_ids = sorted(set(VideoReaction.objects.filter(user=instance).values_list("workspace_id", flat=True)))
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for workspace_id in workspace_ids:
            days = sorted(_days_of_users(cursor, workspace_id, [instance.pk]))
            _recount(cursor, workspace_id, days, without_user=instance.pk)
