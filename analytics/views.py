from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.credentials import membership_for_session

from . import charts
from .dashboards.exports import learner_panel
from .queries.learner import learner_analytics
from .timezones import time_zone_named, today_in


@login_required
def learner_dashboard(request):
    """The signed-in user's own analytics: the same numbers as GET /api/user/analytics.

    `?tz=Europe/Paris` picks the calendar days of the 7-day chart (UTC by default; an unknown
    zone falls back to UTC with a notice rather than an error page).
    """
    membership = membership_for_session(request)
    if membership is None:
        return render(request, "analytics/learner_dashboard.html", {"has_workspace": False})
    tz_name = request.GET.get("tz") or "UTC"
    tz = time_zone_named(tz_name)
    unknown_tz = None if tz is not None else tz_name
    if tz is None:
        tz, tz_name = time_zone_named("UTC"), "UTC"
    today = today_in(tz)
    analytics = learner_analytics(membership.workspace, request.user, today=today, tz=tz)
    context = {
        "has_workspace": True,
        "analytics": analytics,
        "today": today,
        "tz_name": tz_name,
        "unknown_tz": unknown_tz,
        "export": learner_panel(),
        "daily_chart": charts.chart_html(charts.daily_time_figure(analytics.daily_stats, today), "daily-chart"),
        "page_chart": charts.chart_html(charts.page_time_figure(analytics.page_stats), "page-chart"),
        "courses": [
            {
                "course": course,
                "chart": charts.chart_html(charts.chapter_quiz_figure(course), f"chapter-chart-{index}")
                if course.chapters
                else "",
            }
            for index, course in enumerate(analytics.course_breakdown, start=1)
        ],
    }
    return render(request, "analytics/learner_dashboard.html", context)
