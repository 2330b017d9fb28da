"""VideoCloud user analytics: activity, growth, retention and engagement of a workspace's learners.

A learner is a member of the workspace with the learner role. A learner is active in a window
when they have a page session, a learning event or a video view starting in it. Their first
activity is the earliest of those three, ever.

Everything is asked per learner with single-row probes of the (workspace, user, time) index of
each activity table (`EXISTS (...)` or `ORDER BY time LIMIT 1`), so the cost grows with the number
of learners, not with the number of rows in the window. The flags of a learner are computed once per learner in a
query grouped by the flags (at most a few rows come back), never by looping over rows.
"""

from datetime import datetime, timedelta

from django.db.models import BooleanField, Count, DateTimeField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, Greatest, Least

from accounts.models import Membership, Role
from analytics.models import LearningEvent, PageSession, ReactionType, VideoReaction, VideoView

from .periods import UTC, bucket_label, day_start, fill_buckets, ratio, resolve_period, trunc

UNKNOWN = "unknown"
RETENTION_DAYS = (1, 7, 30)
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
FAR_PAST = datetime(1900, 1, 1, tzinfo=UTC)
FORUM_POST_EVENT = "posted_forum"

# (model, time field) of every kind of activity.
ACTIVITY_SOURCES = ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at"))


def learners(workspace):
    return Membership.objects.filter(workspace=workspace, role=Role.LEARNER)


def active_between(workspace, start, end):
    """Condition on an outer `user_id`: the user has activity in [start, end) in the workspace."""
    condition = Q()
    for model, field in ACTIVITY_SOURCES:
        condition |= Exists(
            model.objects.filter(
                workspace=workspace, user_id=OuterRef("user_id"), **{f"{field}__gte": start, f"{field}__lt": end}
            )
        )
    return condition


def activity_before(workspace, moment):
    """Condition on an outer `user_id`: the user has activity before `moment`."""
    condition = Q()
    for model, field in ACTIVITY_SOURCES:
        condition |= Exists(
            model.objects.filter(workspace=workspace, user_id=OuterRef("user_id"), **{f"{field}__lt": moment})
        )
    return condition


def _flag(condition):
    return ExpressionWrapper(condition, output_field=BooleanField())


def new_learners(workspace, period):
    """The learners whose first activity is in the period, annotated with it (`first_at`).

    "No activity before the period" is asked table by table (page sessions first, the table most
    learners have rows in), so that a learner with earlier activity costs a single index probe.
    """
    firsts = {}
    for model, field in ACTIVITY_SOURCES:
        earliest = model.objects.filter(workspace=workspace, user_id=OuterRef("user_id")).order_by(field).values(field)[:1]
        firsts[f"first_{model._meta.model_name}"] = Coalesce(Subquery(earliest), Value(FAR_FUTURE))
    members = learners(workspace).alias(**firsts)
    for name in firsts:
        members = members.filter(**{f"{name}__gte": period.start})
    return members.annotate(first_at=Least(*(F(name) for name in firsts))).filter(first_at__lt=period.end)


def _flag_counts(members, **flags):
    """`members` annotated with boolean flags, to be grouped by them (`.values(*flags)`): each
    flag is then computed once per learner and only the few distinct combinations come back."""
    return members.annotate(**{name: _flag(condition) for name, condition in flags.items()})


def activity_between(workspace, start_ref, end_ref):
    """Condition on an outer `user_id`: the user has activity between the outer references."""
    condition = Q()
    for model, field in ACTIVITY_SOURCES:
        condition |= Exists(
            model.objects.filter(
                workspace=workspace, user_id=OuterRef("user_id"),
                **{f"{field}__gte": OuterRef(start_ref), f"{field}__lt": OuterRef(end_ref)},
            )
        )
    return condition


def latest_activity_at(workspace, start, end):
    """Expression on an outer `user_id`: the time of the user's latest activity in [start, end),
    or FAR_PAST; one index probe per table (ORDER BY time DESC LIMIT 1)."""
    latest = []
    for model, field in ACTIVITY_SOURCES:
        rows = model.objects.filter(
            workspace=workspace, user_id=OuterRef("user_id"), **{f"{field}__gte": start, f"{field}__lt": end}
        )
        latest.append(Coalesce(Subquery(rows.order_by(f"-{field}").values(field)[:1]), Value(FAR_PAST)))
    return Greatest(*latest)


def earliest_activity(workspace):
    """The workspace's first activity time, or None (for the `all` period)."""
    firsts = [
        model.objects.filter(workspace=workspace).aggregate(first=Min(field))["first"]
        for model, field in ACTIVITY_SOURCES
    ]
    firsts = [first for first in firsts if first is not None]
    return min(firsts) if firsts else None


def _window(field, start, end):
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def _by_key(rows, field):
    result = {}
    for row in rows:
        key = row[field] or UNKNOWN
        result[key] = result.get(key, 0) + row["n"]
    return result


def _activity(workspace, period):
    tomorrow = day_start(period.now) + timedelta(days=1)
    members = learners(workspace)
    # One probe per table and learner: the day of their latest activity in the last 30 days.
    windows = {"daily": 1, "weekly": 7, "monthly": 30}
    month_start = tomorrow - timedelta(days=windows["monthly"])
    rows = (
        members.annotate(
            last_day=trunc("day", latest_activity_at(workspace, month_start, tomorrow))
        )
        .values("last_day")
        .annotate(n=Count("id"))
        .order_by()
    )
    active = dict.fromkeys(windows, 0)
    for row in rows:
        for name, days in windows.items():
            if row["last_day"] is not None and row["last_day"] >= tomorrow - timedelta(days=days):
                active[name] += row["n"]
    sessions = PageSession.objects.filter(workspace=workspace, user_id__in=members.values("user_id")).filter(
        _window("started_at", period.start, period.end)
    )
    by_device = list(sessions.values("device").annotate(n=Count("id"), seconds=Sum("duration_s")).order_by("-n", "device"))
    session_count = sum(row["n"] for row in by_device)
    reactions = VideoReaction.objects.filter(
        workspace=workspace, user_id__in=members.values("user_id"), at__gte=period.start, at__lt=period.end
    ).aggregate(
        likes=Count("id", filter=Q(type=ReactionType.LIKE)),
        comments=Count("id", filter=Q(type=ReactionType.COMMENT)),
        shares=Count("id", filter=Q(type=ReactionType.SHARE)),
    )
    forum_posts = LearningEvent.objects.filter(
        workspace=workspace, user_id__in=members.values("user_id"), type=FORUM_POST_EVENT,
        occurred_at__gte=period.start, occurred_at__lt=period.end,
    ).count()
    return {
        "active_users": active,
        "sessions": {
            "total": session_count,
            "average_duration": ratio(sum(row["seconds"] for row in by_device), session_count, places=2),
            "by_device": _by_key(by_device, "device"),
        },
        "actions": {
            "uploads": 0,
            "comments": reactions["comments"] + forum_posts,
            "likes": reactions["likes"],
            "shares": reactions["shares"],
        },
    }


def _growth(workspace, period):
    previous = period.previous
    rows = (
        _flag_counts(
            learners(workspace),
            is_active=active_between(workspace, period.start, period.end),
            was_active=active_between(workspace, previous.start, previous.end),
            had_before=activity_before(workspace, period.start),
        )
        .values("is_active", "was_active", "had_before", "user__source")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {"active": 0, "new": 0, "previous_active": 0, "churned": 0}
    sources = {}
    for row in rows:
        is_new = row["is_active"] and not row["had_before"]
        counts["active"] += row["n"] if row["is_active"] else 0
        counts["new"] += row["n"] if is_new else 0
        counts["previous_active"] += row["n"] if row["was_active"] else 0
        counts["churned"] += row["n"] if row["was_active"] and not row["is_active"] else 0
        if is_new:
            source = row["user__source"] or UNKNOWN
            sources[source] = sources.get(source, 0) + row["n"]
    return {
        "new_users": counts["new"],
        "returning_users": counts["active"] - counts["new"],
        "churn_rate": ratio(counts["churned"], counts["previous_active"]),
        "by_source": dict(sorted(sources.items(), key=lambda item: (-item[1], item[0]))),
    }


def _retention(workspace, period):
    cohort = new_learners(workspace, period).annotate(first_day=trunc("day", "first_at"))
    aggregates = {"users": Count("id")}
    for days in RETENTION_DAYS:
        cohort = cohort.annotate(
            **{
                f"day{days}_from": ExpressionWrapper(F("first_day") + timedelta(days=days), output_field=DateTimeField()),
                f"day{days}_to": ExpressionWrapper(F("first_day") + timedelta(days=days + 1), output_field=DateTimeField()),
            }
        )
        eligible = Q(first_at__lt=period.end - timedelta(days=days))
        aggregates[f"eligible{days}"] = Count("id", filter=eligible)
        aggregates[f"retained{days}"] = Count(
            "id", filter=eligible & activity_between(workspace, f"day{days}_from", f"day{days}_to")
        )
    rows = cohort.annotate(week=trunc("week", "first_at")).values("week").annotate(**aggregates).order_by("week")
    weeks = fill_buckets(period, "week", {row.pop("week"): row for row in rows}, lambda: dict.fromkeys(aggregates, 0))

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
    if "activity" in sections:
        result["activity"] = _activity(workspace, period)
    if "growth" in sections:
        result["growth"] = _growth(workspace, period)
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
    members = learners(workspace)
    sessions = PageSession.objects.filter(workspace=workspace, user_id__in=members.values("user_id")).filter(
        _window("started_at", period.start, period.end)
    )
    learner_day_figures = dict(
        learner_days=Count("user_id"),
        learners=Count("user_id", distinct=True),
        sessions=Sum("n"),
        duration=Sum("seconds"),
        bounces=Count("user_id", filter=Q(n=1)),
    )

    def per_learner_day(page_sessions):
        grouped = page_sessions.annotate(day=trunc("day", "started_at")).values("user_id", "day")
        return grouped.annotate(n=Count("id"), seconds=Sum("duration_s")).aggregate(**learner_day_figures)

    totals = per_learner_day(sessions)
    new = per_learner_day(sessions.filter(user_id__in=new_learners(workspace, period).values("user_id")))
    hours = sessions.annotate(hour=ExtractHour("started_at", tzinfo=UTC)).values("hour").annotate(
        users=Count("user_id", distinct=True)
    )
    users_by_hour = {row["hour"]: row["users"] for row in hours}

    sessions_total = totals["sessions"] or 0
    duration_total = totals["duration"] or 0
    new_sessions = new["sessions"] or 0
    new_duration = new["duration"] or 0
    returning_days = totals["learner_days"] - new["learner_days"]
    return {
        "average_session_duration": ratio(duration_total, sessions_total, places=2),
        "pages_per_session": ratio(sessions_total, totals["learner_days"], places=2),
        "bounce_rate": ratio(totals["bounces"], totals["learner_days"]),
        "by_user_type": {
            "new": {
                "session_duration": ratio(new_duration, new_sessions, places=2),
                "pages_per_session": ratio(new_sessions, new["learner_days"], places=2),
            },
            "returning": {
                "session_duration": ratio(duration_total - new_duration, sessions_total - new_sessions, places=2),
                "pages_per_session": ratio(sessions_total - new_sessions, returning_days, places=2),
            },
        },
        "by_time_of_day": [
            {
                "hour": hour,
                "users": users_by_hour.get(hour, 0),
                "engagement": ratio(users_by_hour.get(hour, 0), totals["learners"]),
            }
            for hour in range(24)
        ],
    }
