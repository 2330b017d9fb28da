"""One course: enrollment and demographics, weekly activity, quiz time per chapter, videos and
the chosen video's timeline, problems, and the learners table (the course's Analyse rows)."""

from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.utils import timezone

from accounts.models import EducationLevel
from analytics.queries import analyse as analyse_queries
from analytics.queries import course_info
from analytics.queries import dashboards as dashboard_queries
from courses.models import EnrollmentMode, Video

from .. import charts
from ..cache import oldest
from ..exports import course_panel
from ..filters import ENROLLMENT_TYPE_LABELS, STATE_LABELS, CourseForm
from .access import course_for, staff_viewer
from .lookups import dashboard_period
from .paging import pagination, sort_links
from .rendering import bad_filters, deferred_section, page_or_fragment

LEARNER_PAGE_SIZE = 25
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
    None: "Not given",
    EducationLevel.DOCTORATE: "Doctorate",
    EducationLevel.MASTERS: "Master's",
    EducationLevel.BACHELORS: "Bachelor's",
    EducationLevel.ASSOCIATES: "Associate",
    EducationLevel.SECONDARY: "Secondary",
    EducationLevel.JUNIOR_SECONDARY: "Junior secondary",
    EducationLevel.PRIMARY: "Primary",
    EducationLevel.NONE: "No formal education",
    EducationLevel.OTHER: "Other",
}


def _course_sections(course, period_name):
    """The course page's charts for a period: enrollment by mode, demographics, weekly activity,
    quiz time per chapter and the video table, from the Open edX course information queries."""
    now = timezone.now()
    today = now.date()
    period = dashboard_period(period_name, course.workspace, now)
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
        {
            "alpha3": row["country"].alpha3,
            "alpha2": row["country"].alpha2,
            "name": row["country"].name,
            "count": row["count"],
        }
        for row in locations
    ]
    mapped = [row for row in countries if row["alpha3"]]
    return {
        "period": period,
        "by_mode": by_mode,
        "modes": [(mode, MODE_LABELS.get(mode, mode)) for mode in modes],
        "birth_years": birth_years,
        "unknown_birth_year": sum(row["count"] for row in birth_years if row["birth_year"] is None),
        "education": [
            (EDUCATION_LABELS.get(row["education_level"], row["education_level"]), row["count"]) for row in education
        ],
        "gender": [(GENDER_LABELS[key], count) for key, count in gender.items()],
        "countries": countries,
        "activity": activity,
        "chapters": chapters,
        "videos": videos,
        "charts": {
            "by_mode": charts.chart_html(
                charts.enrollment_by_mode_figure(by_mode, modes, MODE_LABELS), "enrollment-chart"
            )
            if by_mode and by_mode[-1]["cumulative_count"]
            else "",
            "birth_years": charts.chart_html(charts.birth_year_figure(known_years), "birth-year-chart")
            if known_years
            else "",
            "education": charts.chart_html(
                charts.count_bars(
                    [EDUCATION_LABELS.get(row["education_level"], row["education_level"]) for row in education],
                    [row["count"] for row in education],
                    charts.SKY_BLUE,
                    charts.TEXT,
                ),
                "education-chart",
            )
            if education
            else "",
            "gender": charts.chart_html(
                charts.count_bars(
                    [GENDER_LABELS[key] for key in gender], list(gender.values()), charts.PURPLE, charts.TEXT
                ),
                "gender-chart",
            )
            if any(gender.values())
            else "",
            "map": charts.chart_html(charts.country_map_figure(mapped), "country-map") if mapped else "",
            "activity": charts.chart_html(
                charts.weekly_activity_figure(activity, WEEKLY_ACTIVITY_LABELS), "activity-chart"
            )
            if any(row["any"] for row in activity)
            else "",
            "chapters": charts.chart_html(charts.chapter_quiz_figure(chapters), "chapter-chart")
            if any(chapter["quiz_duration_s"] for chapter in chapters)
            else "",
        },
    }


def _timeline_section(video):
    """The course page's video figure: views and learners per segment (the Open edX timeline)."""
    timeline = dashboard_queries.video_segment_timeline(video)
    return {
        "timeline": timeline,
        "chart": charts.chart_html(charts.video_timeline_figure(timeline), "timeline-chart")
        if any(row["num_views"] for row in timeline)
        else "",
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
        if chosen
        else {"answers": [], "parts": [], "grades": []}
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
        if distributions["grades"]
        else "",
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
    """One course's page (an instructor: a course they teach); its figures are deferred sections."""
    viewer, refused = staff_viewer(request)
    if refused:
        return refused
    course, refused = course_for(request, viewer, key)
    if refused:
        return refused
    form = CourseForm(request.GET)
    if not form.is_valid():
        return bad_filters(request, form)
    workspace = viewer.workspace
    period_name = form.cleaned_data["period"]

    def compute_course():
        return _course_sections(course, period_name)

    sections = deferred_section(request, workspace, "course", (course.pk, period_name), compute_course)
    data = sections.value if sections else None
    chosen_problem = form.cleaned_data.get("problem") or None
    if chosen_problem and not dashboard_queries.course_has_problem(course, chosen_problem):
        form.add_error("problem", f"There is no problem “{chosen_problem}” in this course.")
        return bad_filters(request, form)
    chosen_video = timeline = problems = None
    if data is not None:
        problems = deferred_section(
            request,
            workspace,
            "problems",
            (course.pk, chosen_problem or ""),
            lambda: _problems_section(course, chosen_problem),
            fragment="course",
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
            timeline = deferred_section(
                request,
                workspace,
                "timeline",
                (chosen_video.pk,),
                lambda: _timeline_section(chosen_video),
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
        workspace,
        filters,
        form.order(),
        limit=LEARNER_PAGE_SIZE,
        skip=(page_number - 1) * LEARNER_PAGE_SIZE,
        course_ids=viewer.course_ids,
    )
    sort, direction = form.cleaned_data.get("sort") or "updated", form.cleaned_data.get("dir") or "desc"
    return page_or_fragment(
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
            "pages": pagination(learners.total, page_number, LEARNER_PAGE_SIZE, request.GET),
            "search": search,
            "sort_links": sort_links(request.GET, sort, direction),
            "state_labels": STATE_LABELS,
            "type_labels": ENROLLMENT_TYPE_LABELS,
            "activity_labels": WEEKLY_ACTIVITY_LABELS,
            "export": course_panel(course, viewer.is_admin, period_name),
            "is_admin": viewer.is_admin,
        },
        "course",
        "courses" if viewer.is_admin else "overview",
    )
