"""The per-video daily view totals (VideoDay), kept equal to the raw video views on every write.

Every write of video views refreshes the (user, UTC day) pairs it touched, in its own
transaction (analytics.rollups.changes.rows_changed reaches `refresh_video_days` through the
registry's `video_days` entry, after `learner_activity`, whose per-user advisory locks it
shares): each video-day of VideoDay moves by the pairs' VideoViewerDay rows recomputed from the
raw views minus the rows stored (one statement, no write where nothing changed), then the pairs'
VideoViewerDay rows are replaced by the recomputed ones. Like
WorkspaceDay, VideoDay is kept by difference, so a row of zeros is the same as no row; unlike it,
every user's views count (the summary counts every user's views).

`rebuild_video_days` recomputes both tables (one workspace or all) with one statement each.
"""

from django.db import connection, transaction

from analytics.models import VideoDay, VideoView, VideoViewerDay
from analytics.queries.sql import quoted_table
from analytics.services.learner_activity import MAX_PAIRS
from analytics.services.rollup_sql import as_utc_day, lock_users, on_conflict, pairs_cte, pairs_rows, utc_day
from analytics.services.video_windows import add_to_windows_sql, rebuild_video_windows, video_windows_built

SUM_COLUMNS = ("views", "watch_seconds", "completed_views")


def _viewer_days_sql(rows_sql, day_sql):
    """SELECT of VideoViewerDay rows from the raw views `t` of `rows_sql` (FROM ... WHERE)."""
    return (
        f"SELECT t.workspace_id AS workspace_id, t.user_id AS user_id, {day_sql} AS day, t.video_id AS video_id, "
        f"CAST(COUNT(*) AS INTEGER) AS views, CAST(COALESCE(SUM(t.watched_s), 0) AS INTEGER) AS watch_seconds, "
        f"CAST(SUM(CASE WHEN t.is_completed THEN 1 ELSE 0 END) AS INTEGER) AS completed_views {rows_sql} "
        f"GROUP BY t.workspace_id, t.user_id, {day_sql}, t.video_id"
    )


def _insert_viewer_days_sql(select_sql):
    columns = ", ".join(SUM_COLUMNS)
    return f"INSERT INTO {quoted_table(VideoViewerDay)} (workspace_id, user_id, day, video_id, {columns}) {select_sql}"


def _add_video_days_sql(viewer_days_sql, sign=1, *, rebuild=False):
    """INSERT into VideoDay `sign` x the sums per (workspace, day, video) of the VideoViewerDay rows
    `v` that `viewer_days_sql` (FROM ... WHERE) selects, added to the rows there (rebuild: into an
    empty table). In key order: two writers adding to the same video-days lock them in one order."""
    sums = ", ".join(f"CAST({sign} * SUM(v.{name}) AS INTEGER)" for name in SUM_COLUMNS)
    sql = (
        f"INSERT INTO {quoted_table(VideoDay)} (workspace_id, day, video_id, {', '.join(SUM_COLUMNS)}) "
        f"SELECT v.workspace_id, v.day, v.video_id, {sums} {viewer_days_sql} "
        f"GROUP BY v.workspace_id, v.day, v.video_id ORDER BY v.workspace_id, v.day, v.video_id"
    )
    if rebuild:
        return sql
    return sql + on_conflict(("workspace_id", "day", "video_id"), SUM_COLUMNS, add_to=quoted_table(VideoDay))


def _changes_sql(stored_sql, fresh_sql):
    """SELECT of the differences (workspace_id, day, video_id and the sums): the fresh
    VideoViewerDay values (the SELECT `fresh_sql`) and minus the stored ones (the rows `v` of
    `stored_sql`, FROM ... WHERE), one row each."""
    stored = ", ".join(f"-v.{name} AS {name}" for name in SUM_COLUMNS)
    columns = ", ".join(SUM_COLUMNS)
    return (
        f"SELECT v.workspace_id AS workspace_id, v.day AS day, v.video_id AS video_id, {stored} {stored_sql} "
        f"UNION ALL SELECT workspace_id, day, video_id, {columns} FROM ({fresh_sql}) AS fresh"
    )


def _move_video_days_sql(stored_sql, fresh_sql):
    """INSERT into VideoDay, per (workspace, day, video), the fresh VideoViewerDay values (the
    SELECT `fresh_sql`) minus the stored ones (the rows `v` of `stored_sql`, FROM ... WHERE), added
    to the rows there. One write per video-day that changed, none for one that did not (a
    re-sent view); in key order, so two writers lock shared video-days in one order."""
    sums = ", ".join(f"CAST(SUM(c.{name}) AS INTEGER)" for name in SUM_COLUMNS)
    changed = " OR ".join(f"SUM(c.{name}) <> 0" for name in SUM_COLUMNS)
    columns = ", ".join(SUM_COLUMNS)
    return (
        f"INSERT INTO {quoted_table(VideoDay)} (workspace_id, day, video_id, {columns}) "
        f"SELECT c.workspace_id, c.day, c.video_id, {sums} FROM ({_changes_sql(stored_sql, fresh_sql)}"
        f") AS c WHERE 1 = 1 GROUP BY c.workspace_id, c.day, c.video_id HAVING {changed} "
        f"ORDER BY c.workspace_id, c.day, c.video_id"
        + on_conflict(("workspace_id", "day", "video_id"), SUM_COLUMNS, add_to=quoted_table(VideoDay))
    )


def refresh_video_days(workspace_id, pairs):
    """Recompute the VideoViewerDay rows of `pairs` ({(user_id, date or datetime)}) of the
    workspace from the raw views and move VideoDay by the difference. Call it inside the write's
    transaction, after the write. Queries: a lock (PostgreSQL only, the users' learner-day locks,
    already held when learner_activity refreshed first); whether the workspace's summary windows
    are built (analytics.services.video_windows); per 5,000 pairs four statements (VideoDay
    moved by the difference, the same difference added to the windows holding its days, the
    pairs' VideoViewerDay rows deleted and inserted again). A workspace whose windows were never
    built (its first views) has them built from VideoDay after the loop instead."""
    pairs = sorted({(user_id, as_utc_day(day)) for user_id, day in pairs if user_id is not None and day is not None})
    if not pairs:
        return
    vvd = quoted_table(VideoViewerDay)
    pair_rows = f"FROM {vvd} v JOIN pairs p ON p.user_id = v.user_id AND p.day = v.day WHERE v.workspace_id = %s"
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, sorted({user_id for user_id, _ in pairs}))
        has_windows = video_windows_built(cursor, workspace_id)
        for start in range(0, len(pairs), MAX_PAIRS):
            chunk = pairs[start : start + MAX_PAIRS]
            cte, cte_params = pairs_cte(chunk)
            rows_sql, params, day_sql = pairs_rows(workspace_id, chunk)(quoted_table(VideoView), "started_at")
            fresh_sql = _viewer_days_sql(rows_sql, day_sql)
            cursor.execute(cte + _move_video_days_sql(pair_rows, fresh_sql), [*cte_params, workspace_id, *params])
            if has_windows:
                cursor.execute(
                    cte + add_to_windows_sql(_changes_sql(pair_rows, fresh_sql)), [*cte_params, workspace_id, *params]
                )
            cursor.execute(
                f"{cte}DELETE FROM {vvd} WHERE workspace_id = %s "
                f"AND EXISTS (SELECT 1 FROM pairs p WHERE p.user_id = {vvd}.user_id AND p.day = {vvd}.day)",
                [*cte_params, workspace_id],
            )
            cursor.execute(cte + _insert_viewer_days_sql(fresh_sql), [*cte_params, *params])
        if not has_windows:
            # A workspace's first views: its windows are built whole from VideoDay, now small.
            rebuild_video_windows(workspace_id)


def rebuild_video_days(workspace_id=None, since=None):
    """Recompute every VideoViewerDay and VideoDay row (of one workspace, or all) from the raw
    views. `since` (a UTC midnight: the workspace's history horizon, whose older raw views were
    pruned) keeps the rows of the days before it and recomputes only the later ones; then the
    summary's windows for today (analytics.services.video_windows). Returns (viewer-days,
    video-days) written."""

    def where(alias, time_column):
        conditions, params = [], []
        if workspace_id is not None:
            conditions.append(f"{alias}.workspace_id = %s")
            params.append(workspace_id)
        if since is not None:
            conditions.append(f"{alias}.{time_column} >= %s")
            params.append(since if time_column == "started_at" else since.date())
        return " AND ".join(conditions) or "1 = 1", params

    vvd, vd = quoted_table(VideoViewerDay), quoted_table(VideoDay)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Writers refreshing meanwhile would add to rows the rebuild replaces: they wait.
            cursor.execute(f"LOCK TABLE {vvd}, {vd} IN EXCLUSIVE MODE")
        for table in (vvd, vd):
            condition, params = where(table, "day")
            cursor.execute(f"DELETE FROM {table} WHERE {condition}", params)
        condition, params = where("t", "started_at")
        rows_sql = f"FROM {quoted_table(VideoView)} t WHERE {condition}"
        cursor.execute(
            _insert_viewer_days_sql(_viewer_days_sql(rows_sql, utc_day("t.started_at"))) + " ORDER BY 1, 2, 3, 4",
            params,
        )
        viewer_days = cursor.rowcount
        # Rows of a day together on disk: a period's read touches few pages.
        condition, params = where("v", "day")
        cursor.execute(_add_video_days_sql(f"FROM {vvd} v WHERE {condition}", rebuild=True), params)
        video_days = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {vvd}")
            cursor.execute(f"ANALYZE {vd}")
        # The summary's windows are sums of VideoDay: built again from the rows just written.
        rebuild_video_windows(workspace_id)
    return viewer_days, video_days


def forget_viewer(sender, instance, **kwargs):
    """Before a user is deleted: take their views out of VideoDay and the summary's windows and
    delete their VideoViewerDay rows (their views go by the cascade, which sends no refresh for a deleted user)."""
    vvd = quoted_table(VideoViewerDay)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        lock_users(cursor, [instance.pk])
        cursor.execute(_add_video_days_sql(f"FROM {vvd} v WHERE v.user_id = %s", -1), [instance.pk])
        taken_out = ", ".join(f"-v.{name} AS {name}" for name in SUM_COLUMNS)
        cursor.execute(
            add_to_windows_sql(
                f"SELECT v.workspace_id, v.day, v.video_id, {taken_out} FROM {vvd} v WHERE v.user_id = %s"
            ),
            [instance.pk],
        )
        cursor.execute(f"DELETE FROM {vvd} WHERE user_id = %s", [instance.pk])
