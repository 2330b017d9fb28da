"""Rollups behind the Open edX course information API: rebuilt from the raw rows.

Why rebuilt rather than updated row by row: enrollments, users' demographics and video views
change through many write paths (imports with bulk_update, COPY, xAPI, the tracking API, admin),
several of which touch no "updated at" column. A set-based rebuild with the same SQL as the raw
reference queries (analytics.queries.course_info) is correct whatever wrote the rows, and cheap
enough at the sizes this service targets (docs/benchmarks-course-info.md has the timings).

- refresh_course_info_rollups(): the 30-second job (Celery beat, and soon after writes through
  request_course_info_refresh): enrollment steps of every course, video audiences, and activity
  of the previous and the current week.
- rebuild_course_activity_history(): every week's activity (hourly), for late or back-dated rows.

Each rebuild runs in one transaction holding a lock, so readers see the old rows or the new
ones, never a mix, and two runs never interleave.
"""

import functools
import logging
import time

from django.core.cache import cache
from django.db import connection, transaction

from django.utils import timezone

from analytics.models import CourseActivityWeek, CourseEnrollmentStep, CoursePassingCount, RollupState, VideoAudience
from analytics.queries.course_info import (
    ROLLUP_NAME,
    ENROLLMENT_DIMENSIONS,
    ONE_WEEK,
    activity_weeks_sql,
    enrollment_steps_sql,
    video_audience_sql,
    week_start,
)
from analytics.queries.course_summaries import passing_learners_sql

logger = logging.getLogger(__name__)

LOCK_KEY = 7_310_452_881  # pg_advisory_xact_lock key of the course information rollups
REFRESH_QUEUED_KEY = "course-info-rollups:refresh-queued"
REFRESH_DEBOUNCE_S = 10


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


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, field):
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _replace_rows(model, fields, with_sql, select_sql, params, **filters):
    """Delete model's rows (those matching filters) and INSERT the rows `{with_sql} SELECT ...`
    gives, into `fields` in that order, in one transaction under the rebuild lock; returns how many
    were written."""
    columns = ", ".join(_column(model, name) for name in fields)
    with transaction.atomic():
        _lock()
        model.objects.filter(**filters).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"{with_sql} INSERT INTO {_table(model)} ({columns}) {select_sql}", params)
            return _inserted(cursor, model, **filters)


def rebuild_enrollment_steps():
    """Replace every course's CourseEnrollmentStep rows (all breakdowns, one statement);
    returns how many were written."""
    with_sql, params = enrollment_steps_sql(ENROLLMENT_DIMENSIONS)
    return _replace_rows(
        CourseEnrollmentStep, ("course", "dimension", "category", "day", "next_day", "enrolled", "ever_enrolled"),
        with_sql, "SELECT course_id, dimension, category, day, next_day, enrolled, ever_enrolled FROM steps", params,
    )  # fmt: skip


def rebuild_activity_weeks(start_at=None, end_at=None):
    """Replace CourseActivityWeek rows of the weeks starting in [start_at, end_at) (None:
    unbounded) for every course; returns how many were written. start_at and end_at must be
    Mondays 00:00 UTC so that no week is cut."""
    week_filters = {}
    if start_at is not None:
        week_filters["week_start__gte"] = start_at
    if end_at is not None:
        week_filters["week_start__lt"] = end_at
    with_sql, params = activity_weeks_sql(None, start_at, end_at)
    return _replace_rows(
        CourseActivityWeek, ("course", "week_start", "any", "attempted_problem", "played_video", "posted_forum"),
        with_sql, "SELECT course_id, week, any_count, attempted_problem, played_video, posted_forum FROM weeks",
        params, **week_filters,
    )  # fmt: skip


def rebuild_video_audiences():
    """Replace every VideoAudience row; returns how many were written."""
    with_sql, params = video_audience_sql()
    return _replace_rows(
        VideoAudience, ("video", "users_at_start", "users_at_end"),
        with_sql, "SELECT video_id, users_at_start, users_at_end FROM audience", params,
    )  # fmt: skip


def rebuild_passing_counts():
    """Replace every CoursePassingCount row; returns how many were written."""
    select_sql, params = passing_learners_sql()
    return _replace_rows(CoursePassingCount, ("course", "mode", "learners"), "", select_sql, params)


def refresh_course_info_rollups(now):
    """The 30-second job: enrollment steps, video audiences, passing learners per course and
    mode (course summaries), and the activity of the previous
    and the current week (from the previous Monday 00:00 UTC on). Returns {part: rows, seconds}.

    Records its start as the rollups' refreshed_at, so that a write committed after it keeps the
    readers on the raw rows until the next refresh."""
    snapshot_at = timezone.now()
    started = time.perf_counter()
    result = {
        "enrollment_steps": rebuild_enrollment_steps(),
        "video_audiences": rebuild_video_audiences(),
        "passing_counts": rebuild_passing_counts(),
        "activity_weeks": rebuild_activity_weeks(start_at=week_start(now) - ONE_WEEK),
    }
    result["seconds"] = round(time.perf_counter() - started, 3)
    RollupState.objects.update_or_create(name=ROLLUP_NAME, defaults={"refreshed_at": snapshot_at})
    logger.info("Course information rollups refreshed: %s", result)
    return result



def mark_course_info_changed():
    """Note that course information source data changed (call after the write commits)."""
    updated = RollupState.objects.filter(name=ROLLUP_NAME).update(changed_at=timezone.now())
    if not updated:
        RollupState.objects.get_or_create(name=ROLLUP_NAME, defaults={"changed_at": timezone.now()})


def note_course_info_write():
    """For write paths: once the current transaction commits, mark the rollups stale and ask
    for a refresh. Readers use the raw rows meanwhile, so a change shows at once."""
    transaction.on_commit(request_course_info_refresh, robust=True)


def changes_course_info(write):
    """Decorator for bulk write functions whose rows feed the course information numbers:
    after the write, note_course_info_write() (bulk writes send no model signals)."""

    @functools.wraps(write)
    def wrapper(*args, **kwargs):
        result = write(*args, **kwargs)
        note_course_info_write()
        return result

    return wrapper


def rebuild_course_activity_history():
    """Every week's activity of every course (the hourly job). Returns rows written."""
    return rebuild_activity_weeks()


def request_course_info_refresh():
    """Ask for a refresh soon: at most one queued every REFRESH_DEBOUNCE_S seconds. For write
    paths that want their change visible before the next beat (signals call it after commits).
    Marks the rollups stale first, so readers use the raw rows until the refresh."""
    mark_course_info_changed()
    if not cache.add(REFRESH_QUEUED_KEY, True, timeout=REFRESH_DEBOUNCE_S):
        return False
    from analytics.tasks import refresh_course_info_rollups as task

    task.apply_async(countdown=1)
    return True


# Fields of a user the enrollment breakdowns depend on: saving only others (the last login stamp)
# changes no course information number.
USER_BREAKDOWN_FIELDS = frozenset({"birth_year", "gender", "education_level", "country"})


def _changed(sender, instance=None, update_fields=None, **kwargs):
    if sender._meta.label == "accounts.User" and update_fields is not None:
        if not USER_BREAKDOWN_FIELDS & set(update_fields):
            return
    # robust: a broker that is down must not fail the write; the beat catches up.
    transaction.on_commit(request_course_info_refresh, robust=True)


def connect_signals():
    """Ask for a refresh after single-row writes (admin, forms, per-object saves and deletes).
    Bulk writes send no signals; the 30-second beat covers them."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from analytics.models import LearningEvent, PageSession, VideoView
    from courses.models import Enrollment, Video

    for model in (Enrollment, LearningEvent, PageSession, VideoView, Video, get_user_model()):
        uid = f"course-info-rollups-{model._meta.label_lower}"
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}-delete")
