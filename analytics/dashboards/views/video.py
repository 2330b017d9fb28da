"""One video: its VideoCloud analytics as charts (views, breakdowns, watch time, completion,
buffering) and its retention curve."""

from django.contrib.auth.decorators import login_required

from analytics.queries import course_info
from analytics.queries import dashboards as dashboard_queries
from analytics.queries.video_cloud import DataUnavailable, video_analytics, video_period
from courses.models import Video

from .. import charts
from ..cache import oldest
from ..filters import PeriodForm
from .access import course_for, refuse, staff_viewer
from .rendering import bad_filters, deferred_section, page_or_fragment

UNKNOWN_LABEL = "Not reported"


def _video_sections(workspace, video, period_name):
    """The video page's figures for a period: the VideoCloud video analytics, as charts."""
    analytics = video_analytics(workspace, video.key, video_period(workspace, period_name, video_key=video.key))
    views, engagement, performance = analytics["views"], analytics["engagement"], analytics["performance"]
    has_views = bool(views["total"])
    names = {
        "device": lambda key: key.capitalize(),
        "platform": lambda key: {"ios": "iOS"}.get(key, key.capitalize()),
        "country": lambda key: course_info.country_for_code(key).name,
    }
    breakdowns = {
        name: [(label(key) if key != "unknown" else UNKNOWN_LABEL, count) for key, count in views[f"by_{name}"].items()]
        for name, label in names.items()
    }
    chart_colours = {
        "device": (charts.BLUE, "white"),
        "platform": (charts.ORANGE, charts.TEXT),
        "country": (charts.SKY_BLUE, charts.TEXT),
    }
    return {
        "analytics": analytics,
        "breakdowns": breakdowns,
        "has_views": has_views,
        "charts": {
            "views": charts.chart_html(
                charts.timeline_figure(views["timeline"], {"views": "Views", "unique": "Unique learners"}, "Per day"),
                "views-chart",
            ),
            **{
                name: charts.chart_html(
                    charts.count_bars([label for label, _ in rows], [count for _, count in rows], *chart_colours[name]),
                    f"{name}-chart",
                )
                if rows
                else ""
                for name, rows in breakdowns.items()
            },
            "watch_time": charts.chart_html(charts.watch_time_figure(engagement["timeline"]), "watch-time-chart"),
            "completion": charts.chart_html(
                charts.timeline_figure(
                    engagement["timeline"], {"completion_rate": "Completion rate"}, "Completed views", True
                ),
                "completion-chart",
            ),
            "buffering": charts.chart_html(
                charts.timeline_figure(
                    performance["timeline"],
                    {"buffering_rate": "Buffering / watch time", "error_rate": "Errors per view"},
                    "Rate",
                    True,
                ),
                "buffering-chart",
            ),
        },
    }


def _retention_section(video):
    retention = dashboard_queries.video_retention(video)
    has_viewers = any(segment["viewers"] for segment in retention.segments)
    return {
        "retention": retention,
        "chart": charts.chart_html(charts.retention_figure(retention), "retention-chart") if has_viewers else "",
    }


@login_required
def video_dashboard(request, key):
    """One video's VideoCloud analytics as charts, and its retention curve."""
    viewer, refused = staff_viewer(request)
    if refused:
        return refused
    workspace = viewer.workspace
    video = Video.objects.select_related("course").filter(workspace=workspace, key=key).first()
    if video is None:
        return refuse(request, f"There is no video “{key}” in this workspace.", status=404)
    course, refused = course_for(request, viewer, video.course.key)
    if refused:
        return refused
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return bad_filters(request, form)
    period_name = form.cleaned_data["period"]
    try:
        sections = deferred_section(
            request, workspace, "video", (video.pk, period_name), lambda: _video_sections(workspace, video, period_name)
        )
    except DataUnavailable:  # deleted between the look-up and the query
        return refuse(request, f"There is no video “{key}” in this workspace.", status=404)
    retention = deferred_section(
        request, workspace, "retention", (video.pk,), lambda: _retention_section(video), fragment="video"
    )
    ready = sections is not None and retention is not None
    return page_or_fragment(
        request,
        "analytics/dashboards/video.html",
        "analytics/dashboards/_video_figures.html",
        {
            "video": video,
            "course": course,
            "form": form,
            "data": sections.value if ready else None,
            "retention": retention.value if ready else None,
            "as_of": oldest(sections, retention) if ready else None,
            "breakdown_titles": [("device", "Devices"), ("platform", "Platforms"), ("country", "Countries")],
        },
        "video",
        "courses" if viewer.is_admin else "overview",
    )
