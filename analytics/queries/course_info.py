"""Numbers of the Open edX-compatible course information API (`/api/v0/courses/{course_id}/...`).

Every function takes a course (already checked to belong to the caller's workspace), the period
and `now`, and returns plain dicts. Rules (docs/api/course_info.md has the full list):

- Days and weeks are UTC. A learner counts as enrolled at the end of day D when they enrolled
  before D+1 00:00 and had not unenrolled before D+1 00:00; `cumulative_count` counts everyone
  who had enrolled before D+1 00:00, unenrolled or not.
- Weeks run from Monday 00:00 to the next Monday 00:00.

Where the numbers come from: the rollup tables (CourseEnrollmentStep, CourseActivityWeek,
VideoAudience), which Celery rebuilds from the raw rows with the SQL built here, course by course
(analytics.services.course_info_rollups); tracked page sessions, events and video views also add
to the activity and audience counts by difference as they are written, without making the course
stale. `from_raw=True` computes the same numbers from the raw
rows instead, with the same SQL: slower on large courses (docs/benchmarks-course-info.md).
`from_raw=None` (the default) lets course_info_sources() choose per course: the rollups while the
course is fresh, the raw rows while a write to that course committed since its last rebuild is
not in them yet (CourseInfoState), so a change shows at once, with or without a Celery worker
running, and a write to one course never slows the reads of another.

Enrollment numbers are kept as steps: per course, breakdown and category, a row per day the
numbers changed, with the running totals (window sums over +1 enrollment / -1 unenrollment
events) and the day of the next change. Reading a period is then fetching the steps in effect
during it; Python lays those few values out on the calendar (work proportional to the rows
returned, never to the number of enrollments).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import pycountry
from django.db import connection
from django.db.models import Case, CharField, DateTimeField, F, IntegerField, Max, Q, Value, When
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncWeek

from analytics.definitions import UTC, is_learner_sql
from analytics.models import (
    CourseActivityKind,
    CourseActivityWeek,
    CourseEnrollmentStep,
    CourseInfoState,
    LearningEvent,
    PageSession,
    VideoEdge,
    VideoView,
)
from courses.models import Enrollment, EnrollmentMode, Video
from analytics.queries.sql import read_cursor, utc_datetime

ROLLUP_NAME = "course_info"  # RollupState row: when the whole activity history was last rebuilt

# Where a course's numbers are read from (course_info_sources).
ROLLUP, RAW = "rollup", "raw"


def fresh_course_states():
    """The CourseInfoState rows of fresh courses: refreshed, and no change noted at or after
    the refresh's start. Every other course (no row, never refreshed, changed since) is stale."""
    return CourseInfoState.objects.filter(refreshed_at__isnull=False).filter(
        Q(changed_at__isnull=True) | Q(changed_at__lt=F("refreshed_at"))
    )


def stale_course_ids(course_ids):
    """The ids among course_ids whose rollups may miss a committed change (fresh_course_states).
    One query."""
    course_ids = set(course_ids)
    if not course_ids:
        return set()
    fresh = fresh_course_states().filter(course_id__in=course_ids).values_list("course_id", flat=True)
    return course_ids - set(fresh)


def course_info_sources(course_ids, from_raw=None):
    """{course_id: ROLLUP or RAW}: the one place that picks where each course's numbers come
    from. The rollups unless that course is stale (stale_course_ids), so a write in one course
    never sends another course's reads to the raw rows. from_raw True / False forces RAW / ROLLUP
    (tests; a caller that already decided)."""
    course_ids = set(course_ids)
    if from_raw is not None:
        return dict.fromkeys(course_ids, RAW if from_raw else ROLLUP)
    stale = stale_course_ids(course_ids)
    return {course_id: RAW if course_id in stale else ROLLUP for course_id in course_ids}


def _reads_raw(course, from_raw):
    """Whether the course's numbers come from the raw rows (course_info_sources)."""
    return course_info_sources([course.pk], from_raw)[course.pk] == RAW


ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)

# Modes answered on every /enrollment/mode/ row. `no-id-professional` is added to
# `professional`, as Open edX's API does; every other mode of the catalogue has its own key.
MODE_MERGES = {EnrollmentMode.NO_ID_PROFESSIONAL.value: EnrollmentMode.PROFESSIONAL.value}
REPORTED_MODES = tuple(mode.value for mode in EnrollmentMode if mode.value not in MODE_MERGES)

GENDERS = {"f": "female", "m": "male", "o": "other"}
UNKNOWN_GENDER = "unknown"
GENDER_KEYS = ("female", "male", "other", UNKNOWN_GENDER)

UNKNOWN_COUNTRY_NAME = "UNKNOWN"

# Learning event types per activity. The first name of each is the project's own; the others are
# the raw Open edX tracking-log names, counted too in case an importer stored them unmapped.
ACTIVITY_EVENT_TYPES = {
    "played_video": ("played_video", "play_video"),
    "attempted_problem": ("attempted_problem", "problem_check"),
    "posted_forum": (
        "posted_forum",
        "edx.forum.thread.created",
        "edx.forum.response.created",
        "edx.forum.comment.created",
    ),
}
ACTIVITY_TYPES = ("any", "attempted_problem", "played_video", "posted_forum")
# What a learning event's type counts as (ACTIVITY_EVENT_TYPES); other types: CourseActivityKind.ANY.
EVENT_ACTIVITY = {
    event_type: CourseActivityKind[activity.upper()]
    for activity, event_types in ACTIVITY_EVENT_TYPES.items()
    for event_type in event_types
}


# ---------------------------------------------------------------------------------------------
# Periods


def start_of_day(day):
    """The aware UTC datetime at 00:00 of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def week_start(moment):
    """Monday 00:00 UTC of the week holding `moment` (an aware datetime)."""
    day = moment.astimezone(UTC).date()
    return start_of_day(day - timedelta(days=day.weekday()))


def first_week_start_at_or_after(moment):
    """The first Monday 00:00 UTC at or after `moment`."""
    monday = week_start(moment)
    return monday if monday == moment else monday + ONE_WEEK


@dataclass(frozen=True)
class DayWindow:
    """Days `[start, end)` to report; `start` None means "from the course's first enrollment"."""

    start: date | None
    end: date


def enrollment_day_window(start_day, end_day, today):
    """The days an enrollment endpoint reports.

    No dates: the previous day. Only `start_day`: up to and including today (today's row counts
    so far). Only `end_day`: from the course's first enrollment. Never days after today.
    """
    if start_day is None and end_day is None:
        return DayWindow(today - ONE_DAY, today)
    tomorrow = today + ONE_DAY
    end = tomorrow if end_day is None else min(end_day, tomorrow)
    return DayWindow(start_day, end)


@dataclass(frozen=True)
class WeekWindow:
    """Weeks starting at or after `start` and ending at or before `end` (aware datetimes);
    `start` None means "from the course's first activity"."""

    start: datetime | None
    end: datetime


def activity_week_window(start_at, end_at, now):
    """The weeks a weekly activity request reports.

    (course_activity_by_week answers a request without dates itself.) Every week lying
    inside `[start_at, end_at)`; without `end_at` up to and including the week in progress;
    without `start_at` from the week of the course's first activity.
    """
    this_week = week_start(now)
    start = None if start_at is None else first_week_start_at_or_after(start_at)
    end = this_week + ONE_WEEK if end_at is None else week_start(end_at)
    return WeekWindow(start, end)


def most_recent_whole_week(now):
    """(start, end) of the last whole Monday-to-Monday week before `now`."""
    this_week = week_start(now)
    return this_week - ONE_WEEK, this_week


# ---------------------------------------------------------------------------------------------
# Enrollment counts per day


# What an enrollment is counted under, per breakdown; text, so that every breakdown's steps fit
# one table (birth years come back as text and are turned into numbers when shaped).
ENROLLMENT_DIMENSIONS = {
    "total": Value("", output_field=CharField()),
    "mode": F("mode"),
    "gender": F("user__gender"),
    "birth_year": Cast(F("user__birth_year"), output_field=CharField()),
    "education_level": F("user__education_level"),
    "country": F("user__country"),
}


def _as_date(value):
    """Days come back as `date` from PostgreSQL and as ISO text from SQLite."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def enrollment_steps_sql(dimensions, course_id=None, end_day=None):
    """(sql, params): a WITH clause defining `steps` (course_id, dimension, category, day,
    enrolled, ever_enrolled, next_day) for the given breakdowns (ENROLLMENT_DIMENSIONS keys), of
    one course, of several (course_id a list or tuple of ids) or every course when course_id is
    None, counting only what happened before `end_day` (None: everything).

    Enrollments become +1 events on their UTC day and unenrollments -1 events on theirs (UNION
    ALL, read once for all breakdowns), summed per course, breakdown, category and day, then
    running sums and LEAD() over days. The rollup builder inserts these rows; from_raw reads
    them directly.
    """
    dimensions = tuple(dimensions)
    names = [f"category_{index}" for index in range(len(dimensions))]
    base = Enrollment.objects.order_by()
    if isinstance(course_id, (list, tuple)):
        base = base.filter(course_id__in=course_id)
    elif course_id is not None:
        base = base.filter(course_id=course_id)
    joined, left = base, base.filter(unenrolled_at__isnull=False)
    if end_day is not None:
        joined = joined.filter(enrolled_at__lt=start_of_day(end_day))
        left = left.filter(unenrolled_at__lt=start_of_day(end_day))
    categories = {name: ENROLLMENT_DIMENSIONS[dimension] for name, dimension in zip(names, dimensions)}
    columns = ("course_ref", "day", "enrolled_delta", "ever_delta", *names)
    joined = joined.annotate(
        course_ref=F("course_id"),
        day=TruncDate("enrolled_at", tzinfo=UTC),
        enrolled_delta=Value(1, output_field=IntegerField()),
        ever_delta=Value(1, output_field=IntegerField()),
        **categories,
    ).values_list(*columns)
    left = left.annotate(
        course_ref=F("course_id"),
        day=TruncDate("unenrolled_at", tzinfo=UTC),
        enrolled_delta=Value(-1, output_field=IntegerField()),
        ever_delta=Value(0, output_field=IntegerField()),
        **categories,
    ).values_list(*columns)
    events_sql, params = joined.union(left, all=True).query.sql_with_params()
    per_dimension = " UNION ALL ".join(
        f"SELECT course_id, %s AS dimension, {name} AS category, day, "
        f"SUM(enrolled_delta) AS enrolled_delta, SUM(ever_delta) AS ever_delta "
        f"FROM events GROUP BY course_id, {name}, day"
        for name in names
    )
    sql = f"""
        WITH events (course_id, day, enrolled_delta, ever_delta, {", ".join(names)}) AS ({events_sql}),
        per_day AS ({per_dimension}),
        steps AS (
            SELECT course_id, dimension, category, day,
                SUM(enrolled_delta) OVER running AS enrolled,
                SUM(ever_delta) OVER running AS ever_enrolled,
                LEAD(day) OVER (PARTITION BY course_id, dimension, category ORDER BY day) AS next_day
            FROM per_day
            WINDOW running AS (
                PARTITION BY course_id, dimension, category ORDER BY day ROWS UNBOUNDED PRECEDING
            )
        )
    """
    return sql, (*params, *dimensions)


def _steps_from_raw(course, dimension, window):
    with_sql, params = enrollment_steps_sql([dimension], course.pk, window.end)
    sql = with_sql + "SELECT category, day, enrolled, ever_enrolled, next_day FROM steps"
    if window.start is not None:
        sql += " WHERE next_day IS NULL OR next_day > %s"
        params = (*params, connection.ops.adapt_datefield_value(window.start))
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# The stored steps of one course and breakdown before a day (and, with _STEPS_AFTER, still in
# effect after another), written once: building the queryset cost more than reading the rows.
_STEPS_SQL = (
    "SELECT category, day, enrolled, ever_enrolled, next_day FROM {} "
    "WHERE course_id = %s AND dimension = %s AND day < %s"
).format(CourseEnrollmentStep._meta.db_table)
_STEPS_AFTER = " AND (next_day IS NULL OR next_day > %s)"


def _steps_from_rollup(course, dimension, window):
    adapt = connection.ops.adapt_datefield_value
    sql, params = _STEPS_SQL, [course.pk, dimension, adapt(window.end)]
    if window.start is not None:
        sql, params = sql + _STEPS_AFTER, [*params, adapt(window.start)]
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _enrollment_steps(course, dimension, window, from_raw):
    """[(category, day, enrolled, ever_enrolled, next_day)]: the steps of one course and
    breakdown in effect on some day of the window (see enrollment_steps_sql), days as dates and
    counts as ints: SQLite gives days as text, the raw path's sums arrive as Decimals on
    PostgreSQL; the stored steps on PostgreSQL are typed already (no pass over their rows)."""
    if _reads_raw(course, from_raw):
        rows = _steps_from_raw(course, dimension, window)
    else:
        rows = _steps_from_rollup(course, dimension, window)
        if not rows or isinstance(rows[0][1], date):
            return rows
    return [
        (cat, _as_date(day), int(enrolled), int(ever), _as_date(next_day))
        for cat, day, enrolled, ever, next_day in rows
    ]


def _daily_enrollment(course, dimension, window, from_raw):
    """(days, {category: [(enrolled, ever_enrolled) or None, one per day]}) for the window.

    None on a day: nobody of the category had enrolled, ever, by the end of that day.
    """
    steps = _enrollment_steps(course, dimension, window, from_raw)
    start = window.start
    if start is None:
        if not steps:
            return [], {}
        start = min(step[1] for step in steps)
    size = max((window.end - start).days, 0)
    days = [start + timedelta(days=offset) for offset in range(size)]
    series = {}
    for cat, step_day, enrolled, ever, next_day in steps:
        values = series.get(cat)
        if values is None:
            values = series[cat] = [None] * size
        first = max((step_day - start).days, 0)
        last = size if next_day is None else min((next_day - start).days, size)
        if first < last:
            values[first:last] = [(enrolled, ever)] * (last - first)
    return days, series


def _enrolled(values, index):
    value = values[index]
    return 0 if value is None else value[0]


def course_enrollment_by_day(course, start_day, end_day, today, *, from_raw=None):
    """[{date, count}]: learners enrolled at the end of each UTC day, one row per day."""
    window = enrollment_day_window(start_day, end_day, today)
    days, series = _daily_enrollment(course, "total", window, from_raw)
    values = series.get("", [None] * len(days))
    return [{"date": day, "count": _enrolled(values, index)} for index, day in enumerate(days)]


def course_enrollment_by_mode(course, start_day, end_day, today, *, from_raw=None):
    """[{date, count, cumulative_count, <mode>...}], one row per UTC day.

    `count`: learners enrolled at the end of the day; `cumulative_count`: learners who had
    enrolled by then, unenrolled or not; one key per mode (REPORTED_MODES) with the learners
    enrolled in it, `no-id-professional` counted as `professional`. A learner counts under the
    mode their enrollment has now (mode changes are not kept).
    """
    days, series = _daily_enrollment(course, "mode", enrollment_day_window(start_day, end_day, today), from_raw)
    rows = []
    for index, day in enumerate(days):
        row = {"date": day, "count": 0, "cumulative_count": 0, **dict.fromkeys(REPORTED_MODES, 0)}
        for mode, values in series.items():
            if values[index] is None:
                continue
            enrolled, ever = values[index]
            key = MODE_MERGES.get(mode, mode)
            if key in row:
                row[key] += enrolled
            row["count"] += enrolled
            row["cumulative_count"] += ever
        rows.append(row)
    return rows


def course_enrollment_by_gender(course, start_day, end_day, today, *, from_raw=None):
    """[{date, female, male, other, unknown}], one row per UTC day, of learners enrolled at its end.

    `unknown` counts learners who did not give a gender."""
    days, series = _daily_enrollment(course, "gender", enrollment_day_window(start_day, end_day, today), from_raw)
    keyed = [(GENDERS.get(gender or "", UNKNOWN_GENDER), values) for gender, values in series.items()]
    rows = []
    for index, day in enumerate(days):
        row = {"date": day, **dict.fromkeys(GENDER_KEYS, 0)}
        for key, values in keyed:
            row[key] += _enrolled(values, index)
        rows.append(row)
    return rows


def _per_category_rows(course, dimension, key, start_day, end_day, today, from_raw, clean):
    """[{date, <key>, count}] per day and category with at least one learner enrolled at the end
    of the day; categories cleaned by `clean` (several may merge), in ascending order, unknown
    (None) first."""
    window = enrollment_day_window(start_day, end_day, today)
    days, series = _daily_enrollment(course, dimension, window, from_raw)
    counts = {}
    for raw_category, values in series.items():
        merged = counts.setdefault(clean(raw_category), [0] * len(days))
        for index, value in enumerate(values):
            if value is not None:
                merged[index] += value[0]
    ordered = sorted(counts, key=lambda v: (v is not None, v if v is not None else ""))
    rows = []
    for index, day in enumerate(days):
        for category in ordered:
            count = counts[category][index]
            if count:
                rows.append({"date": day, key: category, "count": count})
    return rows


def course_enrollment_by_birth_year(course, start_day, end_day, today, *, from_raw=None):
    """[{date, birth_year, count}] of learners enrolled at the end of each UTC day, per birth
    year; learners without one are counted under birth_year None. Years with nobody are left out."""
    return _per_category_rows(
        course,
        "birth_year",
        "birth_year",
        start_day,
        end_day,
        today,
        from_raw,
        clean=lambda year: int(year) if year not in (None, "") else None,
    )


def course_enrollment_by_education(course, start_day, end_day, today, *, from_raw=None):
    """[{date, education_level, count}] of learners enrolled at the end of each UTC day, per
    education level (Open edX values); learners without one under None. Empty levels left out."""
    return _per_category_rows(
        course,
        "education_level",
        "education_level",
        start_day,
        end_day,
        today,
        from_raw,
        clean=lambda level: level or None,
    )


@dataclass(frozen=True)
class Country:
    alpha2: str | None
    alpha3: str | None
    name: str


UNKNOWN_COUNTRY = Country(None, None, UNKNOWN_COUNTRY_NAME)


@lru_cache(maxsize=512)
def country_for_code(code):
    """The ISO 3166 country of an alpha-2 code (pycountry), UNKNOWN_COUNTRY when empty or unknown."""
    code = (code or "").strip().upper()
    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if found is None:
        return UNKNOWN_COUNTRY
    return Country(found.alpha_2, found.alpha_3, found.name)


def course_enrollment_by_location(course, start_day, end_day, today, *, from_raw=None):
    """[{date, country: Country, count}] of learners enrolled at the end of each UTC day, per
    country of their profile. Learners without a country, or with a code that is not ISO 3166
    alpha-2, are counted once under UNKNOWN, which comes first; then countries by alpha-2."""
    rows = _per_category_rows(
        course,
        "country",
        "country",
        start_day,
        end_day,
        today,
        from_raw,
        clean=lambda code: country_for_code(code).alpha2,
    )
    for row in rows:
        row["country"] = country_for_code(row["country"])
    return rows


# ---------------------------------------------------------------------------------------------
# Weekly activity


def activity_weeks_sql(course_id=None, start_at=None, end_at=None, *, one_interval=False):
    """(sql, params): a WITH clause defining `weeks` (course_id, week, any, attempted_problem,
    played_video, posted_forum) for one course, several (a list or tuple of ids), or every course
    when course_id is None, over the rows in [start_at, end_at) (None: unbounded). one_interval:
    the whole window is one "week" starting at start_at (a rolling week, not Monday to Monday).

    The UNION ALL of (course, week, user, kind) from learning events, video views and course
    page sessions, reduced to one row per course, week and user (which kinds they did), kept when
    the user is a learner of the row's workspace (analytics.definitions.is_learner_sql: instructors
    and admins are not counted), then counted per course and week: distinct learners, without
    COUNT(DISTINCT)'s sorts.
    """

    def scoped(queryset, field):
        queryset = queryset.filter(course__isnull=False).order_by()
        if isinstance(course_id, (list, tuple)):
            queryset = queryset.filter(course_id__in=course_id)
        elif course_id is not None:
            queryset = queryset.filter(course_id=course_id)
        if start_at is not None:
            queryset = queryset.filter(**{f"{field}__gte": start_at})
        if end_at is not None:
            queryset = queryset.filter(**{f"{field}__lt": end_at})
        week = Value(start_at, output_field=DateTimeField()) if one_interval else TruncWeek(field, tzinfo=UTC)
        return queryset.annotate(course_ref=F("course_id"), week=week, learner=F("user_id"), ws=F("workspace_id"))

    event_kind = Case(
        *[When(type__in=types, then=Value(kind)) for kind, types in ACTIVITY_EVENT_TYPES.items()],
        default=Value("other"),
        output_field=CharField(),
    )
    columns = ("course_ref", "week", "learner", "kind", "ws")
    events = scoped(LearningEvent.objects, "occurred_at").annotate(kind=event_kind)
    views = scoped(VideoView.objects, "started_at").annotate(kind=Value("played_video", output_field=CharField()))
    sessions = scoped(PageSession.objects, "started_at").annotate(kind=Value("other", output_field=CharField()))
    union = events.values_list(*columns).union(views.values_list(*columns), sessions.values_list(*columns), all=True)
    union_sql, params = union.query.sql_with_params()
    sql = f"""
        WITH activity (course_id, week, user_id, kind, workspace_id) AS ({union_sql}),
        users AS (
            SELECT course_id, week, user_id, workspace_id,
                MAX(CASE WHEN kind = 'attempted_problem' THEN 1 ELSE 0 END) AS attempted_problem,
                MAX(CASE WHEN kind = 'played_video' THEN 1 ELSE 0 END) AS played_video,
                MAX(CASE WHEN kind = 'posted_forum' THEN 1 ELSE 0 END) AS posted_forum
            FROM activity GROUP BY course_id, week, user_id, workspace_id
        ),
        weeks AS (
            SELECT course_id, week, COUNT(*) AS any_count, SUM(attempted_problem) AS attempted_problem,
                SUM(played_video) AS played_video, SUM(posted_forum) AS posted_forum
            FROM users u WHERE {is_learner_sql("u")} GROUP BY course_id, week
        )
    """
    return sql, tuple(params)


def activity_learners_sql(course_id=None, start_at=None, end_at=None):
    """(sql, params): activity_weeks_sql's WITH clause plus `learners` (course_id, week, user_id,
    activity): one row per course, week, learner and activity they did (CourseActivityKind: every
    active learner under ANY, and once more per kind), the presence rows behind the weekly
    counts (analytics.models.CourseActivityLearner)."""
    with_sql, params = activity_weeks_sql(course_id, start_at, end_at)
    kinds = [(CourseActivityKind.ANY, "1 = 1")] + [
        (kind, f"{kind.label} = 1") for kind in CourseActivityKind if kind != CourseActivityKind.ANY
    ]
    unpivot = " UNION ALL ".join(
        f"SELECT course_id, week, user_id, {int(kind)} AS activity FROM active_learners WHERE {condition}"
        for kind, condition in kinds
    )
    sql = f"""{with_sql},
        active_learners AS (SELECT * FROM users u WHERE {is_learner_sql("u")}),
        learners AS ({unpivot})
    """
    return sql, params


def _rolling_week_counts(course, start_at, end_at):
    """{activity: distinct learners} of the course in [start_at, end_at), from the raw rows (the
    weekly rollups hold Monday-to-Monday weeks only)."""
    with_sql, params = activity_weeks_sql(course.pk, start_at, end_at, one_interval=True)
    with read_cursor() as cursor:
        cursor.execute(with_sql + "SELECT any_count, attempted_problem, played_video, posted_forum FROM weeks", params)
        row = cursor.fetchone()
    return dict(zip(ACTIVITY_TYPES, map(int, row or (0, 0, 0, 0))))


def _activity_counts(course, start_at, end_at, from_raw):
    """{week_start: {activity: distinct learners}} for the course's weeks starting in
    [start_at, end_at) that had any activity."""
    if _reads_raw(course, from_raw):
        with_sql, params = activity_weeks_sql(course.pk, start_at, end_at)
        with read_cursor() as cursor:
            cursor.execute(
                with_sql + "SELECT week, any_count, attempted_problem, played_video, posted_forum FROM weeks",
                params,
            )
            rows = cursor.fetchall()
    else:
        weeks = CourseActivityWeek.objects.filter(course=course, week_start__lt=end_at)
        if start_at is not None:
            weeks = weeks.filter(week_start__gte=start_at)
        rows = weeks.values_list("week_start", "any", "attempted_problem", "played_video", "posted_forum")
    return {utc_datetime(week): dict(zip(ACTIVITY_TYPES, map(int, counts))) for week, *counts in rows}


def course_activity_by_week(course, start_at, end_at, now, *, from_raw=None):
    """[{interval_start, interval_end, any, attempted_problem, played_video, posted_forum}].

    No dates: one row, the seven days ending at today 00:00 UTC (the week ending on the previous
    day). Otherwise one row per Monday-to-Monday UTC week of the window (activity_week_window), zeros included;
    a week in progress has its counts so far. Each count is of distinct learners in the week:
    `any` with any learning event, video view or page session of the course;
    `played_video` with a video view or a played_video event; `attempted_problem` and
    `posted_forum` with those events.
    """
    if start_at is None and end_at is None:
        # The document's default: "the week ending on the previous day".
        end = start_of_day(now.astimezone(UTC).date())
        start = end - ONE_WEEK
        return [{"interval_start": start, "interval_end": end, **_rolling_week_counts(course, start, end)}]
    window = activity_week_window(start_at, end_at, now)
    if window.start is not None and window.start >= window.end:
        return []
    counts = _activity_counts(course, window.start, window.end, from_raw)
    start = window.start
    if start is None:
        if not counts:
            return []
        start = min(counts)
    rows = []
    week = start
    empty = dict.fromkeys(ACTIVITY_TYPES, 0)
    while week < window.end:
        rows.append({"interval_start": week, "interval_end": week + ONE_WEEK, **counts.get(week, empty)})
        week += ONE_WEEK
    return rows


def course_recent_activity(course, activity_type, now, *, from_raw=None):
    """{interval_start, interval_end, activity_type, count}: distinct learners who did
    `activity_type` (one of ACTIVITY_TYPES) in the most recent whole week before `now`."""
    start, end = most_recent_whole_week(now)
    counts = _activity_counts(course, start, end, from_raw).get(start, {})
    return {
        "interval_start": start,
        "interval_end": end,
        "activity_type": activity_type,
        "count": counts.get(activity_type, 0),
    }


# ---------------------------------------------------------------------------------------------
# Videos


def encoded_module_id(video_key):
    """Open edX's html id of a video usage key: the block id of `block-v1:...+block@ID` keys,
    `i4x-org-course-video-id` for `i4x://org/course/video/id`, else the key with characters
    other than letters, digits, `_` and `-` turned into `-`."""
    if video_key.startswith("block-v1:") and "block@" in video_key:
        return video_key.rsplit("block@", 1)[1]
    if video_key.startswith("i4x://"):
        video_key = "i4x-" + "-".join(part for part in video_key[len("i4x://") :].split("/") if part)
    return "".join(char if char.isalnum() or char in "_-" else "-" for char in video_key)


def video_audience_sql(course_id=None):
    """(sql, params): a WITH clause defining `audience` (video_id, users_at_start, users_at_end)
    per video with views, of one course, several (a list or tuple of ids) or every course:
    distinct learners with a view that covered the first / the last segment, counted from one row
    per video and learner."""
    views = VideoView.objects.order_by()
    if isinstance(course_id, (list, tuple)):
        views = views.filter(course_id__in=course_id)
    elif course_id is not None:
        views = views.filter(course_id=course_id)

    def flag(field):
        return Max(Case(When(**{field: True}, then=1), default=0, output_field=IntegerField()))

    per_learner = (
        views.values("video_id", "user_id")
        .annotate(at_start=flag("watched_first_segment"), at_end=flag("watched_last_segment"))
        .values_list("video_id", "user_id", "at_start", "at_end")
    )
    inner_sql, params = per_learner.query.sql_with_params()
    sql = f"""
        WITH learners (video_id, user_id, at_start, at_end) AS ({inner_sql}),
        audience AS (
            SELECT video_id, SUM(at_start) AS users_at_start, SUM(at_end) AS users_at_end
            FROM learners GROUP BY video_id
        )
    """
    return sql, tuple(params)


def video_audience_users_sql(course_id=None):
    """(sql, params): video_audience_sql's WITH clause plus `edges` (video_id, user_id, edge):
    one row per video, user and edge (VideoEdge) a view of theirs covered, the presence rows
    behind the audience counts (analytics.models.VideoAudienceUser)."""
    with_sql, params = video_audience_sql(course_id)
    sql = f"""{with_sql},
        edges AS (
            SELECT video_id, user_id, {int(VideoEdge.START)} AS edge FROM learners WHERE at_start = 1
            UNION ALL
            SELECT video_id, user_id, {int(VideoEdge.END)} AS edge FROM learners WHERE at_end = 1
        )
    """
    return sql, params


def course_videos(course, *, from_raw=None):
    """[{video_key, encoded_module_id, pipeline_video_id, duration, segment_length,
    users_at_start, users_at_end}], one per video of the course, by key.

    users_at_start / users_at_end: distinct learners with a view that covered the first / last
    segment (VideoView.watched_first_segment / watched_last_segment). One query (two from raw).
    """
    videos = Video.objects.filter(course=course).order_by("key")
    if _reads_raw(course, from_raw):
        with_sql, params = video_audience_sql(course.pk)
        with read_cursor() as cursor:
            cursor.execute(with_sql + "SELECT video_id, users_at_start, users_at_end FROM audience", params)
            audience = {video_id: (int(start), int(end)) for video_id, start, end in cursor.fetchall()}
        videos = [
            (
                video["id"],
                video["key"],
                video["duration_s"],
                video["segment_length_s"],
                *audience.get(video["id"], (0, 0)),
            )
            for video in videos.values("id", "key", "duration_s", "segment_length_s")
        ]
    else:
        videos = videos.annotate(
            at_start=Coalesce("course_info_audience__users_at_start", 0),
            at_end=Coalesce("course_info_audience__users_at_end", 0),
        ).values_list("id", "key", "duration_s", "segment_length_s", "at_start", "at_end")
    rows = []
    for _id, key, duration_s, segment_length_s, users_at_start, users_at_end in videos:
        module_id = encoded_module_id(key)
        rows.append(
            {
                "video_key": key,
                "encoded_module_id": module_id,
                "pipeline_video_id": f"{course.key}|{module_id}",
                "duration": duration_s,
                "segment_length": segment_length_s,
                "users_at_start": users_at_start,
                "users_at_end": users_at_end,
            }
        )
    return rows
