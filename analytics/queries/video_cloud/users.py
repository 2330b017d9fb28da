"""VideoCloud user analytics: activity, growth, retention and engagement of a workspace's learners.

A learner is a member of the workspace with the learner role. A learner is active in a window
when they have a page session, a learning event or a video view starting in it. Their first
activity is the earliest of those three, ever. The union of the three activity tables is a
subquery (`user_id IN (... UNION ...)`), so every count is one SQL query, never a loop over rows.
"""

from datetime import datetime, timedelta

from django.db.models import Avg, Count, DateTimeField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, Least

from accounts.models import Membership, Role
from analytics.models import LearningEvent, PageSession, ReactionType, VideoReaction, VideoView

from .periods import UTC, bucket_label, day_start, fill_buckets, ratio, resolve_period, rounded, trunc

UNKNOWN = "unknown"
RETENTION_DAYS = (1, 7, 30)
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
FORUM_POST_EVENT = "posted_forum"

# (model, time field) of every kind of activity.
ACTIVITY_SOURCES = ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at"))


def learners(workspace):
    return Membership.objects.filter(workspace=workspace, role=Role.LEARNER)


def active_user_ids(workspace, start, end):
    """Subquery of the ids of users with any activity in [start, end) in the workspace."""
    parts = [
        model.objects.filter(workspace=workspace, **{f"{field}__gte": start, f"{field}__lt": end}).values("user_id")
        for model, field in ACTIVITY_SOURCES
    ]
    return parts[0].union(*parts[1:])


def no_activity_before(workspace, moment):
    """Condition on an outer `user_id`: the user has no activity before `moment`."""
    condition = Q()
    for model, field in ACTIVITY_SOURCES:
        condition &= ~Exists(
            model.objects.filter(workspace=workspace, user_id=OuterRef("user_id"), **{f"{field}__lt": moment})
        )
    return condition


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


def first_activity_at(workspace):
    """Expression on an outer `user_id`: the time of the user's first activity in the workspace."""
    firsts = []
    for model, field in ACTIVITY_SOURCES:
        earliest = (
            model.objects.filter(workspace=workspace, user_id=OuterRef("user_id"))
            .order_by()
            .values("user_id")
            .annotate(first=Min(field))
            .values("first")[:1]
        )
        firsts.append(Coalesce(Subquery(earliest), Value(FAR_FUTURE)))
    return Least(*firsts)


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
    active = members.aggregate(
        **{
            name: Count("id", filter=Q(user_id__in=active_user_ids(workspace, tomorrow - timedelta(days=days), tomorrow)))
            for name, days in (("daily", 1), ("weekly", 7), ("monthly", 30))
        }
    )
    sessions = PageSession.objects.filter(workspace=workspace, user_id__in=members.values("user_id")).filter(
        _window("started_at", period.start, period.end)
    )
    session_totals = sessions.aggregate(total=Count("id"), average=Avg("duration_s"))
    by_device = sessions.values("device").annotate(n=Count("id")).order_by("-n", "device")
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
            "total": session_totals["total"],
            "average_duration": rounded(session_totals["average"]),
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
    current_ids = active_user_ids(workspace, period.start, period.end)
    previous_ids = active_user_ids(workspace, previous.start, previous.end)
    members = learners(workspace)
    new = Q(user_id__in=current_ids) & no_activity_before(workspace, period.start)
    counts = members.aggregate(
        active=Count("id", filter=Q(user_id__in=current_ids)),
        new=Count("id", filter=new),
        previous_active=Count("id", filter=Q(user_id__in=previous_ids)),
        churned=Count("id", filter=Q(user_id__in=previous_ids) & ~Q(user_id__in=current_ids)),
    )
    sources = members.filter(new).values("user__source").annotate(n=Count("id")).order_by("-n", "user__source")
    return {
        "new_users": counts["new"],
        "returning_users": counts["active"] - counts["new"],
        "churn_rate": ratio(counts["churned"], counts["previous_active"]),
        "by_source": _by_key(sources, "user__source"),
    }


def _retention(workspace, period):
    cohort = learners(workspace).filter(
        Q(user_id__in=active_user_ids(workspace, period.start, period.end)) & no_activity_before(workspace, period.start)
    )
    cohort = cohort.annotate(first_at=first_activity_at(workspace)).annotate(first_day=trunc("day", "first_at"))
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
    new_ids = members.filter(
        Q(user_id__in=active_user_ids(workspace, period.start, period.end)) & no_activity_before(workspace, period.start)
    ).values("user_id")
    is_new = Q(user_id__in=new_ids)
    per_day = sessions.annotate(day=trunc("day", "started_at")).values("user_id", "day").annotate(
        n=Count("id"), seconds=Sum("duration_s")
    )
    totals = per_day.aggregate(
        learner_days=Count("user_id"),
        learners=Count("user_id", distinct=True),
        sessions=Sum("n"),
        duration=Sum("seconds"),
        bounces=Count("user_id", filter=Q(n=1)),
        new_days=Count("user_id", filter=is_new),
        new_sessions=Sum("n", filter=is_new),
        new_duration=Sum("seconds", filter=is_new),
    )
    hours = sessions.annotate(hour=ExtractHour("started_at", tzinfo=UTC)).values("hour").annotate(
        users=Count("user_id", distinct=True)
    )
    users_by_hour = {row["hour"]: row["users"] for row in hours}

    sessions_total = totals["sessions"] or 0
    duration_total = totals["duration"] or 0
    new_sessions = totals["new_sessions"] or 0
    new_duration = totals["new_duration"] or 0
    returning_days = totals["learner_days"] - totals["new_days"]
    return {
        "average_session_duration": ratio(duration_total, sessions_total, places=2),
        "pages_per_session": ratio(sessions_total, totals["learner_days"], places=2),
        "bounce_rate": ratio(totals["bounces"], totals["learner_days"]),
        "by_user_type": {
            "new": {
                "session_duration": ratio(new_duration, new_sessions, places=2),
                "pages_per_session": ratio(new_sessions, totals["new_days"], places=2),
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
