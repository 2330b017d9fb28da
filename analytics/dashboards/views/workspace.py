"""The workspace overview (admins): active learners, enrollments, the Analyse statistics, the top
courses and the overdue mandatory results of a period, with the filter bar."""

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.utils import timezone

from analytics.queries import analyse as analyse_queries
from analytics.queries import dashboards as dashboard_queries
from courses.models import AttemptState, EnrollmentKind

from .. import charts
from ..exports import workspace_panel
from ..filters import STATE_LABELS, WorkspaceFilterForm
from .access import staff_viewer
from .courses import courses_dashboard
from .lookups import dashboard_period, filter_lookups
from .rendering import bad_filters, deferred_section, page_or_fragment

OVERDUE_LIMIT = 10


def _analyse_window(filters, period_name, period, now):
    """The filters of the period-bound Analyse numbers: results updated in the period, and
    mandatory enrollments that fell due in it (up to now)."""
    if period_name == "all":
        return filters, replace(filters, enrollment_types=(EnrollmentKind.MANDATORY,), states=(AttemptState.EXPIRED,))
    updated = replace(filters, updated_at=analyse_queries.DateRange(period.start, period.end))
    overdue = replace(
        filters,
        enrollment_types=(EnrollmentKind.MANDATORY,),
        states=(AttemptState.EXPIRED,),
        expiry=analyse_queries.DateRange(period.start, now),
    )
    return updated, overdue


def _workspace_overview(workspace, period_name, filters):
    now = timezone.now()
    period = dashboard_period(period_name, workspace, now)
    scope = dashboard_queries.learners_in_scope(workspace, filters)
    updated, overdue_filters = _analyse_window(filters, period_name, period, now)
    trend = dashboard_queries.active_learners_trend(workspace, period, learner_ids=scope)
    enrollments = dashboard_queries.enrollments_over_time(workspace, period, learner_ids=scope)
    statistics = analyse_queries.analyse_statistics(workspace, updated, now=now)
    top = dashboard_queries.top_contents_by_time(workspace, updated, now=now)
    overdue = analyse_queries.analyse_results_page(
        workspace,
        overdue_filters,
        analyse_queries.ResultOrder("updatedAt", descending=False),
        limit=OVERDUE_LIMIT,
        now=now,
    )
    return {
        "period": period,
        "trend": trend,
        "enrollments": enrollments,
        "statistics": statistics,
        "top_courses": top,
        "overdue": overdue,
        "overdue_filters": overdue_filters,
        "charts": {
            "active": charts.chart_html(charts.active_learners_figure(trend), "active-chart"),
            "enrollments": charts.chart_html(charts.enrollments_figure(enrollments), "enrollments-chart"),
            "states": charts.chart_html(charts.state_figure(statistics["by_state"], STATE_LABELS), "states-chart"),
            "top": charts.chart_html(charts.top_courses_figure(top), "top-courses-chart") if top else "",
        },
    }


def _results_url(filters):
    """The Analyse view's URL for these filters (links from the overview)."""
    params = [("group", value) for value in filters.group_ids]
    params += [("state", value) for value in filters.states]
    params += [("type", value) for value in filters.enrollment_types]
    params += [("attribute", f"{item.field_id}:{value}") for item in filters.custom_fields for value in item.values]
    if filters.expiry is not None:
        if filters.expiry.start:
            params.append(("expiry_from", filters.expiry.start.date().isoformat()))
        if filters.expiry.end:
            params.append(("expiry_to", filters.expiry.end.date().isoformat()))
    return reverse("dashboard_results") + ("?" + urlencode(params) if params else "")


@login_required
def workspace_dashboard(request):
    """Admins: the workspace overview with its filter bar. Instructors: the courses they teach."""
    viewer, refused = staff_viewer(request)
    if refused:
        return refused
    if not viewer.is_admin:
        return courses_dashboard(request)
    workspace = viewer.workspace
    lookups = filter_lookups(viewer)
    form = WorkspaceFilterForm(request.GET, groups=lookups["groups"], custom_fields=lookups["custom_fields"])
    if not form.is_valid():
        return bad_filters(request, form)
    period_name = form.cleaned_data["period"]
    filters = form.result_filters()
    overview = deferred_section(
        request,
        workspace,
        "overview",
        (period_name, filters),
        lambda: _workspace_overview(workspace, period_name, filters),
    )
    data = overview.value if overview else None
    return page_or_fragment(
        request,
        "analytics/dashboards/workspace.html",
        "analytics/dashboards/_workspace_figures.html",
        {
            "form": form,
            "data": data,
            "as_of": overview.as_of if overview else None,
            "state_labels": STATE_LABELS,
            "is_filtered": bool(filters.group_ids or filters.custom_fields),
            "overdue_url": _results_url(data["overdue_filters"]) if data else "",
            "export": workspace_panel(filters, period_name),
        },
        "overview",
        "overview",
    )
