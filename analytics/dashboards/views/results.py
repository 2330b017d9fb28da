"""The Analyse view: the filters of POST /analyse/results as GET parameters, its statistics above
a paginated table of its rows."""

from django.contrib.auth.decorators import login_required

from analytics.queries import analyse as analyse_queries

from .. import charts
from ..cache import cached_section
from ..exports import results_panel
from ..filters import ENROLLMENT_TYPE_LABELS, STATE_LABELS, ResultsForm
from .access import staff_viewer
from .lookups import filter_lookups
from .paging import pagination, sort_links
from .rendering import bad_filters, render_page


@login_required
def results_dashboard(request):
    """The Analyse view: the filters of POST /analyse/results as GET parameters, its statistics
    above a paginated table of its rows. Instructors see the rows of their courses."""
    viewer, refused = staff_viewer(request)
    if refused:
        return refused
    workspace = viewer.workspace
    lookups = filter_lookups(viewer)
    form = ResultsForm(
        request.GET, groups=lookups["groups"], contents=lookups["contents"], custom_fields=lookups["custom_fields"]
    )
    if not form.is_valid():
        return bad_filters(request, form)
    filters = form.result_filters()

    def compute_statistics():
        statistics = analyse_queries.analyse_statistics(workspace, filters, course_ids=viewer.course_ids)
        figure = charts.state_figure(statistics["by_state"], STATE_LABELS)
        return {
            "statistics": statistics,
            "chart": charts.chart_html(figure, "states-chart") if statistics["total"] else "",
        }

    statistics = cached_section(workspace, "statistics", (viewer.scope_key, filters), compute_statistics)
    size = form.page_size
    page_number = form.cleaned_data.get("page") or 1
    page = analyse_queries.analyse_results_page(
        workspace, filters, form.order(), limit=size, skip=(page_number - 1) * size, course_ids=viewer.course_ids
    )
    sort, direction = form.cleaned_data.get("sort") or "updated", form.cleaned_data.get("dir") or "desc"
    return render_page(
        request,
        "analytics/dashboards/results.html",
        {
            "form": form,
            "statistics": statistics.value["statistics"],
            "states_chart": statistics.value["chart"],
            "as_of": statistics.as_of,
            "rows": page.rows,
            "pages": pagination(page.total, page_number, size, request.GET),
            "sort_links": sort_links(request.GET, sort, direction),
            "state_labels": STATE_LABELS,
            "type_labels": ENROLLMENT_TYPE_LABELS,
            "is_filtered": bool(request.GET),
            "export": results_panel(filters),
        },
        "results",
    )
