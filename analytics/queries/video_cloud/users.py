"""VideoCloud user analytics: activity, growth, retention and engagement of a workspace's learners.

A learner is a member of the workspace with the learner role. A learner is active in a window
when they have a page session, a learning event or a video view starting in it. Their first
activity is the earliest of those three, ever.

Active learners (activity.activeUsers, growth) are counted by analytics.queries.activity, which
defines them and picks the way to count them. The other figures are read from the per-learner
activity rollups (analytics.services.learner_activity), written in the same transaction as the
activity itself:
- LearnerDay: one row per user and UTC day with activity (page sessions, their seconds, devices
  and start hours, events, forum posts, video views). Every period here is made of whole UTC
  days, so sums over a period are sums of its days' rows.
- LearnerActivity: one row per user with their first and last day of activity, whether they
  were back 1 / 7 / 30 days after the first, their page-session totals and the last day of a
  page session in each UTC hour, and `is_learner` (their role).
- WorkspaceDay: the learners' page-session sums per workspace and UTC day.
Sums read WorkspaceDay (one row per day). The learners of the engagement figures are read from
LearnerActivity (one row per learner) or, when activity.counting_strategy says one row per learner
cannot answer (future-dated activity), from the period's LearnerDay rows.
"""

from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncWeek

from analytics.definitions import UTC, resolve_period
from analytics.models import LearnerActivity, ReactionDay, WorkspaceDay
from analytics.queries.activity import (
    LEARNER_ACTIVITY,
    active_learner_counts,
    counting_strategy,
    earliest_activity,
    learner_days,
    new_learners,
)

from .periods import DEVICE_KEYS, SOURCE_KEYS, average, breakdown, bucket_label, fill_buckets, ratio
from analytics.queries.sql import quoted_table, read_cursor

RETENTION_DAYS = (1, 7, 30)
ACTIVE_WINDOWS = {"daily": 1, "weekly": 7, "monthly": 30}  # activity.activeUsers: days ending today
DEVICES = ("desktop", "mobile", "tablet")  # analytics.models.Device; anything else counts as unknown


def user_period(workspace, name, now=None):
    """The Period `name` of the user figures at `now`: `all` starts on the day of the workspace's
    first activity (analytics.definitions.resolve_period)."""
    return resolve_period(name, now, earliest=lambda: earliest_activity(workspace))


def _as_moment(day):
    return datetime.combine(day, time.min, UTC)


def _by_device(totals):
    """{device: page sessions}: the document's devices always, other devices seen, then "unknown"
    (sessions whose device was not reported) when there are some (periods.breakdown)."""
    counts = {device: totals[device] or 0 for device in DEVICES}
    counts[""] = (totals["sessions"] or 0) - sum(counts.values())
    return breakdown(counts, DEVICE_KEYS)


def _page_totals(workspace, start_day, end_day):
    """Sums of the learners' page sessions (and their seconds: `duration`), learner-days with one
    (`learner_days`) or exactly one (`bounces`) and forum posts on [start_day, end_day), from the
    per-day totals (WorkspaceDay): exact for any whole-day window, future-dated days or not. Each
    sum is None over no day. One statement, its SQL written once (_page_totals_sql)."""
    with read_cursor() as cursor:
        cursor.execute(_page_totals_sql(), [getattr(workspace, "pk", workspace), start_day, end_day])
        return dict(zip(PAGE_TOTALS, cursor.fetchone()))


# (name, WorkspaceDay column) of _page_totals' sums.
PAGE_TOTALS = {
    "sessions": "page_sessions",
    "duration": "page_seconds",
    "learner_days": "page_days",
    "bounces": "bounce_days",
    "forum_posts": "forum_posts",
    **{device: f"{device}_sessions" for device in DEVICES},
}
_PAGE_TOTALS_SQL = []


def _page_totals_sql():
    if not _PAGE_TOTALS_SQL:
        sums = ", ".join(f"SUM(d.{column})" for column in PAGE_TOTALS.values())
        _PAGE_TOTALS_SQL.append(
            f"SELECT {sums} FROM {quoted_table(WorkspaceDay)} d WHERE d.workspace_id = %s AND d.day >= %s AND d.day < %s"
        )
    return _PAGE_TOTALS_SQL[0]


def _activity(workspace, period, counts):
    """counts: active_learner_counts' (with the ACTIVE_WINDOWS)."""
    totals = _page_totals(workspace, period.start_day, period.end_day)
    session_count = totals["sessions"] or 0
    # The learners' reactions of the period's whole UTC days, from the per-day counts.
    reactions = ReactionDay.objects.filter(
        workspace=workspace, day__gte=period.start_day, day__lt=period.end_day
    ).aggregate(
        likes=Coalesce(Sum("learner_likes"), 0),
        comments=Coalesce(Sum("learner_comments"), 0),
        shares=Coalesce(Sum("learner_shares"), 0),
    )
    return {
        "active_users": {name: counts[name] for name in ACTIVE_WINDOWS},
        "sessions": {
            "total": session_count,
            "average_duration": average(totals["duration"], session_count),
            "by_device": _by_device(totals),
        },
        "actions": {
            "uploads": 0,
            "comments": reactions["comments"] + (totals["forum_posts"] or 0),
            "likes": reactions["likes"],
            "shares": reactions["shares"],
        },
    }


def _new_learner_sources(workspace, period):
    """{User.source or "unknown": learners} of the period's new learners."""
    rows = new_learners(workspace, period).values("user__source").annotate(n=Count("id")).order_by()
    return {row["user__source"]: row["n"] for row in rows}


def _growth(workspace, period, counts):
    """counts: active_learner_counts'."""
    return {
        "new_users": counts["new"],
        "returning_users": counts["active"] - counts["new"],
        "churn_rate": ratio(counts["churned"], counts["previous_active"]),
        "by_source": breakdown(_new_learner_sources(workspace, period), SOURCE_KEYS),
    }


def _retention(workspace, period):
    end_day = period.end_day
    aggregates = {"users": Count("id")}
    for days in RETENTION_DAYS:
        # first_at < period end - days  <=>  first_day + days <= today (periods end at 00:00Z)
        eligible = Q(first_day__lt=end_day - timedelta(days=days))
        aggregates[f"eligible{days}"] = Count("id", filter=eligible)
        aggregates[f"retained{days}"] = Count("id", filter=eligible & Q(**{f"is_back_day{days}": True}))
    rows = (
        new_learners(workspace, period)
        .annotate(week=TruncWeek("first_day"))
        .values("week")
        .annotate(**aggregates)
        .order_by("week")
    )
    weeks = fill_buckets(
        period, "week", {_as_moment(row.pop("week")): row for row in rows}, lambda: dict.fromkeys(aggregates, 0)
    )

    def rates(row):
        return {f"day{days}": ratio(row[f"retained{days}"], row[f"eligible{days}"]) for days in RETENTION_DAYS}

    overall = {name: sum(row[name] for _, row in weeks) for name in aggregates}
    return {
        **rates(overall),
        "cohorts": [
            {"date": bucket_label(moment, "week"), "users": row["users"], **rates(row)} for moment, row in weeks
        ],
    }


def user_analytics(workspace, period, *, sections=("activity", "growth", "retention")):
    """The workspace's learners over the period.

    activity: active learners in the 1 / 7 / 30 whole UTC days ending today (whatever the
    period), page sessions started in the period (count, mean duration in seconds, by device,
    "unknown" when not reported), actions in the period (uploads: always 0, nothing is uploaded;
    comments: comment reactions + `posted_forum` events; likes and shares: reactions).
    growth: new learners (first activity ever inside the period), returning learners (active in
    the period, with activity before it), churn rate (active in the previous period and not in
    this one / active in the previous period), new learners by User.source ("unknown" if blank).
    retention: of the period's new learners, the share active again exactly 1 / 7 / 30 UTC days
    after the day of their first activity, counting only learners for whom that day has come
    (it is today or earlier); overall and per weekly cohort (ISO week of the first activity).
    `period`: a Period of whole UTC days ending tomorrow 00:00Z (user_period).
    """
    result = {}
    counts = None
    if {"activity", "growth"} & set(sections):
        counts = active_learner_counts(workspace, period, ACTIVE_WINDOWS)
    if "activity" in sections:
        result["activity"] = _activity(workspace, period, counts)
    if "growth" in sections:
        result["growth"] = _growth(workspace, period, counts)
    if "retention" in sections:
        result["retention"] = _retention(workspace, period)
    return result


def user_engagement(workspace, period):
    """How the workspace's learners used their page sessions in the period.

    A learner-day is a learner with at least one page session starting on that UTC day.
    average_session_duration: mean page session duration (s). pages_per_session: page sessions per
    learner-day. bounce_rate: learner-days with exactly one page session / learner-days.
    by_user_type: the same two figures for new learners (first activity ever inside the period)
    and returning ones. by_time_of_day: for each UTC hour 0-23, the learners with a page session
    starting in that hour, and engagement = those learners / all learners with a page session in
    the period. `period`: as user_analytics'.
    """
    if counting_strategy(workspace, period.end_day) == LEARNER_ACTIVITY:
        totals, new, users_by_hour = _page_learners_today(workspace, period)
    else:
        totals, new, users_by_hour = _page_learner_days(workspace, period)

    sessions_total = totals["sessions"]
    duration_total = totals["duration"]
    new_sessions = new["sessions"]
    new_duration = new["duration"]
    returning_days = totals["learner_days"] - new["learner_days"]
    return {
        "average_session_duration": average(duration_total, sessions_total),
        "pages_per_session": average(sessions_total, totals["learner_days"]),
        "bounce_rate": ratio(totals["bounces"], totals["learner_days"]),
        "by_user_type": {
            "new": {
                "session_duration": average(new_duration, new_sessions),
                "pages_per_session": average(new_sessions, new["learner_days"]),
            },
            "returning": {
                "session_duration": average(duration_total - new_duration, sessions_total - new_sessions),
                "pages_per_session": average(sessions_total - new_sessions, returning_days),
            },
        },
        "by_time_of_day": [
            {
                "hour": hour,
                "users": users_by_hour[hour],
                "engagement": ratio(users_by_hour[hour], totals["learners"]),
            }
            for hour in range(24)
        ],
    }


PAGE_FIGURES = ("learner_days", "sessions", "duration", "bounces")


def _page_learners_today(workspace, period):
    """_page_learner_days of a period ending today without future-dated days, in two queries:
    the learner-day sums from the per-day totals (WorkspaceDay); learners, learners per hour and
    new learners' sums from one row per learner (LearnerActivity): a learner had a page session in
    the period, or in hour h of it, when their last such day is in it; a new learner's whole
    history is inside it."""
    start_day, end_day = period.start_day, period.end_day
    days = _page_totals(workspace, start_day, end_day)
    sql, day_params = _learners_today_sql()
    with read_cursor() as cursor:
        cursor.execute(sql, [*[start_day] * day_params, getattr(workspace, "pk", workspace), True, start_day])
        row = cursor.fetchone()
    totals = {"learners": row[0], **{name: days[name] or 0 for name in PAGE_FIGURES}}
    new = {name: value or 0 for name, value in zip(("learner_days", "sessions", "duration"), row[1:4])}
    return totals, new, [value or 0 for value in row[4:28]]


_LEARNERS_TODAY_SQL = {}


def _learners_today_sql():
    """(SQL, how many leading parameters are the period's first day) of _page_learners_today's
    LearnerActivity aggregate: learners with a page session since the first day, the new ones'
    (first day of activity since then) page days, sessions and seconds, and per UTC hour the
    learners whose last page session in that hour is since then. Written once per database
    vendor (the statement is the same for every request; only its parameters change)."""
    vendor = connection.vendor
    if vendor not in _LEARNERS_TODAY_SQL:

        def when(condition, value):
            if vendor == "postgresql":
                return f"FILTER (WHERE {condition})", value
            return None, f"CASE WHEN {condition} THEN {value} END"

        def aggregate(function, condition, column):
            filtered, value = when(condition, column)
            return f"{function}({column}) {filtered}" if filtered else f"{function}({value})"

        table = quoted_table(LearnerActivity)
        columns = [
            aggregate("SUM", "a.first_day >= %s", f"a.{name}")
            for name in ("page_days", "page_sessions", "page_seconds")
        ]
        columns += [aggregate("COUNT", f"a.hour{hour}_last_day >= %s", "a.id") for hour in range(24)]
        _LEARNERS_TODAY_SQL[vendor] = (
            f"SELECT COUNT(a.id), {', '.join(columns)} FROM {table} a "
            f"WHERE a.workspace_id = %s AND a.is_learner = %s AND a.last_page_day >= %s",
            len(columns),
        )
    return _LEARNERS_TODAY_SQL[vendor]


def _page_learner_days(workspace, period):
    """The period's learner-days with page sessions, in one query grouped per learner then summed:
    ({learners, learner_days, sessions, duration, bounces}, the same four for new learners,
    [learners with a page session starting in UTC hour h for h in 0..23]).

    New learners are those whose first day (LearnerActivity) is in the period. A learner's hours
    are the OR of their days' page_hours bits, taken per hour as MAX(page_hours & 2^h)."""
    start_day, end_day = period.start_day, period.end_day
    new_ids = new_learners(workspace, period).values("user_id")
    is_new = Q(user_id__in=new_ids)
    per_learner = (
        learner_days(workspace, start_day, end_day)
        .filter(page_sessions__gt=0)
        .values("user_id")
        .annotate(
            learner_days=Count("id"),
            sessions=Sum("page_sessions"),
            duration=Sum("page_seconds"),
            bounces=Count("id", filter=Q(page_sessions=1)),
            new_learner_days=Count("id", filter=is_new),
            new_sessions=Sum("page_sessions", filter=is_new),
            new_duration=Sum("page_seconds", filter=is_new),
            **{f"hour{hour}": Max(F("page_hours").bitand(1 << hour)) for hour in range(24)},
        )
    )
    inner_sql, params = per_learner.query.sql_with_params()
    quote = connection.ops.quote_name
    sums = [
        f"COALESCE(SUM({quote(name)}), 0)"
        for name in (*PAGE_FIGURES, "new_learner_days", "new_sessions", "new_duration")
    ]
    hours = [f"COUNT(CASE WHEN {quote(f'hour{hour}')} > 0 THEN 1 END)" for hour in range(24)]
    with read_cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), {', '.join(sums + hours)} FROM ({inner_sql}) per_learner", params)
        row = [int(value or 0) for value in cursor.fetchone()]
    totals = {"learners": row[0], **dict(zip(PAGE_FIGURES, row[1:5]))}
    new = {"learner_days": row[5], "sessions": row[6], "duration": row[7]}
    return totals, new, row[8:32]
