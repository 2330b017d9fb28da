"""What the export buttons of a dashboard offer: export types (with the page's filters) and formats.

The buttons POST to /analytics/export (exports.api) and poll its status (static/js/exports.js);
what a role may export is decided by the export API, these lists only avoid offering a type the
API would refuse.
"""

from dataclasses import dataclass, field

from exports.models import ExportFormat

from .filters import PERIODS
from exports.sources import SOURCES


@dataclass(frozen=True)
class ExportOption:
    type: str
    label: str
    filters: dict = field(default_factory=dict)
    metrics: tuple = ()


@dataclass(frozen=True)
class ExportPanel:
    options: list
    period: str
    formats: list = field(default_factory=lambda: list(ExportFormat.choices))

    @property
    def period_label(self):
        return dict(PERIODS).get(self.period, self.period).lower()


def analyse_filters_payload(filters):
    """ResultFilters as the `filters` object of POST /analyse/results (and of type=results)."""
    payload = {}
    for name, values in (
        ("groupIds", filters.group_ids),
        ("userIds", filters.user_ids),
        ("contentIds", filters.content_ids),
        ("states", filters.states),
        ("enrollmentTypes", filters.enrollment_types),
    ):
        if values:
            payload[name] = list(values)
    if filters.custom_fields:
        payload["customFields"] = [
            {"customFieldId": item.field_id, "values": list(item.values)} for item in filters.custom_fields
        ]
    for name, date_range in (("updatedAtDateRange", filters.updated_at), ("expiryDateRange", filters.expiry)):
        if date_range is not None:
            payload[name] = {
                key: value.isoformat().replace("+00:00", "Z")
                for key, value in (("from", date_range.start), ("to", date_range.end))
                if value is not None
            }
    return payload


def _available(options):
    return [option for option in options if option.type in SOURCES]


def learner_panel(period="30d"):
    return ExportPanel(options=_available([ExportOption("user", "My activity per day")]), period=period)


def course_panel(course, is_admin, period="30d"):
    scope = "the workspace" if is_admin else "all your courses"
    return ExportPanel(
        options=_available(
            [
                ExportOption("results", "Learner results of this course", {"contentIds": [course.key]}),
                ExportOption("course", f"Course activity per day ({scope})"),
                ExportOption("video", f"Video views per day ({scope})"),
            ]
        ),
        period=period,
    )


def workspace_panel(result_filters, period="30d"):
    return ExportPanel(
        options=_available(
            [
                ExportOption("results", "Learner results (these filters)", analyse_filters_payload(result_filters)),
                ExportOption("user", "Learner activity per day"),
                ExportOption("course", "Course activity per day"),
                ExportOption("video", "Video views per day"),
                ExportOption("attempts", "Course attempts"),
                ExportOption("page_sessions", "Page sessions (raw)"),
                ExportOption("events", "Learning events (raw)"),
            ]
        ),
        period=period,
    )


def results_panel(result_filters):
    return ExportPanel(
        options=_available([ExportOption("results", "These results", analyse_filters_payload(result_filters))]),
        period="all",
    )
