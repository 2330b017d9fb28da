"""VideoCloud video analytics: one video's views, engagement and playback quality; the summary;
the daily video rows of the exports.

The figures of a set of video views (views started, distinct viewers, seconds watched, completed
views) are defined once, `view_figures`, and grouped by what each figure asks: per timeline
bucket of one video (video_analytics), per video and UTC day (video_daily_stats: the exports),
per video (top videos). The summary reads the same counts already summed per UTC day: its totals
from WorkspaceDay (kept with the learner-day rollup), its top videos from VideoDay (the
video_days rollup); its periods are whole UTC days.

Every number is computed in SQL: one aggregate for the period and its previous period together
(grouped by the window: fewer aggregates to build than a filtered one per window and figure),
one grouped query for the breakdowns and one for the timeline, whatever the number of views.
"""

from django.db import connection
from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import Coalesce

from analytics.queries.sql import db_datetime, quoted_table, read_cursor, utc_datetime
from analytics.definitions import resolve_period, utc_day
from analytics.models import (
    ReactionDay,
    ReactionType,
    VideoDay,
    VideoReaction,
    VideoView,
    VideoWindow,
    VideoWindowTotal,
    WorkspaceDay,
)
from analytics.services.video_windows import window_days
from courses.models import Video

from ..sql import fetch_dicts
from ..streams import merge_sorted_groups

from .periods import (
    DEVICE_KEYS,
    PLATFORM_KEYS,
    DataUnavailable,
    average,
    breakdown,
    bucket_label,
    bucket_sql,
    change,
    fill_buckets,
    ratio,
    whole_number,
)


BREAKDOWN_FIELDS = ("country", "device", "platform")


def view_figures(within=None):
    """The figures of a set of video views, as aggregates over the rows (only those matching the Q
    `within`, when given): `views` started, `unique` viewers (distinct users), `watched_sum`
    (seconds watched, None over nothing) and `completed` views."""
    completed = Q(is_completed=True) if within is None else within & Q(is_completed=True)
    return {
        "views": Count("started_at", filter=within),
        "unique": Count("user_id", distinct=True, filter=within),
        "watched_sum": Sum("watched_s", filter=within),
        "completed": Count("started_at", filter=completed),
    }


def video_period(workspace, name, now=None, *, video_key=None):
    """The Period `name` at `now` of the video figures: `all` starts on the day of the first view
    of the workspace, or of the video `video_key` (analytics.definitions.resolve_period)."""
    views = VideoView.objects.filter(workspace=workspace)
    if video_key is not None:
        views = views.filter(video__key=video_key)
    return resolve_period(name, now, earliest=lambda: views.aggregate(first=Min("started_at"))["first"])


# The figures of a window without a view: counts 0, sums and averages None (as the aggregates).
EMPTY_VIEW_TOTALS = {
    "views": 0,
    "unique": 0,
    "watched_sum": None,
    "completed": 0,
    "buffering_sum": None,
    "buffering_watched_sum": None,
    "bitrate_avg": None,
    "errors_sum": None,
    "error_views": 0,
}

# The statements of video_analytics, written once (building them through the ORM on each request
# cost most of the request): portable SQL but for the timeline's bucket (periods.bucket_sql). _VIEW_FIGURES_SQL says what
# view_figures says, the quality sums follow; every statement reads one video's views
# (workspace, video) in a window [start, end).
_VIEW_FIGURES_SQL = (
    "COUNT(*), COUNT(DISTINCT v.user_id), SUM(v.watched_s), COUNT(CASE WHEN v.is_completed THEN 1 END), "
    "SUM(v.buffering_s), SUM(CASE WHEN v.buffering_s IS NOT NULL THEN v.watched_s END), "
    "SUM(v.errors), COUNT(v.errors)"
)
_VIEW_FIGURE_NAMES = (
    "views",
    "unique",
    "watched_sum",
    "completed",
    "buffering_sum",
    "buffering_watched_sum",
    "errors_sum",
    "error_views",
)
_ONE_VIDEO_VIEWS = (
    f"FROM {VideoView._meta.db_table} v "
    "WHERE v.workspace_id = %s AND v.video_id = %s AND v.started_at >= %s AND v.started_at < %s"
)
_VIDEO_ID_SQL = f"SELECT id FROM {Video._meta.db_table} WHERE workspace_id = %s AND key = %s"
# Grouped by window: 1 for a row of the period, 0 for one of the period before it.
_VIEW_TOTALS_SQL = (
    f"SELECT CASE WHEN v.started_at >= %s THEN 1 ELSE 0 END, {_VIEW_FIGURES_SQL}, AVG(v.bitrate_kbps) "
    f"{_ONE_VIDEO_VIEWS} GROUP BY 1"
)
_BREAKDOWNS_SQL = (
    f"SELECT {', '.join(f'v.{name}' for name in BREAKDOWN_FIELDS)}, COUNT(*) {_ONE_VIDEO_VIEWS} GROUP BY 1, 2, 3"
)
_REACTIONS_SQL = (
    f"SELECT CASE WHEN r.at >= %s THEN 1 ELSE 0 END, r.type, COUNT(*) FROM {VideoReaction._meta.db_table} r "
    "WHERE r.workspace_id = %s AND r.video_id = %s AND r.at >= %s AND r.at < %s GROUP BY 1, 2"
)
_TIMELINE_SQL = {}


def _timeline_sql(unit):
    """(sql, bucket params) of _timeline for this database and unit (hour, day, week)."""
    key = (connection.vendor, unit)
    if key not in _TIMELINE_SQL:
        bucket, params = bucket_sql(unit, "v.started_at")
        _TIMELINE_SQL[key] = (f"SELECT {bucket}, {_VIEW_FIGURES_SQL} {_ONE_VIDEO_VIEWS} GROUP BY 1 ORDER BY 1", params)
    return _TIMELINE_SQL[key]


def _view_totals(cursor, video, period, previous):
    """Totals of views in the period and (`prev_` names) in the previous period, in one statement
    grouped by the window: a row of the group for each window that has views. `video`:
    (workspace id, video id)."""
    cursor.execute(
        _VIEW_TOTALS_SQL, [db_datetime(period.start), *video, db_datetime(previous.start), db_datetime(period.end)]
    )
    found = {
        bool(in_period): {**dict(zip(_VIEW_FIGURE_NAMES, figures)), "bitrate_avg": bitrate_avg}
        for in_period, *figures, bitrate_avg in cursor.fetchall()
    }
    totals = {}
    for prefix, in_period in (("", True), ("prev_", False)):
        totals.update({f"{prefix}{name}": value for name, value in found.get(in_period, EMPTY_VIEW_TOTALS).items()})
    return totals


def _breakdowns(cursor, video, period):
    """{"country" | "device" | "platform": {value: views}} in the period, from one statement grouped
    by the three fields together (few rows: each field has few values), summed per field here."""
    cursor.execute(_BREAKDOWNS_SQL, [*video, db_datetime(period.start), db_datetime(period.end)])
    counts = {name: {} for name in BREAKDOWN_FIELDS}
    for *values, n in cursor.fetchall():
        for name, value in zip(BREAKDOWN_FIELDS, values):
            counts[name][value] = counts[name].get(value, 0) + n
    return counts


def _format_bitrate(kbps):
    """`2500k` (whole kbps, half up); `0k` when no view reported a bitrate."""
    return f"{whole_number(kbps)}k"


def _quality(totals, prefix=""):
    return {
        "buffering_rate": ratio(totals[f"{prefix}buffering_sum"], totals[f"{prefix}buffering_watched_sum"]),
        "average_bitrate": _format_bitrate(totals[f"{prefix}bitrate_avg"]),
        "error_rate": ratio(totals[f"{prefix}errors_sum"], totals[f"{prefix}error_views"]),
    }


def _engagement_figures(totals, reactions, prefix=""):
    views = totals[f"{prefix}views"]
    return {
        "average_watch_time": average(totals[f"{prefix}watched_sum"], views),
        "completion_rate": ratio(totals[f"{prefix}completed"], views),
        "likes": reactions[f"{prefix}likes"],
        "comments": reactions[f"{prefix}comments"],
        "shares": reactions[f"{prefix}shares"],
    }


REACTION_NAMES = {ReactionType.LIKE: "likes", ReactionType.COMMENT: "comments", ReactionType.SHARE: "shares"}


def _reaction_counts(cursor, video, period, previous):
    """{likes, comments, shares} made in the period and (`prev_` names) in the previous period,
    in one statement grouped by window and type."""
    counts = {f"{prefix}{name}": 0 for prefix in ("", "prev_") for name in REACTION_NAMES.values()}
    cursor.execute(
        _REACTIONS_SQL, [db_datetime(period.start), *video, db_datetime(previous.start), db_datetime(period.end)]
    )
    for in_period, kind, n in cursor.fetchall():
        if kind in REACTION_NAMES:
            counts[f"{'' if in_period else 'prev_'}{REACTION_NAMES[kind]}"] = n
    return counts


def _timeline(cursor, video, period, group_by):
    """[(bucket start, {views, unique, watched_sum, completed, buffering..., errors...})] for every
    bucket of the period, zeros where nothing happened."""
    sql, bucket_params = _timeline_sql(group_by)
    cursor.execute(sql, [*bucket_params, *video, db_datetime(period.start), db_datetime(period.end)])
    rows = {utc_datetime(bucket): dict(zip(_VIEW_FIGURE_NAMES, figures)) for bucket, *figures in cursor.fetchall()}
    empty = dict(
        views=0,
        unique=0,
        watched_sum=0,
        completed=0,
        buffering_sum=None,
        buffering_watched_sum=None,
        errors_sum=None,
        error_views=0,
    )
    return fill_buckets(period, group_by, rows, lambda: dict(empty))


def video_analytics(
    workspace, video_key, period, *, sections=("views", "engagement", "performance"), group_by="day", compare=False
):
    """One video's analytics (video named by its key in the workspace) for the period.

    views: total views started in the period, unique learners, change against the previous
    period, views by country / device / platform ("unknown" where the view did not say) and a
    timeline. engagement: mean seconds watched per view, completed views / views, reactions
    (likes, comments, shares) made in the period, and a timeline of seconds watched and
    completion rate. performance, from the views that reported player quality: buffering seconds /
    seconds watched, mean bitrate ("2500k"), errors / views; 0 ("0k") where no view reported them.
    Averages are whole numbers (half up), rates 0 over nothing; breakdowns carry the document's
    keys (periods.breakdown). `period` always holds the previous period; the `previous` blocks
    only with `compare`.
    `period`: see video_period (`all` starts on the day of the video's first view). Raises
    DataUnavailable for an unknown key.
    """
    workspace_id = getattr(workspace, "pk", workspace)
    with read_cursor() as cursor:
        cursor.execute(_VIDEO_ID_SQL, [workspace_id, video_key])
        found = cursor.fetchone()
        if found is None:
            raise DataUnavailable(f"No video {video_key!r} in this workspace.")
        return _video_analytics(cursor, (workspace_id, found[0]), period, sections, group_by, compare)


def _video_analytics(cursor, video, period, sections, group_by, compare):
    previous = period.previous
    totals = _view_totals(cursor, video, period, previous)
    timeline = _timeline(cursor, video, period, group_by)
    result = {
        "period": {"start": period.start, "end": period.end, "previous": {"start": previous.start, "end": previous.end}}
    }

    if "views" in sections:
        # periods.breakdown: the documented keys always, then other values most viewed first,
        # "unknown" for views without the value when there are some.
        counts = _breakdowns(cursor, video, period)
        result["views"] = {
            "total": totals["views"],
            "unique": totals["unique"],
            "change": change(totals["views"], totals["prev_views"]),
            "by_country": breakdown(counts["country"]),
            "by_device": breakdown(counts["device"], DEVICE_KEYS),
            "by_platform": breakdown(counts["platform"], PLATFORM_KEYS),
            "timeline": [
                {"date": bucket_label(moment, group_by), "views": row["views"], "unique": row["unique"]}
                for moment, row in timeline
            ],
        }
        if compare:
            result["views"]["previous"] = {"total": totals["prev_views"], "unique": totals["prev_unique"]}
    if "engagement" in sections:
        reactions = _reaction_counts(cursor, video, period, previous)
        result["engagement"] = {
            **_engagement_figures(totals, reactions),
            "timeline": [
                {
                    "date": bucket_label(moment, group_by),
                    "watch_time": row["watched_sum"] or 0,
                    "completion_rate": ratio(row["completed"], row["views"]),
                }
                for moment, row in timeline
            ],
        }
        if compare:
            result["engagement"]["previous"] = _engagement_figures(totals, reactions, "prev_")
    if "performance" in sections:
        result["performance"] = {
            **_quality(totals),
            "timeline": [
                {
                    "date": bucket_label(moment, group_by),
                    "buffering_rate": ratio(row["buffering_sum"], row["buffering_watched_sum"]),
                    "error_rate": ratio(row["errors_sum"], row["error_views"]),
                }
                for moment, row in timeline
            ],
        }
        if compare:
            result["performance"]["previous"] = _quality(totals, "prev_")
    return result


def _top_videos(workspace, period, limit):
    """The `limit` most viewed videos of the period (ties by key): video key, title, views, seconds
    watched and completed views, in one statement. view_figures' views, seconds watched and
    completed views per video, summed from the per-video daily totals (VideoDay: every user's
    views by the UTC day they started; the summary's periods are whole UTC days). Only the groups
    that can make the list (views at least those of the `limit`-th) look up their video's key
    (for the order) and title by id.

    A period of N days ending today, N of a summary period `Nd`, reads the per-video totals of
    its window instead (VideoWindowTotal, the same sums kept on write: the first rows of an
    index), when the window was built for today; the statement checks that itself and sums
    VideoDay otherwise (the first minutes of a UTC day, a workspace never built)."""
    workspace_id = getattr(workspace, "pk", workspace)
    video_day, video_table = quoted_table(VideoDay), quoted_table(Video)
    counted = f"""
            SELECT d.video_id, SUM(d.views) AS views, SUM(d.watch_seconds) AS watched_sum,
                   SUM(d.completed_views) AS completed
            FROM {video_day} d
            WHERE d.workspace_id = %s AND d.day >= %s AND d.day < %s{{only_when}}
            GROUP BY d.video_id HAVING SUM(d.views) > 0"""
    counted_params = [workspace_id, period.start.date(), period.end.date()]
    window = window_days(period)
    if window is None:
        per_video, params = counted.format(only_when=""), counted_params
    else:
        days, first_day, last_day = window
        totals, windows = quoted_table(VideoWindowTotal), quoted_table(VideoWindow)
        built = (
            f"(SELECT COUNT(*) FROM {windows} w WHERE w.workspace_id = %s AND w.window_days = %s "
            f"AND w.first_day = %s AND w.last_day = %s)"
        )
        built_params = [workspace_id, days, first_day, last_day]
        per_video = f"""
            SELECT t.video_id, t.views, t.watch_seconds AS watched_sum, t.completed_views AS completed
            FROM {totals} t
            WHERE t.workspace_id = %s AND t.window_days = %s AND t.views > 0 AND {built} > 0
              AND t.views >= COALESCE((
                SELECT t2.views FROM {totals} t2 WHERE t2.workspace_id = %s AND t2.window_days = %s
                ORDER BY t2.views DESC LIMIT 1 OFFSET %s), 0)
            UNION ALL {counted.format(only_when=f" AND {built} = 0")}"""
        params = [
            workspace_id,
            days,
            *built_params,
            workspace_id,
            days,
            limit - 1,
            *counted_params,
            *built_params,
        ]
    sql = f"""
        WITH per_video AS ({per_video})
        SELECT (SELECT video.key FROM {video_table} video WHERE video.id = per_video.video_id) AS key,
               (SELECT video.title FROM {video_table} video WHERE video.id = per_video.video_id) AS title,
               per_video.views, per_video.watched_sum, per_video.completed
        FROM per_video
        WHERE per_video.views >= COALESCE(
            (SELECT views FROM per_video ORDER BY views DESC LIMIT 1 OFFSET %s), 0)
        ORDER BY per_video.views DESC, key
        LIMIT %s
    """
    return fetch_dicts(sql, [*params, limit - 1, limit])


def _day_totals(workspace, period, previous):
    """Views, seconds watched and completed views in the period and in the previous one, summed
    from the workspace's per-day totals (WorkspaceDay: every user's views by the UTC day they
    started; these periods are whole UTC days), in one query (written once: _day_totals_sql)."""
    windows = [(window.start.date(), window.end.date()) for window in (period, previous)]
    params = [day for first, end in windows for _ in DAY_TOTALS for day in (first, end)]
    with read_cursor() as cursor:
        cursor.execute(
            _day_totals_sql(), [*params, getattr(workspace, "pk", workspace), previous.start.date(), period.end.date()]
        )
        row = cursor.fetchone()
    return dict(zip((f"{prefix}{name}" for prefix in ("", "prev_") for name in DAY_TOTALS), row))


DAY_TOTALS = ("views", "watched_sum", "completed")
_DAY_TOTALS_SQL = {}


def _day_totals_sql():
    """The SQL of _day_totals for this database vendor: per window (the period, then the previous
    one: each a first day and an end day), COALESCE(SUM(views), 0), SUM(seconds watched) (None
    over no day) and COALESCE(SUM(completed views), 0) of its days; then the workspace and the
    days of both windows."""
    vendor = connection.vendor
    if vendor not in _DAY_TOTALS_SQL:
        columns = []
        for _ in ("period", "previous"):
            for column, coalesced in (("video_views", True), ("watch_seconds", False), ("completed_views", True)):
                days = "d.day >= %s AND d.day < %s"
                total = (
                    f"SUM(d.{column}) FILTER (WHERE {days})"
                    if vendor == "postgresql"
                    else f"SUM(CASE WHEN {days} THEN d.{column} END)"
                )
                columns.append(f"COALESCE({total}, 0)" if coalesced else total)
        _DAY_TOTALS_SQL[vendor] = (
            f"SELECT {', '.join(columns)} FROM {quoted_table(WorkspaceDay)} d "
            f"WHERE d.workspace_id = %s AND d.day >= %s AND d.day < %s"
        )
    return _DAY_TOTALS_SQL[vendor]


def video_summary(
    workspace,
    period,
    *,
    sections=("total_videos", "total_views", "total_watch_time", "average_engagement", "top_videos", "trends"),
    compare=False,
    top_limit=10,
):
    """The workspace's videos over the period.

    total_videos: videos in the workspace's catalog. total_views / total_watch_time: views started
    in the period and their seconds watched. average_engagement: seconds watched per view,
    completed views / views, likes and comments made in the period per catalog video. top_videos:
    the `top_limit` most viewed videos of the period (ties by key) with their seconds watched and
    completion rate. trends: change against the previous period of views, seconds watched and
    completion rate. `period`: whole UTC days, see video_period (`all` starts on the day of the
    workspace's first view).
    """
    previous = period.previous
    result = {}
    needs_totals = {"total_views", "total_watch_time", "average_engagement", "trends"} & set(sections)
    total_videos = (
        Video.objects.filter(workspace=workspace).count()
        if ({"total_videos", "average_engagement"} & set(sections))
        else None
    )

    if needs_totals or compare:
        totals = _day_totals(workspace, period, previous)
        rates = {prefix: ratio(totals[f"{prefix}completed"], totals[f"{prefix}views"]) for prefix in ("", "prev_")}

    if "total_videos" in sections:
        result["total_videos"] = total_videos
    if "total_views" in sections:
        result["total_views"] = totals["views"]
    if "total_watch_time" in sections:
        result["total_watch_time"] = totals["watched_sum"] or 0
    if "average_engagement" in sections:
        # Every user's reactions of the period's whole UTC days, from the per-day counts.
        reactions = ReactionDay.objects.filter(
            workspace=workspace, day__gte=period.start.date(), day__lt=period.end.date()
        ).aggregate(likes=Coalesce(Sum("likes"), 0), comments=Coalesce(Sum("comments"), 0))
        result["average_engagement"] = {
            "watch_time": average(totals["watched_sum"], totals["views"]),
            "completion_rate": rates[""],
            "likes": average(reactions["likes"], total_videos),
            "comments": average(reactions["comments"], total_videos),
        }
    if "top_videos" in sections:
        rows = _top_videos(workspace, period, top_limit)
        result["top_videos"] = [
            {
                "id": row["key"],
                "title": row["title"],
                "views": row["views"],
                "watch_time": row["watched_sum"] or 0,
                "engagement": ratio(row["completed"], row["views"]),
            }
            for row in rows
        ]
    if "trends" in sections:
        result["trends"] = {
            "views": change(totals["views"], totals["prev_views"]),
            "watch_time": change(totals["watched_sum"] or 0, totals["prev_watched_sum"] or 0),
            "engagement": change(rates[""], rates["prev_"]),
        }
    if compare:
        result["period"] = {
            "start": period.start,
            "end": period.end,
            "previous": {"start": previous.start, "end": previous.end},
        }
        result["previous"] = {
            "total_views": totals["prev_views"],
            "total_watch_time": totals["prev_watched_sum"] or 0,
            "completion_rate": rates["prev_"],
        }
    return result


VIDEO_DAY_DEFAULTS = {
    "views": 0,
    "unique": 0,
    "watched_sum": 0,
    "completed": 0,
    "likes": 0,
    "comments": 0,
    "shares": 0,
}


def video_daily_stats(workspace, start, end, *, course_ids=None, chunk_size=5000):
    """Per video and UTC day in [start, end) with any view or reaction: views started that day,
    unique learners, seconds watched, completed views, completion rate (completed / views, as
    the video endpoint computes it) and the likes, comments and shares made that day.

    Returns (row count, iterator of dicts sorted by day then video). Views and reactions are
    grouped in the database and merged as two sorted streams. `course_ids` narrows to courses.
    The view figures are view_figures', per video and UTC day (summed over its videos, a day's
    views are the views of WorkspaceDay).
    """
    views = VideoView.objects.filter(workspace=workspace, started_at__gte=start, started_at__lt=end)
    reactions = VideoReaction.objects.filter(workspace=workspace, at__gte=start, at__lt=end)
    if course_ids is not None:
        views = views.filter(course_id__in=course_ids)
        reactions = reactions.filter(video__course_id__in=course_ids)
    view_days = views.annotate(day=utc_day("started_at"))
    reaction_days = reactions.annotate(day=utc_day("at"))
    count = view_days.values("day", "video_id").union(reaction_days.values("day", "video_id")).count()
    described = {"video_key": F("video__key"), "video_title": F("video__title")}
    view_rows = (
        view_days.values("day", "video_id", **described)
        .annotate(**view_figures())
        .order_by("day", "video_id")
        .iterator(chunk_size=chunk_size)
    )
    reaction_rows = (
        reaction_days.values("day", "video_id", **described)
        .annotate(
            likes=Count("id", filter=Q(type=ReactionType.LIKE)),
            comments=Count("id", filter=Q(type=ReactionType.COMMENT)),
            shares=Count("id", filter=Q(type=ReactionType.SHARE)),
        )
        .order_by("day", "video_id")
        .iterator(chunk_size=chunk_size)
    )
    merged = merge_sorted_groups(
        [view_rows, reaction_rows], key=lambda row: (row["day"], row["video_id"]), defaults=VIDEO_DAY_DEFAULTS
    )
    return count, ({**row, "completion_rate": ratio(row["completed"], row["views"])} for row in merged)
