"""Rollups behind the Open edX course information API: rebuilt from the raw rows, course by course.

Why rebuilt rather than updated row by row: enrollments, users' demographics and video views
change through many write paths (imports with bulk_update, COPY, xAPI, the tracking API, admin),
several of which touch no "updated at" column. A set-based rebuild of a course with the same SQL
as the raw reference queries (analytics.queries.course_info) is correct whatever wrote the rows.

Except the heartbeat traffic: page sessions, learning events and video views written by the
record writers keep the weekly activity (CourseActivityWeek) and video audiences (VideoAudience)
by difference in their own transaction (record_tracked_rows): their presence rows
(CourseActivityLearner, VideoAudienceUser) are inserted unless stored, and only the new ones add
to the counts, so those writes mark nothing stale. The rebuilds below rebuild the presence from
the raw rows and the counts from the presence.

Staleness is kept per course (CourseInfoState): any other write marks the courses it touched once
it commits, readers of a marked course use the raw rows until that course is rebuilt, and the
other courses stay on the rollups.

- mark_courses_changed(course_ids), mark_users_changed(workspace_id, user_ids): for write paths
  (through analytics.rollups' one entry point, rows_changed), after the commit: mark the courses
  stale and queue a refresh (debounced). `changes_course_info(courses_of)` decorates a bulk
  writer outside that entry point (the demo data generator); model signals cover single-row
  writes.
- refresh_stale_courses(now): the frequent job (Celery beat every COURSE_INFO_REFRESH_S seconds,
  and soon after writes): rebuilds only the stale courses (enrollment steps, video audiences,
  passing counts, activity of the previous and the current week), one transaction per course.
- rebuild_course_info(workspace_id=None): every course (or a workspace's), the same parts.
- rebuild_course_activity_history(): every week's activity (hourly), for late or back-dated rows.
- stale_course_ids(course_ids): which of those courses readers send to the raw rows.

Each rebuild runs in transactions holding a lock, so readers see a course's old rows or its new
ones, never a mix, and two runs never interleave.
"""

import functools
import inspect
import logging
import time
from datetime import datetime

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, When
from django.utils import timezone

from analytics.queries.sql import quoted_table, quoted_column
from analytics.definitions import UTC, is_learner_sql
from analytics.models import (
    CourseActivityKind,
    CourseActivityLearner,
    CourseActivityWeek,
    CourseEnrollmentStep,
    CourseInfoState,
    CoursePassingCount,
    PageSession,
    RollupState,
    VideoAudience,
    VideoAudienceUser,
    VideoEdge,
)
from analytics.queries.course_info import (
    ENROLLMENT_DIMENSIONS,
    ONE_WEEK,
    ROLLUP_NAME,
    activity_learners_sql,
    enrollment_steps_sql,
    fresh_course_states,
    stale_course_ids,
    video_audience_users_sql,
    week_start,
)
from analytics.queries.course_summaries import passing_learners_sql
from analytics.services.records.sql import name, rows_source, server_cursor
from accounts.models import Workspace
from courses.models import Course, Enrollment, Video

__all__ = [
    "changes_course_info",
    "mark_courses_changed",
    "rebuild_course_activity_history",
    "rebuild_course_info",
    "record_course_activity",
    "record_tracked_rows",
    "record_video_audience",
    "refresh_stale_courses",
    "request_course_info_refresh",
    "stale_course_ids",
]

logger = logging.getLogger(__name__)

LOCK_KEY = 7_310_452_881  # pg_advisory_xact_lock key of the course information rollups
REFRESH_QUEUED_KEY = "course-info-rollups:refresh-queued"
REFRESH_DEBOUNCE_S = 5
PARTS = ("enrollment_steps", "video_audiences", "passing_counts", "activity_weeks")
# Stale courses rebuilt per transaction by refresh_stale_courses: few enough that the lock is
# held briefly, many enough that a bulk import's courses are rebuilt set-based.
REFRESH_BATCH = 50


def _lock():
    """Serialize rebuilds. PostgreSQL: a transaction-level advisory lock. SQLite allows one
    writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _inserted(cursor, model, **filters):
    """Rows an INSERT wrote: SQLite's driver reports -1 for `WITH ... INSERT`, so count them."""
    if cursor.rowcount >= 0:
        return cursor.rowcount
    return model.objects.filter(**filters).count()


def _replace_rows(model, fields, with_sql, select_sql, params, **filters):
    """Delete model's rows (those matching filters) and INSERT the rows `{with_sql} SELECT ...`
    gives, into `fields` in that order; returns how many were written. The caller holds the
    transaction and the lock."""
    columns = ", ".join(quoted_column(model, name) for name in fields)
    model.objects.filter(**filters).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"{with_sql} INSERT INTO {quoted_table(model)} ({columns}) {select_sql}", params)
        return _inserted(cursor, model, **filters)


def _course_filter(course_ids, field="course_id"):
    return {} if course_ids is None else {f"{field}__in": course_ids}


def _rebuild_enrollment_steps(course_ids=None):
    with_sql, params = enrollment_steps_sql(ENROLLMENT_DIMENSIONS, course_ids)
    return _replace_rows(
        CourseEnrollmentStep,
        ("course", "dimension", "category", "day", "next_day", "enrolled", "ever_enrolled"),
        with_sql,
        "SELECT course_id, dimension, category, day, next_day, enrolled, ever_enrolled FROM steps",
        params,
        **_course_filter(course_ids),
    )


def _rebuild_activity_weeks(course_ids=None, start_at=None, end_at=None):
    """The learners' presence (CourseActivityLearner) from the raw rows, then the weekly counts
    from the presence, for the weeks in [start_at, end_at); returns the count rows written."""
    week_filters = _course_filter(course_ids)
    if start_at is not None:
        week_filters["week_start__gte"] = start_at
    if end_at is not None:
        week_filters["week_start__lt"] = end_at
    with_sql, params = activity_learners_sql(course_ids, start_at, end_at)
    _replace_rows(
        CourseActivityLearner,
        ("course", "week_start", "user", "activity"),
        with_sql,
        "SELECT course_id, week, user_id, activity FROM learners",
        params,
        **week_filters,
    )
    return _count_activity_weeks(week_filters)


def _count_activity_weeks(filters):
    """CourseActivityWeek of the (course, week) rows filters select, counted from their presence
    rows (the learners per activity); returns the rows written."""

    def learners(kind):
        return Count(Case(When(activity=kind, then=1), output_field=IntegerField()))

    counts = (
        CourseActivityLearner.objects.filter(**filters)
        .order_by()
        .values("course_id", "week_start")
        .annotate(**{kind.label: learners(kind) for kind in CourseActivityKind})
        .values_list("course_id", "week_start", *(kind.label for kind in CourseActivityKind))
    )
    counts_sql, params = counts.query.sql_with_params()
    columns = ("course", "week_start", *(kind.label for kind in CourseActivityKind))
    return _replace_rows(CourseActivityWeek, columns, "", counts_sql, params, **filters)


def _rebuild_video_audiences(course_ids=None):
    """The users' presence at the start and end of each video (VideoAudienceUser) from the raw
    views, then the counts from the presence (a video with views but neither edge has no row,
    read as zeros); returns the count rows written. In a workspace whose raw activity was pruned
    (Workspace.raw_activity_pruned_before) the stored presence is kept and the raw views only
    add to it: viewers seen only before the horizon still count."""
    video_filter = _course_filter(course_ids, "video__course_id")
    VideoAudienceUser.objects.filter(**video_filter, video__course__workspace__raw_activity_pruned_before=None).delete()
    with_sql, params = video_audience_users_sql(course_ids)
    with connection.cursor() as cursor:
        # WHERE: SQLite reads "ON CONFLICT" after a bare FROM as a join constraint.
        cursor.execute(
            f"{with_sql} INSERT INTO {quoted_table(VideoAudienceUser)} (video_id, user_id, edge) "
            "SELECT video_id, user_id, edge FROM edges WHERE 1 = 1 ON CONFLICT DO NOTHING",
            params,
        )
    return _count_video_audiences(video_filter)


def _count_video_audiences(video_filter):
    """VideoAudience of the videos video_filter selects, counted from their presence rows."""

    def users(edge):
        return Count(Case(When(edge=edge, then=1), output_field=IntegerField()))

    counts_sql, params = (
        VideoAudienceUser.objects.filter(**video_filter)
        .order_by()
        .values("video_id")
        .annotate(at_start=users(VideoEdge.START), at_end=users(VideoEdge.END))
        .values_list("video_id", "at_start", "at_end")
        .query.sql_with_params()
    )
    return _replace_rows(
        VideoAudience, ("video", "users_at_start", "users_at_end"), "", counts_sql, params, **video_filter
    )


def forget_course_presence(workspace_id, user_id):
    """Take a person out of the course information presence of a workspace (an erasure): their
    CourseActivityLearner and VideoAudienceUser rows go and the counts of the courses and videos
    they were in are counted again from the presence left, every week included (weeks before a
    retention horizon have no raw rows to rebuild them from). Returns the presence rows removed."""
    with transaction.atomic():
        _lock()
        activity = CourseActivityLearner.objects.filter(course__workspace_id=workspace_id, user_id=user_id)
        audience = VideoAudienceUser.objects.filter(video__course__workspace_id=workspace_id, user_id=user_id)
        course_ids = sorted(set(activity.values_list("course_id", flat=True)))
        video_ids = sorted(set(audience.values_list("video_id", flat=True)))
        removed = activity._raw_delete(activity.db) + audience._raw_delete(audience.db)
        if course_ids:
            _count_activity_weeks(_course_filter(course_ids))
        if video_ids:
            _count_video_audiences({"video_id__in": video_ids})
    return removed


def _rebuild_passing_counts(course_ids=None):
    select_sql, params = passing_learners_sql(course_ids)
    return _replace_rows(
        CoursePassingCount, ("course", "mode", "learners"), "", select_sql, params, **_course_filter(course_ids)
    )


def _locked(rebuild_part):
    """rebuild_part as a public function: its own transaction under the lock. (These rebuild a
    part without recording any course as refreshed: rebuild_course_info and
    refresh_stale_courses do.)"""

    @functools.wraps(rebuild_part)
    def rebuild(*args, **kwargs):
        with transaction.atomic():
            _lock()
            return rebuild_part(*args, **kwargs)

    rebuild.__name__ = rebuild.__qualname__ = rebuild_part.__name__.lstrip("_")
    return rebuild


# One part of the course information rollups, of course_ids (None: every course); rows written.
rebuild_enrollment_steps = _locked(_rebuild_enrollment_steps)
rebuild_activity_weeks = _locked(_rebuild_activity_weeks)
rebuild_video_audiences = _locked(_rebuild_video_audiences)
rebuild_passing_counts = _locked(_rebuild_passing_counts)


def _rebuild(courses, now, *, every_course=False, if_stale=False, every_week=False):
    """Rebuild the four parts of `courses` ([(course_id, workspace_id)]; every_course: of every
    course, with statements that need no course filter) in one transaction under the lock, and
    record the start as their refreshed_at: a change noted after it keeps its course stale.
    if_stale: leave out the courses another run refreshed while this one waited for the lock
    (None when that is all of them). every_week: the activity of every week, not only the previous and the current one.
    Returns {part: rows, "courses": how many were rebuilt}."""
    if not courses and not every_course:  # a workspace without courses: nothing to rebuild
        return {**dict.fromkeys(PARTS, 0), "courses": 0}
    snapshot_at = timezone.now()
    with transaction.atomic():
        _lock()
        if if_stale:
            still_stale = stale_course_ids([course_id for course_id, _ in courses])
            courses = [course for course in courses if course[0] in still_stale]
            if not courses:
                return None
        course_ids = None if every_course else [course_id for course_id, _ in courses]
        result = {
            "enrollment_steps": _rebuild_enrollment_steps(course_ids),
            "video_audiences": _rebuild_video_audiences(course_ids),
            "passing_counts": _rebuild_passing_counts(course_ids),
            "activity_weeks": _rebuild_activity_weeks(
                course_ids, start_at=None if every_week else week_start(now) - ONE_WEEK
            ),
        }
        _record_refreshed(courses, snapshot_at)
    result["courses"] = len(courses)
    return result


def _record_refreshed(courses, refreshed_at):
    """Set refreshed_at of the (course_id, workspace_id) pairs, creating their state rows;
    changed_at is left as it is, so a change noted after refreshed_at keeps the course stale."""
    CourseInfoState.objects.bulk_create(
        [
            CourseInfoState(course_id=course_id, workspace_id=workspace_id, refreshed_at=refreshed_at)
            for course_id, workspace_id in courses
        ],
        update_conflicts=True,
        unique_fields=["course"],
        update_fields=["refreshed_at"],
        batch_size=1000,
    )


def _stale_courses(workspace_id=None):
    """[(course_id, workspace_id)] of the stale courses: changed at or after their last refresh,
    or never refreshed (no state row yet)."""
    courses = Course.objects.exclude(pk__in=fresh_course_states().values("course_id")).order_by("pk")
    if workspace_id is not None:
        courses = courses.filter(workspace_id=workspace_id)
    return list(courses.values_list("pk", "workspace_id"))


def has_stale_courses(workspace_id=None):
    """Whether some course of the workspace (None: of any workspace) is stale."""
    return bool(_stale_courses(workspace_id))


def refresh_stale_courses(now=None):
    """The frequent job: rebuild the rollups of the stale courses only, REFRESH_BATCH courses per
    transaction under the lock (one set-based statement per part and batch: a whole workspace
    imported at once is not rebuilt course by course) (enrollment steps, video audiences, passing counts, and the activity
    of the previous and the current week, from the previous Monday 00:00 UTC on), then record
    the start of its rebuild as its refreshed_at: a change noted after that start keeps the course
    stale for the next run. Returns {courses, <part>: rows, seconds}."""
    now = now or timezone.now()
    started = time.perf_counter()
    result = {"courses": 0, **dict.fromkeys(PARTS, 0)}
    stale = _stale_courses()
    for start in range(0, len(stale), REFRESH_BATCH):
        rebuilt = _rebuild(stale[start : start + REFRESH_BATCH], now, if_stale=True)
        if rebuilt is None:
            continue
        for part, rows in rebuilt.items():
            result[part] += rows
    result["seconds"] = round(time.perf_counter() - started, 3)
    if result["courses"]:
        logger.info("Course information rollups of stale courses refreshed: %s", result)
    return result


def rebuild_course_info(workspace_id=None, now=None, *, every_week=False):
    """Rebuild the rollups of every course (or of the workspace's courses), whether stale or not:
    every part, activity of the previous and the current week (the hourly history job rebuilds
    older weeks), or of every week with every_week. One set-based statement per part, in one
    transaction under the lock; returns {courses, <part>: rows, seconds}."""
    now = now or timezone.now()
    courses = Course.objects.order_by("pk")
    if workspace_id is not None:
        courses = courses.filter(workspace_id=workspace_id)
    courses = list(courses.values_list("pk", "workspace_id"))
    started = time.perf_counter()
    result = _rebuild(courses, now, every_course=workspace_id is None, every_week=every_week)
    result = {"courses": len(courses), **result, "seconds": round(time.perf_counter() - started, 3)}
    logger.info("Course information rollups rebuilt: %s", result)
    return result


def refresh_course_info_rollups(now):
    """The former name of rebuild_course_info() (every course), kept for the management
    command and the benchmark scripts."""
    return rebuild_course_info(now=now)


def _activity_history_parts():
    """[(course ids, first week or None)]: every course from its first week, except in a
    workspace whose raw activity was pruned (Workspace.raw_activity_pruned_before,
    analytics.services.retention): there only the weeks that start on or after that horizon, the
    older weeks are kept (their raw rows are gone)."""
    pruned = dict(
        Workspace.objects.filter(raw_activity_pruned_before__isnull=False).values_list(
            "pk", "raw_activity_pruned_before"
        )
    )
    parts = [(list(Course.objects.exclude(workspace_id__in=pruned).order_by("pk").values_list("pk", flat=True)), None)]
    for workspace_id, horizon in pruned.items():
        first_week = week_start(horizon)
        if first_week < horizon:
            first_week += ONE_WEEK
        courses = list(Course.objects.filter(workspace_id=workspace_id).order_by("pk").values_list("pk", flat=True))
        parts.append((courses, first_week))
    return parts


def rebuild_course_activity_history():
    """Every week's activity of every course (the hourly job), for what the writes by difference
    do not follow (deleted rows, roles changed, rows moved to an older week). REFRESH_BATCH
    courses per transaction under the lock, so writers (who take it shared) wait for one batch
    at most. Records its start in RollupState (ROLLUP_NAME). Returns rows written."""
    snapshot_at = timezone.now()
    rows = 0
    for course_ids, first_week in _activity_history_parts():
        for start in range(0, len(course_ids), REFRESH_BATCH):
            with transaction.atomic():
                _lock()
                rows += _rebuild_activity_weeks(course_ids[start : start + REFRESH_BATCH], start_at=first_week)
    RollupState.objects.update_or_create(name=ROLLUP_NAME, defaults={"refreshed_at": snapshot_at})
    return rows


# ---------------------------------------------------------------------------------------------
# Activity and video audiences by difference, in the writing transaction

PRESENCE_ROWS_PER_STATEMENT = 5000


def _share_lock():
    """Writers by difference take the rebuilds' lock shared: they run side by side, and a
    rebuild (exclusive) never interleaves with one (a rebuild replaces presence rows that a
    concurrent writer could otherwise count twice or not at all)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [LOCK_KEY])


def _comparable(row):
    """A row with its datetimes as naive UTC: as sent, or as RETURNING gives it (aware on
    PostgreSQL, naive or text on SQLite)."""
    values = []
    for value in row:
        if isinstance(value, str) and value[:4].isdigit():
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        values.append(value)
    return tuple(values)


def _insert_new_presence(model, attnames, rows, *, learners_of=None):
    """INSERT the presence rows (tuples in attnames order; learners_of: a workspace id, keep only
    the rows of its learners) that are not stored yet; the rows inserted, as sent. Concurrent
    writers of the same row: ON CONFLICT DO NOTHING inserts it in one transaction only, so each
    new presence is counted once."""
    quote = connection.ops.quote_name
    adapt = {name: model._meta.get_field(name) for name in attnames}
    sent = {_comparable(row): row for row in rows}
    columns = ", ".join(quote(adapt[name].column) for name in attnames)
    source = ", ".join(f"v.{quote(adapt[name].column)}" for name in attnames)
    where = "1 = 1"
    if learners_of is not None:
        where = is_learner_sql("v", workspace_sql="%s")
    new = []
    for start in range(0, len(rows), PRESENCE_ROWS_PER_STATEMENT):
        chunk = rows[start : start + PRESENCE_ROWS_PER_STATEMENT]
        with_sql, from_sql, params = rows_source(model, attnames, chunk)
        sql = (
            f"{with_sql} INSERT INTO {quoted_table(model)} ({columns}) SELECT {source} FROM {from_sql} "
            f"WHERE {where} ON CONFLICT DO NOTHING RETURNING {columns}"
        )
        with server_cursor() as cursor:
            cursor.execute(sql, [*params, learners_of] if learners_of is not None else params)
            new.extend(sent[_comparable(returned)] for returned in cursor.fetchall())
    return new


def _add_to_counts(model, key_attnames, count_attnames, increments):
    """Add increments ({key tuple: tuple of counts}) to the count rows, creating the missing ones:
    one INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n (safe under concurrent writers)."""
    if not increments:
        return
    attnames = (*key_attnames, *count_attnames)
    rows = [(*key, *counts) for key, counts in sorted(increments.items())]  # sorted: one lock order
    with_sql, from_sql, params = rows_source(model, attnames, rows)
    columns = ", ".join(name(model, attname) for attname in attnames)
    source = ", ".join(f"v.{name(model, attname)}" for attname in attnames)
    updates = ", ".join(
        f"{name(model, attname)} = {quoted_table(model)}.{name(model, attname)} + excluded.{name(model, attname)}"
        for attname in count_attnames
    )
    conflict = ", ".join(name(model, attname) for attname in key_attnames)
    sql = (
        f"{with_sql} INSERT INTO {quoted_table(model)} ({columns}) SELECT {source} FROM {from_sql} WHERE 1 = 1 "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )
    with server_cursor() as cursor:
        cursor.execute(sql, params)


def record_tracked_rows(workspace_id, activity=(), audience=()):
    """record_course_activity and record_video_audience of one write, under one shared lock."""
    if not activity and not audience:
        return
    _share_lock()
    if activity:
        record_course_activity(workspace_id, activity, locked=True)
    if audience:
        record_video_audience(audience, locked=True)


def record_course_activity(workspace_id, items, *, locked=False):
    """Keep the weekly activity counts (CourseActivityWeek) of items just written, by
    difference, in the caller's transaction: items are (course_id, user_id, moment, activity)
    (activity a CourseActivityKind other than ANY, or None: active only). The (course, week,
    learner, activity) presence rows not stored yet are inserted, and only those add one to their
    week's counts. Users who are not learners of the workspace are left out, as the rebuild
    does (analytics.definitions.is_learner_sql). One or two statements, and the shared lock
    unless the caller holds it (locked)."""
    presence = set()
    for course_id, user_id, moment, activity in items:
        if course_id is None or user_id is None or moment is None:
            continue
        week = week_start(moment)
        presence.add((course_id, week, user_id, CourseActivityKind.ANY))
        if activity is not None and activity != CourseActivityKind.ANY:
            presence.add((course_id, week, user_id, activity))
    if not presence:
        return 0
    if not locked:
        _share_lock()
    attnames = ("course_id", "week_start", "user_id", "activity")
    new = _insert_new_presence(CourseActivityLearner, attnames, sorted(presence), learners_of=workspace_id)
    increments = {}
    for course_id, week, _user_id, activity in new:
        counts = increments.setdefault((course_id, week), [0] * len(CourseActivityKind))
        counts[activity] += 1
    _add_to_counts(
        CourseActivityWeek,
        ("course_id", "week_start"),
        tuple(kind.label for kind in CourseActivityKind),
        {key: tuple(counts) for key, counts in increments.items()},
    )
    return len(new)


def record_video_audience(items, *, locked=False):
    """Keep the video audiences (VideoAudience) of views just written, by difference, in the
    caller's transaction: items are (video_id, user_id, watched_first_segment,
    watched_last_segment); a (video, user, edge) not stored yet adds one to its count. Every user
    counts, as in the rebuild (video_audience_sql). One or two statements, and the shared lock
    unless the caller holds it (locked)."""
    presence = set()
    for video_id, user_id, at_start, at_end in items:
        if at_start:
            presence.add((video_id, user_id, VideoEdge.START))
        if at_end:
            presence.add((video_id, user_id, VideoEdge.END))
    if not presence:
        return 0
    if not locked:
        _share_lock()
    new = _insert_new_presence(VideoAudienceUser, ("video_id", "user_id", "edge"), sorted(presence))
    increments = {}
    for video_id, _user_id, edge in new:
        counts = increments.setdefault((video_id,), [0, 0])
        counts[edge] += 1
    _add_to_counts(
        VideoAudience,
        ("video_id",),
        ("users_at_start", "users_at_end"),
        {key: tuple(counts) for key, counts in increments.items()},
    )
    return len(new)


# ---------------------------------------------------------------------------------------------
# Marking changes


def record_course_changes(course_ids, changed_at=None):
    """Mark the courses stale now (changed_at: now). Write paths call mark_courses_changed,
    which runs this after their commit. Two queries."""
    course_ids = {course_id for course_id in course_ids if course_id is not None}
    if not course_ids:
        return
    changed_at = changed_at or timezone.now()
    CourseInfoState.objects.bulk_create(
        [
            CourseInfoState(course_id=course_id, workspace_id=workspace_id, changed_at=changed_at)
            for course_id, workspace_id in Course.objects.filter(pk__in=course_ids).values_list("pk", "workspace_id")
        ],
        update_conflicts=True,
        unique_fields=["course"],
        update_fields=["changed_at"],
        batch_size=1000,
    )


def mark_courses_changed(course_ids):
    """For write paths: once the current transaction commits, mark these courses stale and ask
    for a refresh. Their readers use the raw rows meanwhile, so a change shows at once; other
    courses stay on the rollups. Robust: a failure here must not fail the write (the next full
    rebuild covers it)."""
    course_ids = {course_id for course_id in course_ids if course_id is not None}
    if not course_ids:
        return

    def mark_after_commit():  # a function, not a partial: Django logs a robust failure by __qualname__
        _mark_now(course_ids)

    transaction.on_commit(mark_after_commit, robust=True)


def mark_users_changed(workspace_id, user_ids):
    """For write paths that changed users' demographics or roles: once the current transaction
    commits, mark the courses those users are enrolled in (any workspace: demographics are the
    person's) or teach in the workspace (a role decides who counts as a learner)."""
    user_ids = {user_id for user_id in user_ids if user_id is not None}
    if not user_ids:
        return

    def mark_after_commit():
        _mark_now(courses_of_users(workspace_id, user_ids))

    transaction.on_commit(mark_after_commit, robust=True)


def courses_of_users(workspace_id, user_ids):
    """The ids of the courses the users are enrolled in (any workspace) or teach in the
    workspace. One query."""
    enrolled = Enrollment.objects.filter(user_id__in=user_ids).order_by().values_list("course_id")
    taught = Course.objects.filter(workspace_id=workspace_id, instructors__in=user_ids).order_by().values_list("pk")
    return {course_id for (course_id,) in enrolled.union(taught)}


def _mark_now(course_ids):
    if course_ids:
        record_course_changes(course_ids)
        request_course_info_refresh()


def changes_course_info(courses_of, *, before=False):
    """Decorator for bulk write functions whose rows feed the course information numbers (bulk
    writes send no model signals): after the write, mark_courses_changed(courses_of(**arguments)),
    the arguments bound by name (`rows` made a list first, so that both may read it). With
    before=True courses_of is called before the write instead, for writes that can move a row
    from one course to another: it then names the courses the rows are in and those they will be
    in."""

    def decorate(write):
        write_signature = inspect.signature(write)

        @functools.wraps(write)
        def wrapper(*args, **kwargs):
            bound = write_signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if "rows" in bound.arguments and not isinstance(bound.arguments["rows"], list):
                bound.arguments["rows"] = list(bound.arguments["rows"])
            courses = courses_of(**bound.arguments) if before else ()
            result = write(*bound.args, **bound.kwargs)
            mark_courses_changed(courses if before else courses_of(**bound.arguments))
            return result

        return wrapper

    return decorate


# What a decorated writer touched, from its arguments (changes_course_info's courses_of).


def workspace_courses(slug, **arguments):
    """Every course of the workspace `slug` (a whole workspace written at once)."""
    return set(Course.objects.filter(workspace__slug=slug).values_list("pk", flat=True))


def request_course_info_refresh():
    """Ask for a refresh of the stale courses soon: at most one queued every REFRESH_DEBOUNCE_S
    seconds (the beat runs it anyway every COURSE_INFO_REFRESH_S)."""
    if not cache.add(REFRESH_QUEUED_KEY, True, timeout=REFRESH_DEBOUNCE_S):
        return False
    from analytics.tasks import refresh_course_info_rollups as task

    task.apply_async(countdown=1)
    return True


# ---------------------------------------------------------------------------------------------
# Single-row writes (admin, forms, per-object saves and deletes): model signals.

# Fields of a user the enrollment breakdowns depend on: saving only others (the last login stamp)
# changes no course information number.
USER_BREAKDOWN_FIELDS = frozenset({"birth_year", "gender", "education_level", "country"})


def _courses_of_instance(sender, instance):
    label = sender._meta.label
    if label == "accounts.User":
        enrolled = Enrollment.objects.filter(user_id=instance.pk).values_list("course_id", flat=True)
        return set(enrolled.distinct())
    if label == "accounts.Membership":
        enrolled = Enrollment.objects.filter(user_id=instance.user_id, workspace_id=instance.workspace_id)
        taught = Course.objects.filter(workspace_id=instance.workspace_id, instructors=instance.user_id)
        return set(enrolled.values_list("course_id", flat=True).distinct()) | set(taught.values_list("pk", flat=True))
    return {instance.course_id, getattr(instance, "_course_info_course_before", None)}


def _before_save(sender, instance, raw=False, **kwargs):
    """Note the course a saved row was in: a save moving it to another course changes both."""
    if raw or instance._state.adding:
        return
    before = sender._base_manager.filter(pk=instance.pk).values_list("course_id", flat=True).first()
    instance._course_info_course_before = before


def _changed(sender, instance=None, update_fields=None, **kwargs):
    label = sender._meta.label
    if label == "accounts.User" and update_fields is not None:
        if not USER_BREAKDOWN_FIELDS & set(update_fields):
            return
    if label in ("accounts.User", "accounts.Membership"):
        # Their courses take a query: asked after the commit, not inside the writer's transaction.
        transaction.on_commit(lambda: _mark_now(_courses_of_instance(sender, instance)), robust=True)
    else:
        mark_courses_changed(_courses_of_instance(sender, instance))


def connect_signals():
    """Mark the courses of single-row writes (admin, forms, per-object saves and deletes).
    Bulk writers are decorated with changes_course_info instead."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save, pre_save

    from accounts.models import Membership
    from analytics.models import LearningEvent, VideoView
    from courses.models import Attempt

    for model in (Enrollment, Attempt, LearningEvent, PageSession, VideoView, Video, get_user_model(), Membership):
        uid = f"course-info-rollups-{model._meta.label_lower}"
        if model in (Enrollment, Attempt, LearningEvent, PageSession, VideoView, Video):
            pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-before-save")
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}-delete")
