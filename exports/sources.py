"""What each export type contains: its column groups (the `metrics` of a request) and the rows.

Every source takes an ExportScope (what the requester may see), the period window, the
request's filters and the columns, and returns a RowStream. Rows come
from the same query functions that the APIs use wherever an API shows the same numbers.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone
from typing import Callable, Iterator

from django.db.models import Case, CharField, Func, QuerySet, Value, When
from rest_framework.exceptions import ValidationError

from analytics.models import LearningEvent, PageSession, ProblemResponse
from analytics.queries.activity import learner_day_sums
from analytics.queries.analyse import iter_result_rows
from analytics.queries.course_info import course_activity_by_week, course_enrollment_by_day, week_start
from analytics.queries.course_stats import attempts_page
from analytics.queries.video_cloud.videos import video_daily_stats
from courses.models import Attempt, Course

from .writers import Column

CHUNK_SIZE = 5000


@dataclass(frozen=True)
class ExportScope:
    """The rows a requester may export: the workspace, narrowed to an instructor's courses
    (course_ids) or to a learner's own rows (user_id)."""

    workspace: object
    course_ids: tuple | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class ExportSource:
    type: str
    key_columns: list
    metric_groups: dict
    rows: Callable
    learner_allowed: bool = False
    instructor_allowed: bool = True
    parse_filters: Callable | None = None

    def columns(self, metrics):
        chosen = metrics or list(self.metric_groups)
        columns = list(self.key_columns)
        for group in self.metric_groups:
            if group in chosen:
                columns.extend(self.metric_groups[group])
        return columns


def _scoped(queryset, scope, course_field="course_id", user_field="user_id"):
    queryset = queryset.filter(workspace=scope.workspace)
    if scope.course_ids is not None:
        queryset = queryset.filter(**{f"{course_field}__in": scope.course_ids})
    if scope.user_id is not None:
        queryset = queryset.filter(**{user_field: scope.user_id})
    return queryset


@dataclass(frozen=True)
class RowStream:
    """What a source returns: the rows expected, the rows (tuples in column order), and for raw
    tables the same rows as a queryset that PostgreSQL can COPY straight to CSV."""

    count: int | None
    rows: Iterator
    copy_queryset: QuerySet | None = None


class IsoUtcText(Func):
    """A timestamp as ISO 8601 text in UTC with microseconds, as the writers print times."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = CharField()


def _raw_rows(queryset, time_field, window, spec, columns):
    queryset = queryset.filter(**{f"{time_field}__gte": window.start, f"{time_field}__lt": window.end})
    ordered = queryset.order_by(time_field, "id")
    fields = [spec[column.name][0] for column in columns]
    as_text = {
        f"{column.name}_text": IsoUtcText(spec[column.name][0]) for column in columns if column.type == "datetime"
    }
    copy_fields = [f"{column.name}_text" if column.type == "datetime" else spec[column.name][0] for column in columns]
    return RowStream(
        count=queryset.count(),
        rows=ordered.values_list(*fields).iterator(chunk_size=CHUNK_SIZE),
        copy_queryset=ordered.annotate(**as_text).values_list(*copy_fields),
    )


PAGE_SESSION_FIELDS = {
    "id": ("id", "string"),
    "userEmail": ("user__email", "string"),
    "page": ("page", "string"),
    "path": ("path", "string"),
    "startedAt": ("started_at", "datetime"),
    "duration": ("duration_s", "int"),
    "courseId": ("course_key", "string"),
    "chapterId": ("chapter_key", "string"),
    "device": ("device", "string"),
}


def page_session_rows(scope, window, filters, columns):
    queryset = _scoped(PageSession.objects.all(), scope)
    return _raw_rows(queryset, "started_at", window, PAGE_SESSION_FIELDS, columns)


EVENT_FIELDS = {
    "id": ("id", "string"),
    "userEmail": ("user__email", "string"),
    "type": ("type", "string"),
    "occurredAt": ("occurred_at", "datetime"),
    "source": ("source", "string"),
    "courseId": ("course__key", "string"),
    "object": ("object", "string"),
}


def event_rows(scope, window, filters, columns):
    queryset = _scoped(LearningEvent.objects.all(), scope)
    return _raw_rows(queryset, "occurred_at", window, EVENT_FIELDS, columns)


# Open edX's problem response report (its pipeline's ProblemResponseRecord), one row per
# submission rather than per learner and part; columns it has and we lack (location, sort_idx)
# are left out, the variant, the chosen option ids and the time of the submission added.
PROBLEM_RESPONSE_FIELDS = {
    "course_id": ("course__key", "string"),
    "answer_id": ("part_id", "string"),
    "problem_id": ("problem_key", "string"),
    "problem": ("problem_name", "string"),
    "username": ("user__email", "string"),
    "question": ("question", "string"),
    "score": ("grade", "float"),
    "max_score": ("max_grade", "float"),
    "correct": ("correct_text", "string"),
    "answer": ("answer", "string"),
    "value_id": ("value_id", "string"),
    "variant": ("variant", "string"),
    "attempt": ("attempt", "int"),
    "submitted_at": ("submitted_at", "datetime"),
}


def parse_problem_response_filters(filters):
    """`{"course_id": "<course key>"}` (optional): the course whose responses are exported."""
    filters = filters or {}
    unknown = sorted(set(filters) - {"course_id"})
    if unknown:
        raise ValidationError({name: ["Unknown filter; only course_id is accepted."] for name in unknown})
    course_key = filters.get("course_id")
    if course_key is not None and (not isinstance(course_key, str) or not course_key.strip()):
        raise ValidationError({"course_id": ["A course key (text) is required."]})
    return {"course_id": course_key}


def problem_response_rows(scope, window, filters, columns):
    """Every problem response (submission) of the scope's courses, or of `filters.course_id`, by
    submission time: the rows of Open edX's problem response report. `correct` is True, False or
    empty (not graded)."""
    queryset = _scoped(ProblemResponse.objects.all(), scope)
    course_key = parse_problem_response_filters(filters)["course_id"]
    if course_key is not None:
        queryset = queryset.filter(course__key=course_key)
    queryset = queryset.annotate(
        correct_text=Case(
            When(correct=True, then=Value("True")),
            When(correct=False, then=Value("False")),
            default=Value(""),
            output_field=CharField(),
        )
    )
    return _raw_rows(queryset, "submitted_at", window, PROBLEM_RESPONSE_FIELDS, columns)


LEARNER_DAY_COLUMNS = {
    "date": "date",
    "userId": "string",
    "userEmail": "string",
    "pageSessions": "int",
    "pageTime": "int",
    "events": "int",
    "videoViews": "int",
    "watchTime": "int",
}
# The learner-day columns: the fields of analytics.queries.activity.learner_day_sums.
LEARNER_DAY_FIELDS = {
    "date": "day",
    "userId": "user_public_id",
    "userEmail": "user_email",
    "pageSessions": "page_sessions",
    "pageTime": "page_seconds",
    "events": "events",
    "videoViews": "video_views",
    "watchTime": "watch_seconds",
}


def learner_daily_activity(scope, window):
    """Per user and UTC day of the window with any activity in the scope: learner_day_sums
    (from the learner-day rollup, or from the raw rows of an instructor's courses)."""
    return learner_day_sums(
        scope.workspace,
        window.start.astimezone(dt_timezone.utc).date(),
        window.end.astimezone(dt_timezone.utc).date(),
        course_ids=scope.course_ids,
        user_id=scope.user_id,
        chunk_size=CHUNK_SIZE,
    )


def learner_day_rows(scope, window, filters, columns):
    count, rows = learner_daily_activity(scope, window)
    keys = [LEARNER_DAY_FIELDS[column.name] for column in columns]
    return RowStream(count, (tuple(row[key] for key in keys) for row in rows))


ATTEMPT_FIELDS = {
    "_id": ("public_id", "string"),
    "courseId": ("course_key", "string"),
    "userId": ("user_public_id", "string"),
    "versionNumber": ("version_number", "int"),
    "lang": ("lang_code", "string"),
    "firstActivityAt": ("first_activity_at", "datetime"),
    "lastActivityAt": ("last_activity_at", "datetime"),
    "timeSpent": ("time_spent_ms", "int"),
    "progress": ("progress", "int"),
    "score": ("score", "int"),
    "completedAt": ("completed_at", "datetime"),
    "pathId": ("path_public_id", "string"),
    "pathSessionId": ("path_session_public_id", "string"),
}


def attempt_rows(scope, window, filters, columns):
    """Every attempt of the workspace as the v2 course-stats API lists them (the same query,
    page by page in id order). Attempts are not limited by the period: they are results."""
    keys = [ATTEMPT_FIELDS[column.name][0] for column in columns]

    def rows():
        after = None
        while True:
            page = attempts_page(scope.workspace, after=after, limit=CHUNK_SIZE)
            yield from (tuple(row[key] for key in keys) for row in page.rows)
            if page.next_after is None:
                return
            after = page.next_after

    return RowStream(Attempt.objects.filter(workspace=scope.workspace).count(), rows())


RESULT_FIELDS = {
    "id": ("result_id", "string"),
    "contentId": ("course_key", "string"),
    "contentName": ("course_title", "string"),
    "userId": ("user_public_id", "string"),
    "userName": ("user_name", "string"),
    "userEmail": ("user_email", "string"),
    "state": ("effective_state", "string"),
    "enrollmentType": ("enrollment_type", "string"),
    "progress": ("progress_pct", "int"),
    "score": ("score_pct", "int"),
    "timeSpent": ("time_spent", "int"),
    "updatedAt": ("activity_at", "datetime"),
    "startedAt": ("started_at", "datetime"),
    "completedAt": ("finished_at", "datetime"),
    "certificateIssuedAt": ("certificate_at", "datetime"),
    "expiryDate": ("expiry_at", "datetime"),
}


def parse_result_filters(filters):
    """The Analyse `filters` object, validated as POST /analyse/results validates it."""
    from analytics.queries.analyse_filters import AnalyseFiltersSerializer

    parsed = AnalyseFiltersSerializer(data=filters or {})
    parsed.is_valid(raise_exception=True)
    return parsed.validated_data


def result_rows(scope, window, filters, columns):
    """The Analyse results rows (same query as POST /analyse/results) by learner and course.
    Instructors get their courses' rows. Results are not limited by the period."""
    total, results = iter_result_rows(
        scope.workspace, parse_result_filters(filters), course_ids=scope.course_ids, chunk_size=CHUNK_SIZE
    )
    keys = [RESULT_FIELDS[column.name][0] for column in columns]
    return RowStream(total, (tuple(row[key] for key in keys) for row in results))


VIDEO_DAY_FIELDS = {
    "date": ("day", "date"),
    "videoId": ("video_key", "string"),
    "title": ("video_title", "string"),
    "views": ("views", "int"),
    "uniqueViewers": ("unique", "int"),
    "watchTime": ("watched_sum", "int"),
    "completionRate": ("completion_rate", "float"),
    "likes": ("likes", "int"),
    "comments": ("comments", "int"),
    "shares": ("shares", "int"),
}


def video_day_rows(scope, window, filters, columns):
    count, rows = video_daily_stats(scope.workspace, window.start, window.end, course_ids=scope.course_ids)
    keys = [VIDEO_DAY_FIELDS[column.name][0] for column in columns]
    return RowStream(count, (tuple(row[key] for key in keys) for row in rows))


COURSE_DAY_COLUMNS = {
    "date": "date",
    "courseId": "string",
    "title": "string",
    "enrolled": "int",
    "activeLearners": "int",
    "attemptedProblem": "int",
    "playedVideo": "int",
    "postedForum": "int",
}
WEEKLY_ACTIVITY_COLUMNS = {
    "activeLearners": "any",
    "attemptedProblem": "attempted_problem",
    "playedVideo": "played_video",
    "postedForum": "posted_forum",
}


def course_day_rows(scope, window, filters, columns):
    """Per course and UTC day of the period: learners enrolled at the end of the day and the
    weekly activity counts (Monday-to-Monday week containing the day, so far), from the same
    query functions as the Open edX course information endpoints. A period of `all` starts at
    each course's first enrollment. Two queries per course, courses by key."""
    courses = Course.objects.filter(workspace=scope.workspace).order_by("key")
    if scope.course_ids is not None:
        courses = courses.filter(id__in=scope.course_ids)
    today = window.now.astimezone(dt_timezone.utc).date()
    everything = window.start.year <= 1970
    start_day = None if everything else window.start.date()
    end_day = window.end.date()
    names = [column.name for column in columns]

    def rows():
        for course in courses.iterator(chunk_size=CHUNK_SIZE):
            enrolled = course_enrollment_by_day(course, start_day, end_day, today)
            if not enrolled:
                continue
            first_week = week_start(datetime.combine(enrolled[0]["date"], time.min, dt_timezone.utc))
            weeks = {
                row["interval_start"].date(): row
                for row in course_activity_by_week(course, first_week, None, window.now)
            }
            for day in enrolled:
                week = weeks.get(day["date"] - timedelta(days=day["date"].weekday()), {})
                values = {
                    "date": day["date"],
                    "courseId": course.key,
                    "title": course.title,
                    "enrolled": day["count"],
                    **{name: week.get(field, 0) for name, field in WEEKLY_ACTIVITY_COLUMNS.items()},
                }
                yield tuple(values[name] for name in names)

    days = (end_day - window.start.date()).days if not everything else None
    return RowStream(courses.count() * days if days else None, rows())


def _columns(spec, *names):
    return [Column(name, spec[name][1]) for name in names]


def _typed(spec, *names):
    return [Column(name, spec[name]) for name in names]


SOURCES = {
    source.type: source
    for source in [
        ExportSource(
            type="user",
            key_columns=_typed(LEARNER_DAY_COLUMNS, "date", "userId", "userEmail"),
            metric_groups={
                "pages": _typed(LEARNER_DAY_COLUMNS, "pageSessions", "pageTime"),
                "events": _typed(LEARNER_DAY_COLUMNS, "events"),
                "videos": _typed(LEARNER_DAY_COLUMNS, "videoViews", "watchTime"),
            },
            rows=learner_day_rows,
            learner_allowed=True,
        ),
        ExportSource(
            type="course",
            key_columns=_typed(COURSE_DAY_COLUMNS, "date", "courseId", "title"),
            metric_groups={
                "enrollment": _typed(COURSE_DAY_COLUMNS, "enrolled"),
                "activity": _typed(COURSE_DAY_COLUMNS, *WEEKLY_ACTIVITY_COLUMNS),
            },
            rows=course_day_rows,
        ),
        ExportSource(
            type="video",
            key_columns=_columns(VIDEO_DAY_FIELDS, "date", "videoId", "title"),
            metric_groups={
                "views": _columns(VIDEO_DAY_FIELDS, "views", "uniqueViewers"),
                "engagement": _columns(VIDEO_DAY_FIELDS, "watchTime", "completionRate", "likes", "comments", "shares"),
            },
            rows=video_day_rows,
        ),
        ExportSource(
            type="attempts",
            key_columns=_columns(ATTEMPT_FIELDS, "_id", "courseId", "userId", "versionNumber", "lang"),
            metric_groups={
                "activity": _columns(ATTEMPT_FIELDS, "firstActivityAt", "lastActivityAt", "timeSpent"),
                "results": _columns(ATTEMPT_FIELDS, "progress", "score", "completedAt"),
                "paths": _columns(ATTEMPT_FIELDS, "pathId", "pathSessionId"),
            },
            rows=attempt_rows,
            instructor_allowed=False,
        ),
        ExportSource(
            type="results",
            key_columns=_columns(RESULT_FIELDS, "id", "contentId", "contentName", "userId", "userName", "userEmail"),
            metric_groups={
                "states": _columns(RESULT_FIELDS, "state", "enrollmentType"),
                "progress": _columns(RESULT_FIELDS, "progress", "score", "timeSpent"),
                "dates": _columns(
                    RESULT_FIELDS, "updatedAt", "startedAt", "completedAt", "certificateIssuedAt", "expiryDate"
                ),
            },
            rows=result_rows,
            parse_filters=parse_result_filters,
        ),
        ExportSource(
            type="page_sessions",
            key_columns=_columns(PAGE_SESSION_FIELDS, "id", "userEmail", "startedAt"),
            metric_groups={
                "pages": _columns(PAGE_SESSION_FIELDS, "page", "path", "duration"),
                "courses": _columns(PAGE_SESSION_FIELDS, "courseId", "chapterId"),
                "devices": _columns(PAGE_SESSION_FIELDS, "device"),
            },
            rows=page_session_rows,
        ),
        ExportSource(
            type="problem_response",
            key_columns=_columns(
                PROBLEM_RESPONSE_FIELDS, "course_id", "answer_id", "problem_id", "problem", "username"
            ),
            metric_groups={
                "responses": _columns(
                    PROBLEM_RESPONSE_FIELDS,
                    "question",
                    "score",
                    "max_score",
                    "correct",
                    "answer",
                    "value_id",
                    "variant",
                    "attempt",
                    "submitted_at",
                ),
            },
            rows=problem_response_rows,
            parse_filters=parse_problem_response_filters,
        ),
        ExportSource(
            type="events",
            key_columns=_columns(EVENT_FIELDS, "id", "userEmail", "occurredAt"),
            metric_groups={
                "events": _columns(EVENT_FIELDS, "type", "source"),
                "courses": _columns(EVENT_FIELDS, "courseId", "object"),
            },
            rows=event_rows,
        ),
    ]
}
