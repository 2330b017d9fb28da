"""Instructor and admin dashboards: workspace overview, courses, a course, the Analyse results,
a video. Server-rendered; plotly figures built in Python (analytics.dashboards.charts).

Views only check who may see what, parse the GET filters (analytics.dashboards.filters), call
query functions (cached by analytics.dashboards.cache) and render. Every number shown comes from a
query function; docs/dashboards.md lists which.

Who: admins see everything of their workspace; instructors the courses they teach (and those
courses' videos and results); learners, and users without a workspace, get a 403 page.
"""

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.credentials import Credential, credential_for_membership, membership_for_session
from accounts.models import EducationLevel, Role
from analytics.definitions import can_read_course, course_scope
from analytics.queries import analyse as analyse_queries
from analytics.queries import course_info
from analytics.queries import dashboards as dashboard_queries
from analytics.queries.video_cloud import DataUnavailable, resolve_period, video_analytics, video_period
from analytics.queries.video_cloud.users import earliest_activity
from courses.models import AttemptState, Course, EnrollmentKind, EnrollmentMode, Video

from . import charts
from .cache import cache_seconds, cached_section, oldest, peek_section
from .exports import course_panel, results_panel, workspace_panel
from .filters import ENROLLMENT_TYPE_LABELS, SORTS, STATE_LABELS, CourseForm, PeriodForm, ResultsForm, WorkspaceFilterForm

LOOKUP_LIMIT = 500
COURSE_PAGE_SIZE = 25
LEARNER_PAGE_SIZE = 25
OVERDUE_LIMIT = 10
SEARCH_USERS_LIMIT = 1000
WEEKLY_ACTIVITY_LABELS = {
    "any": "Any activity",
    "attempted_problem": "Attempted a problem",
    "played_video": "Played a video",
    "posted_forum": "Posted in the forum",
}
MODE_LABELS = dict(EnrollmentMode.choices)
GENDER_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not given"}
# Short names, so that the bars keep their room on a phone (EducationLevel has the long ones).
EDUCATION_LABELS = {
    None: "Not given", EducationLevel.DOCTORATE: "Doctorate", EducationLevel.MASTERS: "Master's",
    EducationLevel.BACHELORS: "Bachelor's", EducationLevel.ASSOCIATES: "Associate", EducationLevel.SECONDARY: "Secondary",
    EducationLevel.JUNIOR_SECONDARY: "Junior secondary", EducationLevel.PRIMARY: "Primary",
    EducationLevel.NONE: "No formal education", EducationLevel.OTHER: "Other",
}
UNKNOWN_LABEL = "Not reported"


# Access ------------------------------------------------------------------------------------------


def refuse(request, reason, status=403):
    return render(request, "analytics/dashboards/refused.html", {"reason": reason, "response_status": status}, status=status)


@dataclass(frozen=True)
class Viewer:
    """An admin or an instructor looking at the dashboards, as the APIs see a credential: an
    admin sees every course of the workspace, an instructor the courses they teach
    (analytics.definitions.course_scope)."""

    credential: Credential

    @property
    def workspace(self):
        return self.credential.workspace

    @property
    def is_admin(self):
        return self.credential.is_admin

    @property
    def course_ids(self):
        """The course scope of the queries: None for the whole workspace, else a Course queryset."""
        return course_scope(self.credential)

    @property
    def scope_key(self):
        """What cached sections are keyed by besides their parts: None for the whole workspace,
        else the instructor's user id (instructors see different courses)."""
        return None if self.is_admin else self.credential.user.pk


def _staff_viewer(request):
    """(viewer, None) for an admin or instructor, else (None, a 403 response)."""
    membership = membership_for_session(request)
    if membership is None:
        return None, refuse(request, "Your account does not belong to a workspace.")
    if membership.role not in (Role.ADMIN, Role.INSTRUCTOR):
        return None, refuse(
            request, "The course and workspace dashboards are for instructors and administrators. "
            "Your own learning is on “My learning”."
        )
    return Viewer(credential_for_membership(membership, "session")), None


def _course_for(request, viewer, key):
    """(course, None) or (None, a 404 / 403 response)."""
    course = Course.objects.filter(workspace=viewer.workspace, key=key).first()
    if course is None:
        return None, refuse(request, f"There is no course “{key}” in this workspace.", status=404)
    if not can_read_course(viewer.credential, course):
        return None, refuse(request, "Instructors see the dashboards of the courses they teach only.")
    return course, None


def _page(request, template, context, section=None):
    """Render a dashboard page: adds the sub-navigation's current section and the cache TTL."""
    context.update(section=section, cache_minutes=max(1, round(cache_seconds() / 60)))
    return render(request, template, context)


def _computes_now(request, name):
    """Whether this request computes section `name` when it is not cached: the page's fragment
    request, `wait=1` (the no-JavaScript link), or DASHBOARD_DEFER_SECTIONS off."""
    return (
        request.GET.get("fragment") == name
        or request.GET.get("wait") == "1"
        or not getattr(settings, "DASHBOARD_DEFER_SECTIONS", True)
    )


def _section(request, workspace, name, parts, compute, fragment=None):
    """The Section from the cache, else computed now (see _computes_now; `fragment` names the
    page part it belongs to, by default `name`), else None: the page is then sent at once with a
    placeholder that static/js/dashboards.js fills from the fragment."""
    if _computes_now(request, fragment or name):
        return cached_section(workspace, name, parts, compute)
    return peek_section(workspace, name, parts)


def _deferred_urls(request, name):
    params = request.GET.copy()
    for extra in ("fragment", "wait"):
        params.pop(extra, None)
    return {
        "fragment_url": _query_string(params, fragment=name),
        "wait_url": _query_string(params, wait=1),
    }


def _page_or_fragment(request, template, fragment_template, context, name, section):
    """The whole page, or only the deferred section's HTML for its fragment request."""
    if request.GET.get("fragment") == name:
        return _page(request, fragment_template, context, section)
    context.update(_deferred_urls(request, name))
    return _page(request, template, context, section)


def bad_filters(request, form):
    """400: the page's GET parameters named with what is wrong with them."""
    return render(request, "analytics/dashboards/bad_filters.html", {"form": form}, status=400)


def _period(period_name, workspace, now):
    return resolve_period(period_name, now, earliest=lambda: earliest_activity(workspace))


def _lookups(viewer):
    """Groups, custom attributes and courses (those the viewer sees) to filter by (the Analyse
    lookup queries)."""
    workspace = viewer.workspace

    def compute():
        return {
            "groups": analyse_queries.analyse_groups(workspace, limit=LOOKUP_LIMIT).rows,
            "custom_fields": analyse_queries.analyse_custom_fields(workspace, limit=LOOKUP_LIMIT).rows,
            "contents": analyse_queries.analyse_contents(workspace, limit=LOOKUP_LIMIT, course_ids=viewer.course_ids).rows,
        }

    return cached_section(workspace, "lookups", (viewer.scope_key,), compute).value


def _query_string(params, **changes):
    """The current GET parameters with some changed (None removes one); for sort and page links."""
    merged = params.copy()
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return "?" + merged.urlencode() if merged else "?"


def _sort_links(params, current_sort, current_dir):
    """{sort name: (href, aria-sort value)} for sortable column headers."""
    links = {}
    for name in SORTS:
        active = name == current_sort
        next_dir = "asc" if active and current_dir == "desc" else "desc"
        aria = ("descending" if current_dir == "desc" else "ascending") if active else "none"
        links[name] = {"href": _query_string(params, sort=name, dir=next_dir, page=None), "aria": aria}
    return links


def _pages(total, page, size, params):
    last = max(1, -(-total // size))
    page = min(page, last)
    return {
        "number": page,
        "count": last,
        "total": total,
        "first_row": (page - 1) * size + 1 if total else 0,
        "last_row": min(page * size, total),
        "previous": _query_string(params, page=page - 1) if page > 1 else None,
        "next": _query_string(params, page=page + 1) if page < last else None,
    }


# Workspace overview ------------------------------------------------------------------------------


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
    period = _period(period_name, workspace, now)
    scope = dashboard_queries.learners_in_scope(workspace, filters)
    updated, overdue_filters = _analyse_window(filters, period_name, period, now)
    trend = dashboard_queries.active_learners_trend(workspace, period, learner_ids=scope)
    enrollments = dashboard_queries.enrollments_over_time(workspace, period, learner_ids=scope)
    statistics = analyse_queries.analyse_statistics(workspace, updated, now=now)
    top = dashboard_queries.top_contents_by_time(workspace, updated, now=now)
    overdue = analyse_queries.analyse_results_page(
        workspace, overdue_filters, analyse_queries.ResultOrder("updatedAt", descending=False), limit=OVERDUE_LIMIT, now=now
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
    params += [
        ("attribute", f"{item.field_id}:{value}") for item in filters.custom_fields for value in item.values
    ]
    if filters.expiry is not None:
        if filters.expiry.start:
            params.append(("expiry_from", filters.expiry.start.date().isoformat()))
        if filters.expiry.end:
            params.append(("expiry_to", filters.expiry.end.date().isoformat()))
    return reverse("dashboard_results") + ("?" + urlencode(params) if params else "")


@login_required
def workspace_dashboard(request):
    """Admins: the workspace overview with its filter bar. Instructors: the courses they teach."""
    viewer, refused = _staff_viewer(request)
    if refused:
        return refused
    if not viewer.is_admin:
        return courses_dashboard(request)
    workspace = viewer.workspace
    lookups = _lookups(viewer)
    form = WorkspaceFilterForm(request.GET, groups=lookups["groups"], custom_fields=lookups["custom_fields"])
    if not form.is_valid():
        return bad_filters(request, form)
    period_name = form.cleaned_data["period"]
    filters = form.result_filters()
    overview = _section(
        request, workspace, "overview", (period_name, filters), lambda: _workspace_overview(workspace, period_name, filters)
    )
    data = overview.value if overview else None
    return _page_or_fragment(
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


# Courses -----------------------------------------------------------------------------------------


@login_required
def courses_dashboard(request):
    """The courses an instructor teaches (an admin: every course), searchable, with links."""
    viewer, refused = _staff_viewer(request)
    if refused:
        return refused
    search = request.GET.get("q", "").strip()[:100]
    page_number = request.GET.get("page", "1")
    if not page_number.isdigit() or int(page_number) < 1:
        return refuse(request, "page: enter a whole number from 1.", status=400)
    page_number = int(page_number)
    contents = analyse_queries.analyse_contents(
        viewer.workspace, search=search, limit=COURSE_PAGE_SIZE, skip=(page_number - 1) * COURSE_PAGE_SIZE,
        course_ids=viewer.course_ids,
    )
    return _page(
        request,
        "analytics/dashboards/courses.html",
        {
            "courses": contents.rows,
            "search": search,
            "pages": _pages(contents.total, page_number, COURSE_PAGE_SIZE, request.GET),
            "is_admin": viewer.is_admin,
        },
        "courses" if viewer.is_admin else "overview",
    )


def _course_sections(course, period_name):
    """The course page's charts for a period: enrollment by mode, demographics, weekly activity,
    quiz time per chapter and the video table, from the Open edX course information queries."""
    now = timezone.now()
    today = now.date()
    period = _period(period_name, course.workspace, now)
    start_day = period.start.date()
    by_mode = course_info.course_enrollment_by_mode(course, start_day, None, today)
    # Demographics of the learners enrolled now (today's row, so far).
    birth_years = course_info.course_enrollment_by_birth_year(course, today, None, today)
    education = course_info.course_enrollment_by_education(course, today, None, today)
    gender_rows = course_info.course_enrollment_by_gender(course, today, None, today)
    gender = {key: value for key, value in (gender_rows[-1].items() if gender_rows else []) if key != "date"}
    locations = course_info.course_enrollment_by_location(course, today, None, today)
    # Every week the period touches, the first one from its Monday (a 7d period begun on a Tuesday
    # would otherwise show only the week in progress, empty on Mondays).
    activity = course_info.course_activity_by_week(course, course_info.week_start(period.start), None, now)
    chapters = dashboard_queries.course_chapter_quiz_time(course, start=period.start, end=period.end)
    videos = dashboard_queries.course_video_drop_off(course)

    modes = [mode for mode in course_info.REPORTED_MODES if any(row[mode] for row in by_mode)]
    known_years = [row for row in birth_years if row["birth_year"] is not None]
    countries = [
        {"alpha3": row["country"].alpha3, "alpha2": row["country"].alpha2, "name": row["country"].name, "count": row["count"]}
        for row in locations
    ]
    mapped = [row for row in countries if row["alpha3"]]
    return {
        "period": period,
        "by_mode": by_mode,
        "modes": [(mode, MODE_LABELS.get(mode, mode)) for mode in modes],
        "birth_years": birth_years,
        "unknown_birth_year": sum(row["count"] for row in birth_years if row["birth_year"] is None),
        "education": [(EDUCATION_LABELS.get(row["education_level"], row["education_level"]), row["count"]) for row in education],
        "gender": [(GENDER_LABELS[key], count) for key, count in gender.items()],
        "countries": countries,
        "activity": activity,
        "chapters": chapters,
        "videos": videos,
        "charts": {
            "by_mode": charts.chart_html(
                charts.enrollment_by_mode_figure(by_mode, modes, MODE_LABELS), "enrollment-chart"
            ) if by_mode and by_mode[-1]["cumulative_count"] else "",
            "birth_years": charts.chart_html(charts.birth_year_figure(known_years), "birth-year-chart") if known_years else "",
            "education": charts.chart_html(
                charts.count_bars(
                    [EDUCATION_LABELS.get(row["education_level"], row["education_level"]) for row in education],
                    [row["count"] for row in education], charts.SKY_BLUE, charts.TEXT,
                ), "education-chart",
            ) if education else "",
            "gender": charts.chart_html(
                charts.count_bars([GENDER_LABELS[key] for key in gender], list(gender.values()), charts.PURPLE, charts.TEXT),
                "gender-chart",
            ) if any(gender.values()) else "",
            "map": charts.chart_html(charts.country_map_figure(mapped), "country-map") if mapped else "",
            "activity": charts.chart_html(
                charts.weekly_activity_figure(activity, WEEKLY_ACTIVITY_LABELS), "activity-chart"
            ) if any(row["any"] for row in activity) else "",
            "chapters": charts.chart_html(charts.chapter_quiz_figure(chapters), "chapter-chart")
            if any(chapter["quiz_duration_s"] for chapter in chapters) else "",
        },
    }


def _timeline_section(video):
    """The course page's video figure: views and learners per segment (the Open edX timeline)."""
    timeline = dashboard_queries.video_segment_timeline(video)
    return {
        "timeline": timeline,
        "chart": charts.chart_html(charts.video_timeline_figure(timeline), "timeline-chart")
        if any(row["num_views"] for row in timeline) else "",
    }


def _problems_section(course, chosen_key):
    """The course's problems (submissions, % correct) and, for one of them (`chosen_key`, by
    default the one with the most submissions), its answer distribution per part and its grade
    distribution, charts and tables. Four queries."""
    problems = dashboard_queries.course_problem_summary(course)
    if chosen_key is None and problems:
        chosen_key = max(problems, key=lambda row: row["total_submissions"])["module_id"]
    chosen = next((row for row in problems if row["module_id"] == chosen_key), None)
    distributions = (
        dashboard_queries.course_problem_distributions(course, chosen_key)
        if chosen else {"answers": [], "parts": [], "grades": []}
    )
    return {
        "problems": problems,
        "chosen": chosen,
        "parts": [
            {
                **part,
                "number": index,
                "chart": charts.chart_html(charts.answer_distribution_figure(part["answers"]), f"answer-chart-{index}"),
            }
            for index, part in enumerate(distributions["parts"], start=1)
        ],
        "grades": distributions["grades"],
        "grade_chart": charts.chart_html(charts.grade_distribution_figure(distributions["grades"]), "grade-chart")
        if distributions["grades"] else "",
    }


def _retention_section(video):
    retention = dashboard_queries.video_retention(video)
    has_viewers = any(segment["viewers"] for segment in retention.segments)
    return {
        "retention": retention,
        "chart": charts.chart_html(charts.retention_figure(retention), "retention-chart") if has_viewers else "",
    }


def _learner_search_ids(viewer, search):
    """Public ids of the learners (of the courses the viewer sees) whose name or email contains
    `search` (the Analyse users lookup)."""
    found = analyse_queries.analyse_users(
        viewer.workspace, search=search, limit=SEARCH_USERS_LIMIT, course_ids=viewer.course_ids
    )
    return tuple(row["public_id"] for row in found.rows)


@login_required
def course_dashboard(request, key):
    viewer, refused = _staff_viewer(request)
    if refused:
        return refused
    course, refused = _course_for(request, viewer, key)
    if refused:
        return refused
    form = CourseForm(request.GET)
    if not form.is_valid():
        return bad_filters(request, form)
    workspace = viewer.workspace
    period_name = form.cleaned_data["period"]
    def compute_course():
        return _course_sections(course, period_name)

    sections = _section(request, workspace, "course", (course.pk, period_name), compute_course)
    data = sections.value if sections else None
    chosen_problem = form.cleaned_data.get("problem") or None
    if chosen_problem and not dashboard_queries.course_has_problem(course, chosen_problem):
        form.add_error("problem", f"There is no problem “{chosen_problem}” in this course.")
        return bad_filters(request, form)
    chosen_video = timeline = problems = None
    if data is not None:
        problems = _section(
            request, workspace, "problems", (course.pk, chosen_problem or ""),
            lambda: _problems_section(course, chosen_problem), fragment="course",
        )
        if problems is None:  # not cached yet: defer the whole figures part
            data = None
    if data is not None:
        chosen_key = form.cleaned_data.get("video") or next(
            (row["video_key"] for row in data["videos"] if row["users_at_start"]),
            data["videos"][0]["video_key"] if data["videos"] else None,
        )
        chosen_video = Video.objects.filter(course=course, key=chosen_key).first() if chosen_key else None
        if chosen_video is not None:
            timeline = _section(
                request, workspace, "timeline", (chosen_video.pk,), lambda: _timeline_section(chosen_video),
                fragment="course",
            )
            if timeline is None:  # the timeline is not cached yet: defer the whole figures part
                data = None

    # The learners table: the Analyse rows of this course (live, not cached: it is one page).
    search = form.cleaned_data.get("q", "").strip()
    filters = analyse_queries.ResultFilters(content_ids=(course.key,))
    if search:
        filters = replace(filters, user_ids=_learner_search_ids(viewer, search) or ("-",))
    page_number = form.cleaned_data.get("page") or 1
    learners = analyse_queries.analyse_results_page(
        workspace, filters, form.order(), limit=LEARNER_PAGE_SIZE, skip=(page_number - 1) * LEARNER_PAGE_SIZE,
        course_ids=viewer.course_ids,
    )
    sort, direction = form.cleaned_data.get("sort") or "updated", form.cleaned_data.get("dir") or "desc"
    return _page_or_fragment(
        request,
        "analytics/dashboards/course.html",
        "analytics/dashboards/_course_figures.html",
        {
            "course": course,
            "form": form,
            "data": data,
            "as_of": oldest(sections, timeline, problems),
            "chosen_video": chosen_video,
            "timeline": timeline.value if timeline and data else None,
            "problems": problems.value if problems and data else None,
            "learners": learners.rows,
            "pages": _pages(learners.total, page_number, LEARNER_PAGE_SIZE, request.GET),
            "search": search,
            "sort_links": _sort_links(request.GET, sort, direction),
            "state_labels": STATE_LABELS,
            "type_labels": ENROLLMENT_TYPE_LABELS,
            "activity_labels": WEEKLY_ACTIVITY_LABELS,
            "export": course_panel(course, viewer.is_admin, period_name),
            "is_admin": viewer.is_admin,
        },
        "course",
        "courses" if viewer.is_admin else "overview",
    )


# Analyse results ---------------------------------------------------------------------------------


@login_required
def results_dashboard(request):
    """The Analyse view: the filters of POST /analyse/results as GET parameters, its statistics
    above a paginated table of its rows. Instructors see the rows of their courses."""
    viewer, refused = _staff_viewer(request)
    if refused:
        return refused
    workspace = viewer.workspace
    lookups = _lookups(viewer)
    form = ResultsForm(
        request.GET, groups=lookups["groups"], contents=lookups["contents"], custom_fields=lookups["custom_fields"]
    )
    if not form.is_valid():
        return bad_filters(request, form)
    filters = form.result_filters()
    def compute_statistics():
        statistics = analyse_queries.analyse_statistics(workspace, filters, course_ids=viewer.course_ids)
        figure = charts.state_figure(statistics["by_state"], STATE_LABELS)
        return {"statistics": statistics, "chart": charts.chart_html(figure, "states-chart") if statistics["total"] else ""}

    statistics = cached_section(workspace, "statistics", (viewer.scope_key, filters), compute_statistics)
    size = form.page_size
    page_number = form.cleaned_data.get("page") or 1
    page = analyse_queries.analyse_results_page(
        workspace, filters, form.order(), limit=size, skip=(page_number - 1) * size, course_ids=viewer.course_ids
    )
    sort, direction = form.cleaned_data.get("sort") or "updated", form.cleaned_data.get("dir") or "desc"
    return _page(
        request,
        "analytics/dashboards/results.html",
        {
            "form": form,
            "statistics": statistics.value["statistics"],
            "states_chart": statistics.value["chart"],
            "as_of": statistics.as_of,
            "rows": page.rows,
            "pages": _pages(page.total, page_number, size, request.GET),
            "sort_links": _sort_links(request.GET, sort, direction),
            "state_labels": STATE_LABELS,
            "type_labels": ENROLLMENT_TYPE_LABELS,
            "is_filtered": bool(request.GET),
            "export": results_panel(filters),
        },
        "results",
    )


# Video -------------------------------------------------------------------------------------------


def _video_sections(workspace, video, period_name):
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
    chart_colours = {"device": (charts.BLUE, "white"), "platform": (charts.ORANGE, charts.TEXT), "country": (charts.SKY_BLUE, charts.TEXT)}
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
                ) if rows else ""
                for name, rows in breakdowns.items()
            },
            "watch_time": charts.chart_html(charts.watch_time_figure(engagement["timeline"]), "watch-time-chart"),
            "completion": charts.chart_html(
                charts.timeline_figure(engagement["timeline"], {"completion_rate": "Completion rate"}, "Completed views", True),
                "completion-chart",
            ),
            "buffering": charts.chart_html(
                charts.timeline_figure(
                    performance["timeline"], {"buffering_rate": "Buffering / watch time", "error_rate": "Errors per view"},
                    "Rate", True,
                ),
                "buffering-chart",
            ),
        },
    }


@login_required
def video_dashboard(request, key):
    """One video's VideoCloud analytics as charts, and its retention curve."""
    viewer, refused = _staff_viewer(request)
    if refused:
        return refused
    workspace = viewer.workspace
    video = Video.objects.select_related("course").filter(workspace=workspace, key=key).first()
    if video is None:
        return refuse(request, f"There is no video “{key}” in this workspace.", status=404)
    course, refused = _course_for(request, viewer, video.course.key)
    if refused:
        return refused
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return bad_filters(request, form)
    period_name = form.cleaned_data["period"]
    try:
        sections = _section(
            request, workspace, "video", (video.pk, period_name), lambda: _video_sections(workspace, video, period_name)
        )
    except DataUnavailable:  # deleted between the look-up and the query
        return refuse(request, f"There is no video “{key}” in this workspace.", status=404)
    retention = _section(
        request, workspace, "retention", (video.pk,), lambda: _retention_section(video), fragment="video"
    )
    ready = sections is not None and retention is not None
    return _page_or_fragment(
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

