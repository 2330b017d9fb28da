"""Active learners: the one definition, and the two ways of counting it.

A learner (analytics.definitions: the learner role in the workspace, now) is active on a UTC day
when they have a page session, a learning event or a video view starting on it
(ACTIVITY_SOURCES): exactly when the learner-day rollup has their row for that day (LearnerDay,
kept in the writing transaction by analytics.services.learner_activity). Active in a window of
whole UTC days: active on one of its days. Their first activity is their first such day, ever.

Every count of active learners over windows (VideoCloud `activity.activeUsers` and `growth`) is
made by `active_learner_counts`, with one of two strategies that `counting_strategy` chooses (the
one place that decides, as PostHog's query runners pick theirs):
- LEARNER_ACTIVITY: one row per learner (LearnerActivity: first and last day, which of the
  RECENT_DAYS days before the last one had activity). It needs every window to end where the
  period ends and nobody to have a day on or after that end (activity dated in the future):
  then "active since day a" is `last_day >= a`.
- LEARNER_DAYS: the learners' LearnerDay rows of the windows, grouped per learner: any window,
  any learner subset, future-dated days or not.
The per-bucket counts (the dashboards' trend, analytics.queries.dashboards) read `learner_days`,
the same rows as the second strategy.

The per-learner daily sums (page sessions and their seconds, events, video views and seconds
watched of each user and UTC day: the export's learner-day rows) are `learner_day_sums`: the
rollup's rows, or, for some courses only (LearnerDay has no course), the same sums of those
courses' raw rows.
"""

from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import Case, Count, F, Max, Min, Q, Sum, When

from analytics.queries.sql import quoted_table, read_cursor
from analytics.definitions import UTC, learner_ids as role_learner_ids, utc_day
from analytics.models import (
    DAYS_PER_WORD,
    RECENT_DAY_WORDS,
    RECENT_DAYS,
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    VideoView,
)
from analytics.services.learner_activity import days_between

from .streams import merge_sorted_groups

# (model, time field) of every kind of activity: the raw rows the learner-day rollup is made of.
ACTIVITY_SOURCES = ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at"))

LEARNER_ACTIVITY = "learner_activity"
LEARNER_DAYS = "learner_days"
GROWTH_COUNTS = ("active", "new", "previous_active", "churned")


def learner_days(workspace, start_day, end_day, learner_ids=None):
    """The workspace's LearnerDay rows of learners on [start_day, end_day): one row per learner
    and day they were active. `learner_ids` (an id queryset or list) narrows the learners."""
    rows = LearnerDay.objects.filter(
        workspace=workspace, user_id__in=role_learner_ids(workspace), day__gte=start_day, day__lt=end_day
    )
    if learner_ids is not None:
        rows = rows.filter(user_id__in=learner_ids)
    return rows.order_by()


def new_learners(workspace, period):
    """LearnerActivity rows of the learners whose first activity is in the period."""
    return LearnerActivity.objects.filter(
        workspace=workspace, is_learner=True, first_day__gte=period.start_day, first_day__lt=period.end_day
    )


def earliest_activity(workspace):
    """00:00 UTC of the workspace's first day with activity (any user), or None: the start of the
    period `all` of the learner figures."""
    first = LearnerDay.objects.filter(workspace=workspace).aggregate(first=Min("day"))["first"]
    return None if first is None else datetime.combine(first, time.min, UTC)


def has_days_from(workspace, day):
    """Whether any user of the workspace has activity on `day` or later (future-dated rows)."""
    return LearnerActivity.objects.filter(workspace=workspace, last_day__gte=day).exists()


def counting_strategy(workspace, end_day, learner_ids=None):
    """LEARNER_ACTIVITY when counts of windows ending at `end_day` can be read from one row per
    learner (no learner subset asked, nobody active on `end_day` or later), else LEARNER_DAYS."""
    if learner_ids is None and not has_days_from(workspace, end_day):
        return LEARNER_ACTIVITY
    return LEARNER_DAYS


def active_learner_counts(workspace, period, windows, *, learner_ids=None):
    """Distinct active learners, as a dict:
    - for each (name, days) of `windows`: the learners active in the `days` UTC days ending on the
      period's last day;
    - "active": active in the period; "new": active in it, with their first activity in it;
      "previous_active": active in the previous period; "churned": previous_active and not active.
    `period` is made of whole UTC days. `learner_ids` narrows the learners. One query, plus the
    strategy's check (counting_strategy).
    """
    strategy = counting_strategy(workspace, period.end_day, learner_ids)
    if strategy == LEARNER_ACTIVITY:
        return _counts_from_learner_activity(workspace, period, windows)
    return _counts_from_learner_days(workspace, period, windows, learner_ids)


def _window_starts(period, windows):
    return [period.end_day - timedelta(days=days) for days in windows.values()]


def _counts_from_learner_days(workspace, period, windows, learner_ids):
    """active_learner_counts from the learners' LearnerDay rows of the windows and the two
    periods, grouped per learner (a flag per window); a learner is new when their LearnerActivity
    first day is in the period."""
    start, end, previous = period.start_day, period.end_day, period.previous.start_day
    starts = _window_starts(period, windows)

    def seen(condition):
        return Max(Case(When(condition, then=1), default=0))

    flags = {f"in_window{index}": seen(Q(day__gte=day)) for index, day in enumerate(starts)}
    flags.update(in_period=seen(Q(day__gte=start)), in_previous=seen(Q(day__gte=previous, day__lt=start)))
    per_learner = learner_days(workspace, min(previous, *starts), end, learner_ids).values("user_id").annotate(**flags)
    inner_sql, params = per_learner.query.sql_with_params()
    quote = connection.ops.quote_name
    counted = [f"COUNT(CASE WHEN p.{quote(name)} = 1 THEN 1 END)" for name in flags]
    in_period, in_previous = f"p.{quote('in_period')}", f"p.{quote('in_previous')}"
    sql = (
        f"SELECT {', '.join(counted)}, COUNT(CASE WHEN {in_period} = 1 AND a.first_day >= %s THEN 1 END), "
        f"COUNT(CASE WHEN {in_previous} = 1 AND {in_period} = 0 THEN 1 END) "
        f"FROM ({inner_sql}) p JOIN {quote(LearnerActivity._meta.db_table)} a "
        f"ON a.workspace_id = %s AND a.user_id = p.{quote('user_id')}"
    )
    with read_cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datefield_value(start), *params, workspace.pk])
        row = [int(value or 0) for value in cursor.fetchone()]
    counts = dict(zip(windows, row))
    active, previous_active, new, churned = row[len(windows) :]
    return {**counts, "active": active, "new": new, "previous_active": previous_active, "churned": churned}


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
        f"EXISTS (SELECT 1 FROM {quoted_table(LearnerDay)} d "
        f"WHERE d.workspace_id = a.workspace_id AND d.user_id = a.user_id AND d.day >= %s AND d.day < %s)"
    )
    return sql + f"WHEN a.hi < {RECENT_DAYS} THEN 1 = 0 ELSE {probe} END)", [previous, previous, start]


def _counts_from_learner_activity(workspace, period, windows):
    """active_learner_counts when nobody has a day on or after the period's end, in one pass over
    the LearnerActivity rows of the learners active since the previous period began or the
    earliest window began (the earlier): active since day a is `last_day >= a`; active in the
    previous period is read from the first day and the bitmap (_was_active_sql)."""
    start_day, end_day = period.start_day, period.end_day
    previous_start = period.previous.start_day
    adapt = connection.ops.adapt_datefield_value
    start, previous = adapt(start_day), adapt(previous_start)
    # Nobody's last day is after the period's last day (counting_strategy), so
    # a.hi <= (end_day - 1) - previous_start.
    was_active, was_params = _was_active_sql(previous, start, (end_day - timedelta(days=1) - previous_start).days)
    table = quoted_table(LearnerActivity)
    window_starts = [adapt(day) for day in _window_starts(period, windows)]
    learners = (
        f"SELECT a.*, {days_between('a.last_day', '%s')} + 1 AS lo, {days_between('a.last_day', '%s')} AS hi "
        f"FROM {table} a WHERE a.workspace_id = %s AND a.is_learner AND a.last_day >= %s"
    )
    sql = (
        f"SELECT {', '.join(['COUNT(CASE WHEN a.last_day >= %s THEN 1 END)'] * len(windows))}, "
        "COUNT(CASE WHEN a.last_day >= %s THEN 1 END), COUNT(CASE WHEN a.first_day >= %s THEN 1 END), "
        f"COUNT(CASE WHEN a.last_day >= %s AND (a.last_day < %s OR (a.first_day < %s AND {was_active})) THEN 1 END), "
        f"COUNT(CASE WHEN a.last_day >= %s AND a.last_day < %s THEN 1 END) FROM ({learners}) AS a"
    )
    params = [
        *window_starts,
        start,
        start,
        previous,
        start,
        start,
        *was_params,
        previous,
        start,
        start,
        previous,
        workspace.pk,
        min(previous, *window_starts),
    ]
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        return dict(zip((*windows, *GROWTH_COUNTS), cursor.fetchone()))


# The sums of learner_day_sums, and what each raw table gives of them (LearnerDay's columns).
DAY_SUMS = ("page_sessions", "page_seconds", "events", "video_views", "watch_seconds")
RAW_DAY_SUMS = {
    PageSession: {"page_sessions": Count("id"), "page_seconds": Sum("duration_s")},
    LearningEvent: {"events": Count("id")},
    VideoView: {"video_views": Count("id"), "watch_seconds": Sum("watched_s")},
}


def learner_day_sums(workspace, start_day, end_day, *, course_ids=None, user_id=None, chunk_size=5000):
    """Per user (every role) and UTC day in [start_day, end_day) with any activity: DAY_SUMS
    (page sessions and the sum of their duration_s, learning events, video views and the sum of
    their watched_s), with `user_public_id` and `user_email`. `course_ids` keeps the activity of
    those courses only, `user_id` one user's. Returns (row count, iterator of dicts by day, user).

    Without `course_ids` these are the learner-day rollup's rows (LearnerDay holds these sums,
    computed from the raw rows by analytics.services.learner_activity); with it (the rollup has
    no course), each raw table is grouped per user and UTC day in the database and the three
    sorted streams merged a (day, user) pair at a time, so memory does not grow with the rows.
    """
    if course_ids is None:
        return _day_sums_from_rollup(workspace, start_day, end_day, user_id, chunk_size)
    start, end = (datetime.combine(day, time.min, UTC) for day in (start_day, end_day))
    days = []
    for model, time_field in ACTIVITY_SOURCES:
        rows = model.objects.filter(
            workspace=workspace, course_id__in=course_ids, **{f"{time_field}__gte": start, f"{time_field}__lt": end}
        )
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        days.append(rows.annotate(day=utc_day(time_field)))
    count = days[0].values("day", "user_id").union(*(rows.values("day", "user_id") for rows in days[1:])).count()
    described = {"user_public_id": F("user__public_id"), "user_email": F("user__email")}
    streams = [
        rows.values("day", "user_id", **described)
        .annotate(**RAW_DAY_SUMS[model])
        .order_by("day", "user_id")
        .iterator(chunk_size=chunk_size)
        for rows, (model, _) in zip(days, ACTIVITY_SOURCES)
    ]
    merged = merge_sorted_groups(
        streams, key=lambda row: (row["day"], row["user_id"]), defaults=dict.fromkeys(DAY_SUMS, 0)
    )
    return count, merged


def _day_sums_from_rollup(workspace, start_day, end_day, user_id, chunk_size):
    rows = LearnerDay.objects.filter(workspace=workspace, day__gte=start_day, day__lt=end_day)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    stream = (
        rows.order_by("day", "user_id")
        .values("day", "user_id", *DAY_SUMS, user_public_id=F("user__public_id"), user_email=F("user__email"))
        .iterator(chunk_size=chunk_size)
    )
    return rows.count(), stream
