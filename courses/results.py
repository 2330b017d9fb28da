"""Maintaining the Analyse result table (courses.Result): one row per (learner, course) that has
an attempt or an enrollment, computed from Attempt and Enrollment by one SQL statement.

`refresh_results(pairs)` recomputes the rows of some (user_id, course_id) pairs: every write path
of attempts and enrollments reaches it inside its own transaction, through the rollup registry's
`results` entry (analytics.rollups: the record import, xAPI and tracking logs through
analytics.services.records.catalog, the ORM's save / delete and bulk QuerySet writes), so a
rolled-back batch leaves no result behind and a committed one leaves no stale result. `rebuild_results(workspace)` recomputes a whole workspace (or every workspace):
after a bulk load, and to backfill an existing database (`manage.py rebuild_results`).

The row of a pair is the pair's latest attempt (highest version_number) with its enrollment in
the same workspace, or, without attempt, the enrollment alone (NOT_STARTED, progress 0). Rows are
stored whether or not the enrollment has ended: the reader decides with `now` (see the model and
analytics.queries.analyse.result_rows_sql). Plain SQL: runs on PostgreSQL and SQLite.
"""

from django.db import connection, transaction

from .models import Attempt, AttemptState, Enrollment, Result, ResultTotalsState

RESULT = Result._meta.db_table
ATTEMPT = Attempt._meta.db_table
ENROLLMENT = Enrollment._meta.db_table
PAIRS_PER_STATEMENT = 500

COLUMNS = (
    "workspace_id",
    "user_id",
    "course_id",
    "attempt_public_id",
    "state",
    "progress",
    "score",
    "time_spent_s",
    "started_at",
    "completed_at",
    "certificate_issued_at",
    "expires_at",
    "attempt_expires_at",
    "enrollment_kind",
    "enrollment_ends_at",
    "activity_at",
    "attempt_activity_at",
)

# The later of last activity and completion, ignoring a NULL (GREATEST differs on SQLite).
_LATER = (
    "CASE WHEN a.last_activity_at IS NULL THEN a.completed_at WHEN a.completed_at IS NULL THEN a.last_activity_at "
    "WHEN a.completed_at > a.last_activity_at THEN a.completed_at ELSE a.last_activity_at END"
)


def _source_sql(restrict_attempts, restrict_enrollments):
    """SELECT of the result rows (COLUMNS, in order) of the attempts and enrollments matching
    the two conditions (SQL over aliases `a` and `e`)."""
    return (
        "SELECT a.workspace_id, a.user_id, a.course_id, a.public_id, a.state, a.progress, a.score, a.time_spent_s, "
        "a.first_activity_at, a.completed_at, a.certificate_issued_at, COALESCE(e.expires_at, a.expires_at), "
        "a.expires_at, e.kind, e.unenrolled_at, "
        f"COALESCE({_LATER}, a.first_activity_at, e.enrolled_at, a.created_at), "
        f"COALESCE({_LATER}, a.first_activity_at, a.created_at) "
        f"FROM {ATTEMPT} a LEFT JOIN {ENROLLMENT} e "
        "ON e.user_id = a.user_id AND e.course_id = a.course_id AND e.workspace_id = a.workspace_id "
        f"WHERE {restrict_attempts} AND NOT EXISTS (SELECT 1 FROM {ATTEMPT} n WHERE n.user_id = a.user_id "
        "AND n.course_id = a.course_id AND n.version_number > a.version_number) "
        f"UNION ALL SELECT e.workspace_id, e.user_id, e.course_id, NULL, '{AttemptState.NOT_STARTED.value}', 0, NULL, "
        "0, NULL, NULL, NULL, e.expires_at, NULL, e.kind, e.unenrolled_at, e.enrolled_at, NULL "
        f"FROM {ENROLLMENT} e WHERE {restrict_enrollments} AND NOT EXISTS (SELECT 1 FROM {ATTEMPT} n "
        "WHERE n.user_id = e.user_id AND n.course_id = e.course_id)"
    )


def _insert_sql(restrict_attempts, restrict_enrollments, ordered=False):
    """INSERT ... SELECT of the result rows; `ordered` stores them by learner then course, so a
    learner's rows share pages (a full rebuild)."""
    source = _source_sql(restrict_attempts, restrict_enrollments)
    if ordered:
        source = f"SELECT * FROM ({source}) AS source ORDER BY 2, 3"
    return f"INSERT INTO {RESULT} ({', '.join(COLUMNS)}) {source}"


def refresh_results(pairs):
    """Recompute the Result rows of `pairs` ((user_id, course_id) tuples) from their attempts and
    enrollments: a pair with neither loses its row. Two statements per 500 pairs (DELETE, then
    INSERT ... SELECT), in the caller's transaction (or one of its own)."""
    pairs = sorted({(int(user_id), int(course_id)) for user_id, course_id in pairs})
    if not pairs:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(0, len(pairs), PAIRS_PER_STATEMENT):
            chunk = pairs[first : first + PAIRS_PER_STATEMENT]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            params = [value for pair in chunk for value in pair]
            cursor.execute(f"DELETE FROM {RESULT} WHERE (user_id, course_id) IN (VALUES {values})", params)
            cursor.execute(
                _insert_sql(
                    f"(a.user_id, a.course_id) IN (VALUES {values})", f"(e.user_id, e.course_id) IN (VALUES {values})"
                ),
                params + params,
            )


def rebuild_results(workspace=None):
    """Recompute every Result row of `workspace` (a Workspace or its pk; None: all workspaces) in
    one DELETE and one INSERT ... SELECT; returns the number of rows.

    On PostgreSQL, when no other workspace has rows the table is emptied, its indexes are lifted
    for the load and built once after (bulk_write.CopyWriter.bulk_load_mode: an order of
    magnitude faster than maintaining six indexes row by row), and its statistics are refreshed
    (ANALYZE), so the planner knows the new rows."""
    workspace_id = getattr(workspace, "pk", workspace)
    is_postgresql = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        if workspace_id is None:
            cursor.execute(f"TRUNCATE {RESULT}" if is_postgresql else f"DELETE FROM {RESULT}")
            insert_sql, params = _insert_sql("1 = 1", "1 = 1", ordered=True), []
        else:
            cursor.execute(f"DELETE FROM {RESULT} WHERE workspace_id = %s", [workspace_id])
            insert_sql, params = (
                _insert_sql("a.workspace_id = %s", "e.workspace_id = %s", ordered=True),
                [workspace_id, workspace_id],
            )
        if is_postgresql:
            from courses.services.bulk_write import CopyWriter

            with CopyWriter(connection).bulk_load_mode([Result]):
                cursor.execute(insert_sql, params)
                count = cursor.rowcount
            cursor.execute(f"ANALYZE {RESULT}")
        else:
            cursor.execute(insert_sql, params)
            count = cursor.rowcount
        # The statistics' totals (ResultTotal) are sums of these rows: stale until rebuilt
        # (analytics.services.result_totals, within a minute), readers count the rows meanwhile.
        stale_totals = ResultTotalsState.objects.all()
        if workspace_id is not None:
            stale_totals = stale_totals.filter(workspace_id=workspace_id)
        stale_totals.update(day=None)
    return count
