"""Per-video totals of the summary's day periods (VideoWindow, VideoWindowTotal), kept equal to
the sums of VideoDay over each window's days on every write.

A workspace has one VideoWindow per period `Nd` of the summary (N in WINDOW_DAYS): the days
[last_day - N + 1, last_day], last_day being the UTC day the windows were built for. Its
VideoWindowTotal rows hold, per video, the sums of the VideoDay rows of those days. The summary
reads them (top videos: the first rows of an index) when the period's days are exactly the
window's, that is on the day they were built for; on another day (after midnight, until the
beat task `refresh_stale_video_windows` rebuilds them, every minute) it sums VideoDay as before.

Kept by difference, in the writing transaction: `refresh_video_days` (analytics.services.
video_days) moves each video-day of VideoDay by a difference, and adds the same differences to
the windows that hold that day (`add_to_windows_sql`, one statement); `forget_viewer` takes a
deleted user's rows out of both. A day outside every window changes nothing here. A workspace's
first views build its windows whole (for today) in their transaction, as a rebuild.

Concurrency (PostgreSQL): a rebuild locks both tables EXCLUSIVE before it reads VideoDay, and a
writer's statement adding to the totals takes ROW EXCLUSIVE on them, so either the writer
committed before the rebuild read VideoDay (its rows are in the rebuild's sums, which replace the
totals), or its statement runs after the rebuild committed and reads the new windows (its
VideoDay difference, uncommitted when the rebuild read, is added by its own statement). The lock
is held for one workspace's rebuild (a sum of its last 90 days of VideoDay), once a day.
"""

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Workspace
from analytics.definitions import DAY_PERIODS, UTC
from analytics.models import VideoDay, VideoWindow, VideoWindowTotal
from analytics.queries.sql import quoted_table

WINDOW_DAYS = tuple(sorted(DAY_PERIODS.values()))  # 1, 7, 30, 90: the summary's periods Nd
SUM_COLUMNS = ("views", "watch_seconds", "completed_views")


def today():
    """The current UTC date."""
    return timezone.now().astimezone(UTC).date()


def window_days(period):
    """(N, first day, last day) of a whole-day period of N days when N is a window's, else None."""
    first_day, end_day = period.start.astimezone(UTC).date(), period.end.astimezone(UTC).date()
    days = (end_day - first_day).days
    if days not in WINDOW_DAYS:
        return None
    return days, first_day, end_day - timedelta(days=1)


def add_to_windows_sql(changes_sql):
    """INSERT into VideoWindowTotal the rows `changes_sql` selects (workspace_id, day, video_id,
    views, watch_seconds, completed_views: differences of video-days), summed per window holding
    their day and video, added to the rows there; nothing for a window whose sums do not move. In
    key order, so two writers lock shared rows in one order."""
    totals, windows = quoted_table(VideoWindowTotal), quoted_table(VideoWindow)
    sums = ", ".join(f"SUM(c.{name})" for name in SUM_COLUMNS)
    changed = " OR ".join(f"SUM(c.{name}) <> 0" for name in SUM_COLUMNS)
    updates = ", ".join(f"{name} = {totals}.{name} + excluded.{name}" for name in SUM_COLUMNS)
    return (
        f"INSERT INTO {totals} (workspace_id, window_days, video_id, {', '.join(SUM_COLUMNS)}) "
        f"SELECT c.workspace_id, w.window_days, c.video_id, {sums} FROM ({changes_sql}) AS c "
        f"JOIN {windows} w ON w.workspace_id = c.workspace_id AND c.day >= w.first_day AND c.day <= w.last_day "
        f"WHERE 1 = 1 GROUP BY c.workspace_id, w.window_days, c.video_id HAVING {changed} "
        f"ORDER BY c.workspace_id, w.window_days, c.video_id "
        f"ON CONFLICT (workspace_id, window_days, video_id) DO UPDATE SET {updates}"
    )


def video_windows_built(cursor, workspace_id):
    """Whether the workspace has windows (for whatever day): one indexed probe."""
    cursor.execute(f"SELECT 1 FROM {quoted_table(VideoWindow)} WHERE workspace_id = %s LIMIT 1", [workspace_id])
    return cursor.fetchone() is not None


def rebuild_video_windows(workspace_id=None, day=None):
    """Recompute the windows and their totals of one workspace (None: every workspace) for the
    UTC day `day` (default: today) from VideoDay; a workspace without video-days gets none.
    Returns the number of totals written."""
    day = day or today()
    totals, windows, video_day = quoted_table(VideoWindowTotal), quoted_table(VideoWindow), quoted_table(VideoDay)
    only = "" if workspace_id is None else " WHERE workspace_id = %s"
    only_params = [] if workspace_id is None else [workspace_id]
    adapt = connection.ops.adapt_datefield_value
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Writers adding to the totals meanwhile wait (see the module's docstring).
            cursor.execute(f"LOCK TABLE {windows}, {totals} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {totals}{only}", only_params)
        cursor.execute(f"DELETE FROM {windows}{only}", only_params)
        spans = " UNION ALL ".join("SELECT %s AS window_days, %s AS first_day, %s AS last_day" for _ in WINDOW_DAYS)
        span_params = [v for n in WINDOW_DAYS for v in (n, adapt(day - timedelta(days=n - 1)), adapt(day))]
        workspace_filter = "" if workspace_id is None else " AND ws.id = %s"
        cursor.execute(
            f"INSERT INTO {windows} (workspace_id, window_days, first_day, last_day) "
            f"SELECT ws.id, s.window_days, s.first_day, s.last_day FROM {quoted_table(Workspace)} ws "
            f"CROSS JOIN ({spans}) AS s "
            f"WHERE EXISTS (SELECT 1 FROM {video_day} d WHERE d.workspace_id = ws.id){workspace_filter}",
            [*span_params, *only_params],
        )
        sums = ", ".join(f"SUM(d.{name})" for name in SUM_COLUMNS)
        nonzero = " OR ".join(f"SUM(d.{name}) <> 0" for name in SUM_COLUMNS)
        day_filter = "" if workspace_id is None else " AND d.workspace_id = %s"
        cursor.execute(
            f"INSERT INTO {totals} (workspace_id, window_days, video_id, {', '.join(SUM_COLUMNS)}) "
            f"SELECT d.workspace_id, w.window_days, d.video_id, {sums} FROM {video_day} d "
            f"JOIN {windows} w ON w.workspace_id = d.workspace_id AND d.day >= w.first_day AND d.day <= w.last_day "
            f"WHERE d.day >= %s AND d.day <= %s{day_filter} "
            f"GROUP BY d.workspace_id, w.window_days, d.video_id HAVING {nonzero} "
            f"ORDER BY d.workspace_id, w.window_days, d.video_id",
            [adapt(day - timedelta(days=max(WINDOW_DAYS) - 1)), adapt(day), *only_params],
        )
        written = cursor.rowcount
        if connection.vendor == "postgresql" and workspace_id is None:
            cursor.execute(f"ANALYZE {windows}")
            cursor.execute(f"ANALYZE {totals}")
    return written


def _stale_workspaces(day, workspace_id=None):
    """The workspaces (one or all) with video-days whose windows were not built for `day`."""
    workspaces = Workspace.objects.all() if workspace_id is None else Workspace.objects.filter(pk=workspace_id)
    return workspaces.filter(
        Exists(VideoDay.objects.filter(workspace_id=OuterRef("pk"))),
        ~Exists(VideoWindow.objects.filter(workspace_id=OuterRef("pk"), last_day=day)),
    )


def video_windows_stale(workspace_id=None):
    """True when the summary sums VideoDay instead: the workspace (None: some workspace) has
    video-days and no windows built for today."""
    return _stale_workspaces(today(), workspace_id).exists()


def refresh_stale_video_windows(day=None):
    """Rebuild, for `day` (default: today), the windows of every workspace with video-days whose
    windows were built for another day or never; each in its own transaction. Returns how many it
    rebuilt."""
    day = day or today()
    stale = list(_stale_workspaces(day).order_by("pk").values_list("pk", flat=True))
    for workspace_id in stale:
        with transaction.atomic():
            rebuild_video_windows(workspace_id, day)
    return len(stale)
