"""VideoCloud user analytics: activity, growth, retention and engagement of a workspace's learners.

A learner is a member of the workspace with the learner role. A learner is active in a window
when they have a page session, a learning event or a video view starting in it. Their first
activity is the earliest of those three, ever.

Every figure is read from the per-learner activity rollups (analytics.services.learner_activity),
which are written in the same transaction as the activity itself:
- LearnerDay: one row per user and UTC day with activity (page sessions, their seconds, devices
  and start hours, events, forum posts, video views). Every period here is made of whole UTC
  days, so sums over a period are sums of its days' rows.
- LearnerActivity: one row per user with their first and last day of activity, whether they
  were back 1 / 7 / 30 days after the first, which of the 189 days before their last one had
  activity (three 63-bit words), their page-session totals and the last day of a page session
  in each UTC hour, and `is_learner`
  (their role). "Active in [a, tomorrow)" is `last_day >= a`; only a learner whose last day is
  after today (activity dated in the future) needs a probe of their LearnerDay rows.
- WorkspaceDay: the learners' page-session sums per workspace and UTC day.
Every period here ends today. Without future-dated activity (the usual case), the figures read
WorkspaceDay (sums: one row per day) and LearnerActivity (distinct learners: one row per learner
active since the previous period began), never one row per learner-day. With some, the distinct
learners are counted from the LearnerDay rows of the period (the `_page_learner_days`,
`_active_users` and ORM growth paths); a test keeps both ways equal.
"""

from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncWeek

from accounts.models import Membership, Role
from analytics.models import (
    DAYS_PER_WORD, RECENT_DAY_WORDS, RECENT_DAYS, LearnerActivity, LearnerDay, LearningEvent, PageSession,
    ReactionType, VideoReaction, VideoView, WorkspaceDay,
)  # fmt: skip
from analytics.services.learner_activity import days_between

from .periods import (
    DEVICE_KEYS, SOURCE_KEYS, UTC, average, breakdown, bucket_label, day_start, fill_buckets, ratio, resolve_period,
)  # fmt: skip

RETENTION_DAYS = (1, 7, 30)
ACTIVE_WINDOWS = {"daily": 1, "weekly": 7, "monthly": 30}  # activity.activeUsers: days ending today
DEVICES = ("desktop", "mobile", "tablet")  # analytics.models.Device; anything else counts as unknown

# (model, time field) of every kind of activity: the raw rows the rollups are made of.
ACTIVITY_SOURCES = ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at"))


def learners(workspace):
    return Membership.objects.filter(workspace=workspace, role=Role.LEARNER)


def learner_ids(workspace):
    return learners(workspace).order_by().values("user_id")


def _days(period):
    """The period's first UTC day and the day after its last (periods here are whole days)."""
    return period.start.astimezone(UTC).date(), period.end.astimezone(UTC).date()


def _as_moment(day):
    return datetime.combine(day, time.min, UTC)


def learner_days(workspace, start_day, end_day):
    """The workspace's LearnerDay rows of learners in [start_day, end_day)."""
    return LearnerDay.objects.filter(
        workspace=workspace, user_id__in=learner_ids(workspace), day__gte=start_day, day__lt=end_day
    ).order_by()


def active_in(workspace, start_day, end_day):
    """Condition on LearnerActivity: the user has activity in [start_day, end_day).

    True when their first or last day is inside; false when they start after or stop before;
    only a learner with days both before and after the window gets a probe of their LearnerDay
    rows (the unique (workspace, user, day) index).
    """
    inside = Q(first_day__gte=start_day, first_day__lt=end_day) | Q(last_day__gte=start_day, last_day__lt=end_day)
    probe = Exists(
        LearnerDay.objects.filter(
            workspace=workspace, user_id=OuterRef("user_id"), day__gte=start_day, day__lt=end_day
        )
    )
    return inside | (Q(first_day__lt=start_day, last_day__gte=end_day) & probe)


def has_days_from(workspace, day):
    """Whether any user of the workspace has activity on `day` or later (future-dated rows)."""
    return LearnerActivity.objects.filter(workspace=workspace, last_day__gte=day).exists()


def _flag(condition):
    return ExpressionWrapper(condition, output_field=BooleanField())


def earliest_activity(workspace):
    """00:00 UTC of the workspace's first day with activity (any user), or None (for `all`)."""
    first = LearnerDay.objects.filter(workspace=workspace).aggregate(first=Min("day"))["first"]
    return None if first is None else _as_moment(first)


def _active_users(workspace, today):
    """Learners active in the 1 / 7 / 30 UTC days ending today, when some learner has future-dated
    days: one row per learner active in the last 30 days, probing the learner-days of those with
    days on both sides of a window."""
    tomorrow = today + timedelta(days=1)
    spans = LearnerActivity.objects.filter(
        workspace=workspace, user_id__in=learner_ids(workspace), last_day__gte=tomorrow - timedelta(days=30)
    )
    figures = {
        name: Count("id", filter=active_in(workspace, tomorrow - timedelta(days=days), tomorrow))
        for name, days in ACTIVE_WINDOWS.items()
    }
    return {name: value or 0 for name, value in spans.aggregate(**figures).items()}


def _by_device(totals):
    """{device: page sessions}: the document's devices always, other devices seen, then "unknown"
    (sessions whose device was not reported) when there are some (periods.breakdown)."""
    counts = {device: totals[device] or 0 for device in DEVICES}
    counts[""] = (totals["sessions"] or 0) - sum(counts.values())
    return breakdown(counts, DEVICE_KEYS)


def _page_totals(workspace, start_day, end_day):
    """Sums of the learners' page sessions (and their seconds: `duration`), learner-days with one
    (`learner_days`) or exactly one (`bounces`) and forum posts on [start_day, end_day), from the
    per-day totals (WorkspaceDay): exact for any whole-day window, future-dated days or not."""
    return WorkspaceDay.objects.filter(workspace=workspace, day__gte=start_day, day__lt=end_day).aggregate(
        sessions=Sum("page_sessions"),
        duration=Sum("page_seconds"),
        learner_days=Sum("page_days"),
        bounces=Sum("bounce_days"),
        forum_posts=Sum("forum_posts"),
        **{device: Sum(f"{device}_sessions") for device in DEVICES},
    )


def _activity(workspace, period, counts):
    """counts: _learner_counts_today's, or None to count active users from the learner-days."""
    today = day_start(period.now).date()
    start_day, end_day = _days(period)
    totals = _page_totals(workspace, start_day, end_day)
    session_count = totals["sessions"] or 0
    reactions = VideoReaction.objects.filter(
        workspace=workspace, user_id__in=learner_ids(workspace), at__gte=period.start, at__lt=period.end
    ).aggregate(
        likes=Count("id", filter=Q(type=ReactionType.LIKE)),
        comments=Count("id", filter=Q(type=ReactionType.COMMENT)),
        shares=Count("id", filter=Q(type=ReactionType.SHARE)),
    )
    return {
        "active_users": (
            {name: counts[name] for name in ACTIVE_WINDOWS} if counts is not None else _active_users(workspace, today)
        ),
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


def _larger(a, b):
    return f"(CASE WHEN {a} > {b} THEN {a} ELSE {b} END)"


def _smaller(a, b):
    return f"(CASE WHEN {a} < {b} THEN {a} ELSE {b} END)"


def _was_active_sql(previous, start, longest):
    """SQL condition on a LearnerActivity row `a` of a learner whose last day is on or after the
    period's start and first day before it: active in the previous period, [previous, start)
    (dates as the database takes them). `a.lo` and `a.hi` are the bits of that period's last and
    first days (days before a.last_day); `longest` bounds a.hi. Known without reading their days
    when their first day is in that period, or from their RECENT_DAYS bits: a bit set in it, or
    none when it lies all within them (always, for periods of up to 94 days ending today: only
    the words a.hi can reach are read then). Else a probe of their LearnerDay rows."""
    set_in_word = []
    for low, word in zip(range(0, min(longest + 1, RECENT_DAYS), DAYS_PER_WORD), RECENT_DAY_WORDS):
        high = low + DAYS_PER_WORD - 1
        first, last = _larger("a.lo", low), _smaller("a.hi", high)
        low_bits = f"(((CAST(1 AS BIGINT) << ({last} - {first})) - 1) * 2 + 1)"  # last - first + 1 of them
        set_in_word.append(
            f"(CASE WHEN a.lo <= {high} AND a.hi >= {low} "
            f"THEN ((a.{word} >> ({first} - {low})) & {low_bits}) <> 0 ELSE 1 = 0 END)"
        )
    sql = f"(CASE WHEN a.first_day >= %s THEN 1 = 1 WHEN {' OR '.join(set_in_word)} THEN 1 = 1 "
    if longest < RECENT_DAYS:
        return sql + "ELSE 1 = 0 END)", [previous]
    probe = (
        f"EXISTS (SELECT 1 FROM {connection.ops.quote_name(LearnerDay._meta.db_table)} d "
        f"WHERE d.workspace_id = a.workspace_id AND d.user_id = a.user_id AND d.day >= %s AND d.day < %s)"
    )
    return sql + f"WHEN a.hi < {RECENT_DAYS} THEN 1 = 0 ELSE {probe} END)", [previous, previous, start]


def _learner_counts_today(workspace, period):
    """Without future-dated days, in one pass over the LearnerActivity rows of the learners active
    since the previous period began or 30 days ago (the earlier): the active users of the 1 / 7 /
    30 days ending today (`daily`, `weekly`, `monthly`, as _active_users) and the period's growth
    counts (`active`, `new`, `previous_active`, `churned`, as _growth)."""
    start_day, end_day = _days(period)
    previous_start, _ = _days(period.previous)
    adapt = connection.ops.adapt_datefield_value
    start, previous = adapt(start_day), adapt(previous_start)
    # No last day after today here (has_days_from), so a.hi <= today - previous_start.
    was_active, was_params = _was_active_sql(previous, start, (end_day - timedelta(days=1) - previous_start).days)
    table = connection.ops.quote_name(LearnerActivity._meta.db_table)
    window_starts = [adapt(end_day - timedelta(days=days)) for days in ACTIVE_WINDOWS.values()]
    learners = (
        f"SELECT a.*, {days_between('a.last_day', '%s')} + 1 AS lo, {days_between('a.last_day', '%s')} AS hi "
        f"FROM {table} a WHERE a.workspace_id = %s AND a.is_learner AND a.last_day >= %s"
    )
    sql = (
        f"SELECT {', '.join(['COUNT(CASE WHEN a.last_day >= %s THEN 1 END)'] * len(ACTIVE_WINDOWS))}, "
        "COUNT(CASE WHEN a.last_day >= %s THEN 1 END), COUNT(CASE WHEN a.first_day >= %s THEN 1 END), "
        f"COUNT(CASE WHEN a.last_day >= %s AND (a.last_day < %s OR (a.first_day < %s AND {was_active})) THEN 1 END), "
        f"COUNT(CASE WHEN a.last_day >= %s AND a.last_day < %s THEN 1 END) FROM ({learners}) AS a"
    )
    params = [
        *window_starts, start, start, previous, start, start, *was_params, previous, start,
        start, previous, workspace.pk, min(previous, *window_starts),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(zip((*ACTIVE_WINDOWS, "active", "new", "previous_active", "churned"), cursor.fetchone()))


def _new_learner_sources(workspace, period):
    """{User.source or "unknown": learners} of the period's new learners."""
    rows = new_learners(workspace, period).values("user__source").annotate(n=Count("id")).order_by()
    return {row["user__source"]: row["n"] for row in rows}


def _growth(workspace, period, counts):
    """counts: _learner_counts_today's, or None to decide activity from the learner-days."""
    start_day, end_day = _days(period)
    previous_start, _ = _days(period.previous)
    if counts is not None:
        return _growth_figures(counts, _new_learner_sources(workspace, period))
    rows = (
        LearnerActivity.objects.filter(workspace=workspace, user_id__in=learner_ids(workspace))
        .annotate(
            is_active=_flag(active_in(workspace, start_day, end_day)),
            was_active=_flag(active_in(workspace, previous_start, start_day)),
            had_before=_flag(Q(first_day__lt=start_day)),
        )
        .values("is_active", "was_active", "had_before")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {"active": 0, "new": 0, "previous_active": 0, "churned": 0}
    for row in rows:
        is_new = row["is_active"] and not row["had_before"]
        counts["active"] += row["n"] if row["is_active"] else 0
        counts["new"] += row["n"] if is_new else 0
        counts["previous_active"] += row["n"] if row["was_active"] else 0
        counts["churned"] += row["n"] if row["was_active"] and not row["is_active"] else 0
    return _growth_figures(counts, _new_learner_sources(workspace, period))


def _growth_figures(counts, sources):
    return {
        "new_users": counts["new"],
        "returning_users": counts["active"] - counts["new"],
        "churn_rate": ratio(counts["churned"], counts["previous_active"]),
        "by_source": breakdown(sources, SOURCE_KEYS),
    }


def new_learners(workspace, period):
    """LearnerActivity rows of the learners whose first activity is in the period."""
    start_day, end_day = _days(period)
    return LearnerActivity.objects.filter(
        workspace=workspace, is_learner=True, first_day__gte=start_day, first_day__lt=end_day
    )


def _retention(workspace, period):
    _, end_day = _days(period)
    aggregates = {"users": Count("id")}
    for days in RETENTION_DAYS:
        # first_at < period end - days  <=>  first_day + days <= today (periods end at 00:00Z)
        eligible = Q(first_day__lt=end_day - timedelta(days=days))
        aggregates[f"eligible{days}"] = Count("id", filter=eligible)
        aggregates[f"retained{days}"] = Count("id", filter=eligible & Q(**{f"is_back_day{days}": True}))
    rows = (
        new_learners(workspace, period).annotate(week=TruncWeek("first_day")).values("week")
        .annotate(**aggregates).order_by("week")
    )  # fmt: skip
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


def user_analytics(workspace, period_name, *, sections=("activity", "growth", "retention"), now=None):
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
    `all` starts on the day of the workspace's first activity.
    """
    period = resolve_period(period_name, now, earliest=lambda: earliest_activity(workspace))
    result = {}
    # Windows here end tomorrow 00:00Z: only future-dated activity makes a learner straddle them.
    counts = None
    if {"activity", "growth"} & set(sections) and not has_days_from(workspace, _days(period)[1]):
        counts = _learner_counts_today(workspace, period)
    if "activity" in sections:
        result["activity"] = _activity(workspace, period, counts)
    if "growth" in sections:
        result["growth"] = _growth(workspace, period, counts)
    if "retention" in sections:
        result["retention"] = _retention(workspace, period)
    return result


def user_engagement(workspace, period_name, *, now=None):
    """How the workspace's learners used their page sessions in the period.

    A learner-day is a learner with at least one page session starting on that UTC day.
    average_session_duration: mean page session duration (s). pages_per_session: page sessions per
    learner-day. bounce_rate: learner-days with exactly one page session / learner-days.
    by_user_type: the same two figures for new learners (first activity ever inside the period)
    and returning ones. by_time_of_day: for each UTC hour 0-23, the learners with a page session
    starting in that hour, and engagement = those learners / all learners with a page session in
    the period.
    """
    period = resolve_period(period_name, now, earliest=lambda: earliest_activity(workspace))
    if has_days_from(workspace, _days(period)[1]):
        totals, new, users_by_hour = _page_learner_days(workspace, period)
    else:
        totals, new, users_by_hour = _page_learners_today(workspace, period)

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
    start_day, end_day = _days(period)
    days = _page_totals(workspace, start_day, end_day)
    is_new = Q(first_day__gte=start_day)
    with_sessions = LearnerActivity.objects.filter(workspace=workspace, is_learner=True, last_page_day__gte=start_day)
    learners = with_sessions.aggregate(
        learners=Count("id"),
        new_learner_days=Sum("page_days", filter=is_new),
        new_sessions=Sum("page_sessions", filter=is_new),
        new_duration=Sum("page_seconds", filter=is_new),
        **{f"hour{hour}": Count("id", filter=Q(**{f"hour{hour}_last_day__gte": start_day})) for hour in range(24)},
    )
    totals = {"learners": learners["learners"], **{name: days[name] or 0 for name in PAGE_FIGURES}}
    new = {name: learners[f"new_{name}"] or 0 for name in ("learner_days", "sessions", "duration")}
    return totals, new, [learners[f"hour{hour}"] for hour in range(24)]


def _page_learner_days(workspace, period):
    """The period's learner-days with page sessions, in one query grouped per learner then summed:
    ({learners, learner_days, sessions, duration, bounces}, the same four for new learners,
    [learners with a page session starting in UTC hour h for h in 0..23]).

    New learners are those whose first day (LearnerActivity) is in the period. A learner's hours
    are the OR of their days' page_hours bits, taken per hour as MAX(page_hours & 2^h)."""
    start_day, end_day = _days(period)
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
    sums = [f"COALESCE(SUM({quote(name)}), 0)" for name in (*PAGE_FIGURES, "new_learner_days", "new_sessions", "new_duration")]
    hours = [f"COUNT(CASE WHEN {quote(f'hour{hour}')} > 0 THEN 1 END)" for hour in range(24)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), {', '.join(sums + hours)} FROM ({inner_sql}) per_learner", params)
        row = [int(value or 0) for value in cursor.fetchone()]
    totals = {"learners": row[0], **dict(zip(PAGE_FIGURES, row[1:5]))}
    new = {"learner_days": row[5], "sessions": row[6], "duration": row[7]}
    return totals, new, row[8:32]
