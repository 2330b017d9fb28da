"""What each export type contains: its column groups (the `metrics` of a request) and the rows.

Every source takes an ExportScope (what the requester may see), the period window and the
request's filters, and returns (rows expected, iterator of tuples in column order). Rows come
from the same query functions that the APIs use wherever an API shows the same numbers.
"""

from dataclasses import dataclass, field
from typing import Callable

from django.db.models import F

from analytics.models import LearningEvent, PageSession

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
    default_metrics: list = field(default_factory=list)

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


def _raw_rows(queryset, time_field, window, fields):
    queryset = queryset.filter(**{f"{time_field}__gte": window.start, f"{time_field}__lt": window.end})
    rows = queryset.order_by(time_field, "id").values_list(*fields).iterator(chunk_size=CHUNK_SIZE)
    return queryset.count(), rows


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
    fields = [PAGE_SESSION_FIELDS[column.name][0] for column in columns]
    return _raw_rows(queryset, "started_at", window, fields)


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
    fields = [EVENT_FIELDS[column.name][0] for column in columns]
    return _raw_rows(queryset, "occurred_at", window, fields)


def _columns(spec, *names):
    return [Column(name, spec[name][1]) for name in names]


SOURCES = {
    source.type: source
    for source in [
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
