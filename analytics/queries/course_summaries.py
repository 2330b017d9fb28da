"""Numbers of the Open edX-compatible course summaries and programs (`/api/v0/course_summaries/`,
`/api/v0/programs/`); the dashboard may call these too.

Every figure for any number of courses comes from a fixed handful of queries, never one per
course (tests/analytics/test_edx_summaries_api.py counts them):

- the courses and their catalog facts (one query);
- which courses are stale (course_info.course_info_sources, one query): fresh courses are read
  from the rollups, stale ones (a write not rebuilt yet) from the raw rows, so each figure below
  is one query, or two when some courses are fresh and some stale;
- the enrollment steps of the `mode` breakdown, the same steps (rollup or raw SQL) that
  `/courses/{id}/enrollment/mode/` reads (analytics.queries.course_info), laid out here for the
  few days a summary needs instead of a calendar;
- the learners whose latest attempt passed, per course and mode (the CoursePassingCount rollup,
  or its SQL on the raw rows for stale courses);
- the programs of the courses, when asked (one query).

Rules (docs/api/course_info.md, "Course summaries" and "Programs"):

- `count`: learners enrolled at the end of today (UTC) so far, i.e. now; `cumulative_count`:
  learners who had ever enrolled by then; `count_change_7_days`: `count` minus the count at the end
  of the day seven days before today; `recent_count_change`: `count` minus the count at the end of
  `recent_day`. A learner counts under the mode their enrollment has now; `no-id-professional` is
  counted as `professional` (course_info.MODE_MERGES), as Open edX does.
- `passing_users`: learners with an enrollment in the course (active or ended), under its mode,
  whose latest attempt of the course (courses.Result, the highest version) is APPROVED: what a
  `passed` xAPI statement or an `edx.course.grade.passed.first_time` / `now_passed` tracking event
  records, and what a later `failed` / `now_failed` takes back.
- `availability`, from the course's start and end against now: `Archived` once the end has
  passed, else `Current` once the start has passed, else `Upcoming` when a start is known (Open
  edX's `Starting Soon` collapsed into it, as its API does), else `unknown`.
"""

from collections import defaultdict
from datetime import timedelta

from django.db import connection
from django.db.models import Q

from analytics.definitions import UTC
from analytics.models import CourseEnrollmentStep, CoursePassingCount
from analytics.queries.course_info import (
    MODE_MERGES,
    RAW,
    REPORTED_MODES,
    _as_date,
    course_info_sources,
    enrollment_steps_sql,
)
from courses.models import AttemptState, Course, Enrollment, Program, Result
from analytics.queries.sql import read_cursor

COUNT_FIELDS = ("count", "cumulative_count", "count_change_7_days", "passing_users")
CURRENT, UPCOMING, ARCHIVED, UNKNOWN = "Current", "Upcoming", "Archived", "unknown"


def course_availability(start, end, now):
    """Open edX's availability of a course run from its start and end (aware datetimes or None)."""
    if end is not None and end < now:
        return ARCHIVED
    if start is not None and start < now:
        return CURRENT
    if start is not None:
        return UPCOMING
    return UNKNOWN


def summary_courses(workspace, course_keys=None, course_ids=None):
    """The workspace's courses a summary covers, by key: those of `course_keys` (None: all),
    within the course scope `course_ids` (None: every course; else ids or a Course queryset, e.g.
    analytics.definitions.course_scope). A queryset of Course."""
    courses = Course.objects.filter(workspace=workspace).order_by("key")
    if course_keys is not None:
        courses = courses.filter(key__in=list(course_keys))
    if course_ids is not None:
        courses = courses.filter(pk__in=course_ids)
    return courses


def _split_by_source(course_ids, from_raw):
    """(fresh ids, stale ids) of course_ids, as course_info_sources chooses; from_raw may also be
    that choice already made ({course_id: source})."""
    sources = from_raw if isinstance(from_raw, dict) else course_info_sources(course_ids, from_raw)
    stale = [course_id for course_id in course_ids if sources[course_id] == RAW]
    fresh = [course_id for course_id in course_ids if sources[course_id] != RAW]
    return fresh, stale


def _mode_steps(course_ids, days, today, from_raw):
    """[(course_id, mode, day, enrolled, ever_enrolled, next_day)]: the `mode` enrollment steps of
    the courses in effect at the end of one of `days` (course_info's steps): at most one per
    course, mode and day, whatever the length of the courses' history. Fresh courses from the
    rollup, stale ones from the raw rows (one query each)."""
    if not course_ids or not days:
        return []
    fresh, stale = _split_by_source(course_ids, from_raw)
    return _mode_steps_from_rollup(fresh, days) + _mode_steps_from_raw(stale, days, today)


def _mode_steps_from_rollup(course_ids, days):
    if not course_ids:
        return []
    in_effect = Q()
    for day in days:
        in_effect |= Q(day__lte=day) & (Q(next_day__isnull=True) | Q(next_day__gt=day))
    # The same condition on next_day alone lets the (course, dimension, next_day) index skip
    # the steps that ended before the earliest day.
    since = Q(next_day__isnull=True) | Q(next_day__gt=min(days))
    steps = CourseEnrollmentStep.objects.filter(in_effect, since, course_id__in=course_ids, dimension="mode")
    return list(steps.values_list("course_id", "category", "day", "enrolled", "ever_enrolled", "next_day"))


def _mode_steps_from_raw(course_ids, days, today):
    if not course_ids:
        return []
    with_sql, params = enrollment_steps_sql(["mode"], list(course_ids), today + timedelta(days=1))
    in_effect = " OR ".join(["(day <= %s AND (next_day IS NULL OR next_day > %s))"] * len(days))
    day_params = [connection.ops.adapt_datefield_value(day) for day in days for _ in range(2)]
    sql = with_sql + f"SELECT course_id, category, day, enrolled, ever_enrolled, next_day FROM steps WHERE {in_effect}"
    with read_cursor() as cursor:
        cursor.execute(sql, (*params, *day_params))
        rows = cursor.fetchall()
    return [
        (course_id, mode, _as_date(day), int(enrolled), int(ever), _as_date(next_day))
        for course_id, mode, day, enrolled, ever, next_day in rows
    ]


def mode_counts_on_days(course_ids, days, today, *, from_raw=None):
    """{(course_id, mode, day): (enrolled, ever_enrolled)} at the end of each of `days` (UTC
    dates, none after today), modes merged as /enrollment/mode/ merges them; absent: nobody had
    enrolled by then. One query (plus the freshness check, and one more when some courses are
    fresh and some stale)."""
    counts = defaultdict(lambda: (0, 0))
    for course_id, mode, step_day, enrolled, ever, next_day in _mode_steps(course_ids, days, today, from_raw):
        key_mode = MODE_MERGES.get(mode, mode)
        for day in days:
            if step_day <= day and (next_day is None or day < next_day):
                was = counts[(course_id, key_mode, day)]
                counts[(course_id, key_mode, day)] = (was[0] + enrolled, was[1] + ever)
    return counts


def passing_learners_sql(course_ids=None):
    """(sql, params): SELECT course_id, mode, learners: per course (of course_ids; None: every
    course) and enrollment mode, the learners with an enrollment (active or ended) whose latest
    attempt of the course is APPROVED (courses.Result). Read from the passed results joined to
    their enrollment's mode through the (course, user, +mode) index."""
    params = [AttemptState.APPROVED.value]
    scope = ""
    if course_ids is not None:
        scope = f"AND r.course_id IN ({', '.join(['%s'] * len(course_ids))}) "
        params += list(course_ids)
    sql = (
        f"SELECT e.course_id, e.mode, COUNT(*) AS learners FROM {Result._meta.db_table} r "
        f"JOIN {Enrollment._meta.db_table} e ON e.user_id = r.user_id AND e.course_id = r.course_id "
        f"WHERE r.state = %s AND r.attempt_public_id IS NOT NULL {scope}"
        "GROUP BY e.course_id, e.mode"
    )
    return sql, params


def passing_learners_by_mode(course_ids, *, from_raw=None):
    """{(course_id, mode): learners} (passing_learners_sql), modes merged. From the
    CoursePassingCount rollup (rebuilt with the course information rollups) for fresh courses, the
    raw rows for stale ones or with from_raw: a head course has 100k+ learners to join. One query
    per source used."""
    counts = defaultdict(int)
    if not course_ids:
        return counts
    fresh, stale = _split_by_source(list(course_ids), from_raw)
    rows = []
    if stale:
        sql, params = passing_learners_sql(stale)
        with read_cursor() as cursor:
            cursor.execute(sql, params)
            rows += cursor.fetchall()
    if fresh:
        rows += CoursePassingCount.objects.filter(course_id__in=fresh).values_list("course_id", "mode", "learners")
    for course_id, mode, learners in rows:
        counts[(course_id, MODE_MERGES.get(mode, mode))] += int(learners)
    return counts


def program_keys_by_course(course_ids):
    """{course_id: [program key, ...]} of the programs holding each course, by key; one query."""
    through = Program.courses.through
    rows = (
        through.objects.filter(course_id__in=course_ids)
        .order_by("program__key")
        .values_list("course_id", "program__key")
    )
    programs = defaultdict(list)
    for course_id, key in rows:
        programs[course_id].append(key)
    return programs


def course_summaries(
    workspace, now, *, course_keys=None, course_ids=None, recent_day=None, with_programs=False, from_raw=None
):
    """[{course_id, catalog_course_title, catalog_course, start_date, end_date, pacing_type,
    availability, count, cumulative_count, count_change_7_days, recent_count_change,
    passing_users, enrollment_modes, [programs]}], one per course of summary_courses(), by key.

    `enrollment_modes` has every mode of REPORTED_MODES with its count, cumulative_count,
    count_change_7_days and passing_users; the top-level counts are their sums. `recent_count_change`
    is None without `recent_day`. `programs` (the keys of the course's programs) only with
    `with_programs`. Rules: module docstring.
    """
    courses = list(
        summary_courses(workspace, course_keys, course_ids).values(
            "id", "key", "title", "start", "end", "pacing", "catalog_course", "catalog_title"
        )
    )
    if not courses:
        return []
    ids = [course["id"] for course in courses]
    today = now.astimezone(UTC).date()
    week_ago = today - timedelta(days=7)
    days = {today, week_ago} | ({recent_day} if recent_day is not None else set())
    from_raw = course_info_sources(ids, from_raw)  # decided once, per course, for both rollups
    enrolled = mode_counts_on_days(ids, sorted(days), today, from_raw=from_raw)
    passing = passing_learners_by_mode(ids, from_raw=from_raw)
    programs = program_keys_by_course(ids) if with_programs else None
    summaries = []
    for course in courses:
        course_id = course["id"]
        modes = {}
        totals = dict.fromkeys(COUNT_FIELDS, 0)
        for mode in REPORTED_MODES:
            count, cumulative = enrolled[(course_id, mode, today)]
            counts = modes[mode] = {
                "count": count,
                "cumulative_count": cumulative,
                "count_change_7_days": count - enrolled[(course_id, mode, week_ago)][0],
                "passing_users": passing[(course_id, mode)],
            }
            for field in COUNT_FIELDS:
                totals[field] += counts[field]
        summary = {
            "course_id": course["key"],
            "catalog_course_title": course["catalog_title"] or course["title"] or None,
            "catalog_course": course["catalog_course"] or None,
            "start_date": course["start"],
            "end_date": course["end"],
            "pacing_type": course["pacing"] or None,
            "availability": course_availability(course["start"], course["end"], now),
            **totals,
            "recent_count_change": None,
            "enrollment_modes": modes,
        }
        if recent_day is not None:
            recent = sum(enrolled[(course_id, mode, recent_day)][0] for mode in REPORTED_MODES)
            summary["recent_count_change"] = summary["count"] - recent
        if programs is not None:
            summary["programs"] = programs.get(course_id, [])
        summaries.append(summary)
    return summaries


def edx_programs(workspace, *, program_keys=None, course_ids=None):
    """[{program_id, program_type, program_title, course_ids, created}], one per program of the
    workspace, by key: those of `program_keys` (None: all). With a course scope `course_ids`,
    only the programs holding one of those courses, and of each only those courses. `course_ids`
    of a row: course keys, sorted;
    `created`: when the program was recorded. Two queries."""
    programs = Program.objects.filter(workspace=workspace).order_by("key")
    if program_keys is not None:
        programs = programs.filter(key__in=list(program_keys))
    links = Program.courses.through.objects.filter(program__in=programs)
    if course_ids is not None:
        links = links.filter(course__in=course_ids)
        programs = programs.filter(pk__in=links.values("program_id"))
    rows = list(programs.values("id", "key", "program_type", "title", "created_at"))
    course_keys = defaultdict(list)
    if rows:
        for program_id, key in links.order_by("course__key").values_list("program_id", "course__key"):
            course_keys[program_id].append(key)
    return [
        {
            "program_id": row["key"],
            "program_type": row["program_type"],
            "program_title": row["title"],
            "course_ids": course_keys.get(row["id"], []),
            "created": row["created_at"],
        }
        for row in rows
    ]
