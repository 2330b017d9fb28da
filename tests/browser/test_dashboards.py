"""The instructor and admin dashboards in Chromium: charts drawn with the numbers of the APIs, a
filter used, an export started until its download link shows, the wrong role refused, phone width."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Role
from analytics.models import ProblemResponse
from analytics.services.course_info_rollups import refresh_course_info_rollups
from analytics.services.problem_rollups import list_answer, record_problem_responses
from courses.models import AttemptState, EnrollmentKind
from tests.browser.conftest import PHONE
from tests.factories import (
    AttemptFactory,
    ChapterFactory,
    CourseFactory,
    CustomFieldFactory,
    CustomFieldValueFactory,
    EnrollmentFactory,
    LearnerGroupFactory,
    LearningEventFactory,
    MembershipFactory,
    PageSessionFactory,
    UserFactory,
    VideoFactory,
    VideoViewFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.browser

COURSE_KEY = "course-v1:Acme+Web101+2026"
VIDEO_KEY = "block-v1:Acme+Web101+2026+type@video+block@intro"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def member(workspace, email, role, **fields):
    user = UserFactory(email=email, **fields)
    MembershipFactory(user=user, workspace=workspace, role=role)
    return user


@pytest.fixture
def world(live_server_db):
    """A small workspace: an admin, an instructor of one of two courses, four learners (two in
    group Sales), enrollments, results, quiz sessions, events and video views of the last days."""
    now = timezone.now()
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    admin = member(workspace, "admin@acme.test", Role.ADMIN)
    instructor = member(workspace, "teacher@acme.test", Role.INSTRUCTOR)
    learners = [
        member(
            workspace,
            "ann@acme.test",
            Role.LEARNER,
            first_name="Ann",
            last_name="Archer",
            country="FR",
            gender="f",
            birth_year=1990,
            education_level="masters",
        ),
        member(
            workspace,
            "bob@acme.test",
            Role.LEARNER,
            first_name="Bob",
            last_name="Baker",
            country="US",
            gender="m",
            birth_year=1985,
            education_level="bachelors",
        ),
        member(workspace, "cy@acme.test", Role.LEARNER, first_name="Cy", last_name="Cole", country="BR"),
        member(
            workspace, "di@acme.test", Role.LEARNER, first_name="Di", last_name="Diaz", country="FR", birth_year=2001
        ),
    ]
    ann, bob, cy, di = learners
    sales = LearnerGroupFactory(workspace=workspace, name="Sales")
    sales.members.add(ann, bob)
    department = CustomFieldFactory(workspace=workspace, name="Department")
    CustomFieldValueFactory(field=department, user=ann, value="Legal")

    web = CourseFactory(workspace=workspace, key=COURSE_KEY, title="Web basics", thumbnail="")
    web.instructors.add(instructor)
    data = CourseFactory(workspace=workspace, key="edX/Data/2026", title="Data basics", thumbnail="")
    for position, (key, title) in enumerate((("ch1", "HTML"), ("ch2", "CSS"), ("ch3", "JavaScript")), start=1):
        ChapterFactory(course=web, key=key, title=title, position=position)
    video = VideoFactory(course=web, key=VIDEO_KEY, title="Intro", duration_s=60, segment_length_s=10)

    for index, learner in enumerate(learners):
        EnrollmentFactory(
            course=web,
            user=learner,
            mode=("verified", "audit")[index % 2],
            kind=EnrollmentKind.MANDATORY if index < 2 else EnrollmentKind.OPTIONAL,
            enrolled_at=now - timedelta(days=3 + index),
            expires_at=now - timedelta(days=1) if index == 0 else None,
        )
        PageSessionFactory(
            workspace=workspace,
            user=learner,
            page="Quiz",
            path=f"/quiz/{COURSE_KEY}/ch{1 + index % 3}",
            course=web,
            course_key=COURSE_KEY,
            chapter_key=f"ch{1 + index % 3}",
            duration_s=120 * (index + 1),
            started_at=now - timedelta(days=index + 1),
        )
        VideoViewFactory(
            video=video,
            user=learner,
            segments=list(range(6 - index)),
            watched_first_segment=True,
            watched_last_segment=index == 0,
            is_completed=index == 0,
            watched_s=60 - 10 * index,
            device=("desktop", "mobile")[index % 2],
            platform=("web", "ios")[index % 2],
            country=learner.country,
            started_at=now - timedelta(days=index + 1),
        )
    EnrollmentFactory(course=data, user=cy, mode="honor", enrolled_at=now - timedelta(days=12))
    states = [AttemptState.IN_PROGRESS, AttemptState.APPROVED, AttemptState.FAILED, AttemptState.NOT_STARTED]
    for index, (learner, state) in enumerate(zip(learners, states)):
        AttemptFactory(
            course=web,
            user=learner,
            state=state,
            progress=(40, 100, 100, 0)[index],
            score=(None, 90, 30, None)[index],
            time_spent_s=600 * (index + 1),
            last_activity_at=now - timedelta(days=index + 1),
        )
    AttemptFactory(
        course=data,
        user=cy,
        state=AttemptState.IN_PROGRESS,
        progress=20,
        time_spent_s=900,
        last_activity_at=now - timedelta(days=12),
    )
    LearningEventFactory(course=web, user=ann, type="attempted_problem", occurred_at=now - timedelta(days=1))
    PageSessionFactory(workspace=workspace, user=cy, started_at=now - timedelta(days=12))
    record_problem_responses(workspace.pk, problem_responses(web, learners, now))
    refresh_course_info_rollups(now)
    return {"admin": admin, "instructor": instructor, "learners": learners, "sales": sales, "data": data}


PROBLEM_1 = "block-v1:Acme+Web101+2026+type@problem+block@quiz1"
PROBLEM_2 = "block-v1:Acme+Web101+2026+type@problem+block@quiz2"


def problem_responses(course, learners, now):
    """quiz1 (one choice): ann HTML then CSS, bob CSS, cy JS, di CSS; last answers CSS x3, JS x1,
    grades 1/1 x3, 0/1 x1. quiz2 (a checkbox part, a choice part): ann once, 1 of 2 right."""
    ann, bob, cy, di = learners
    question = "Which language styles a web page?"
    options = {"HTML": ("choice_0", False), "CSS": ("choice_1", True), "JS": ("choice_2", False)}

    def response(user, problem, part, minutes_ago, answer, value_id, correct, grade, max_grade, name, text):
        return ProblemResponse(
            id=uuid.uuid4(),
            workspace=course.workspace,
            user=user,
            course=course,
            problem_key=problem,
            part_id=part,
            answer=answer,
            value_id=value_id,
            correct=correct,
            grade=grade,
            max_grade=max_grade,
            submitted_at=now - timedelta(minutes=minutes_ago),
            question=text,
            problem_name=name,
        )

    rows = [
        response(
            user,
            PROBLEM_1,
            "quiz1_2_1",
            minutes,
            answer,
            *options[answer],
            int(options[answer][1]),
            1,
            "Styling quiz",
            question,
        )
        for user, minutes, answer in (
            (ann, 300, "HTML"),
            (ann, 200, "CSS"),
            (bob, 250, "CSS"),
            (cy, 240, "JS"),
            (di, 230, "CSS"),
        )
    ]
    rows += [
        response(
            ann,
            PROBLEM_2,
            "quiz2_2_1",
            100,
            list_answer(["div", "span"]),
            list_answer(["choice_0", "choice_1"]),
            True,
            1,
            2,
            "Tags quiz",
            "Pick the HTML elements.",
        ),
        response(
            ann,
            PROBLEM_2,
            "quiz2_3_1",
            100,
            "color",
            "choice_3",
            False,
            1,
            2,
            "Tags quiz",
            "Which property sets the font?",
        ),
    ]
    return rows


def problems(page):
    """The page's problems, less the figure fragments a navigation cut short (the login lands on
    /dashboards/, whose fragment request is aborted when the test moves on at once); a fragment
    that really failed leaves its charts undrawn, which wait_for_charts catches."""
    return [problem for problem in page.problems if not ("request failed" in problem and "fragment=" in problem)]


def wait_for_charts(page, *chart_ids):
    for chart_id in chart_ids:
        page.wait_for_selector(f"#{chart_id} svg.main-svg")


def api_post(page, url, payload):
    """POST JSON with the page's session and its CSRF cookie, as the dashboard's scripts do."""
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    return page.request.post(url, data=payload, headers={"X-CSRFToken": token, "Referer": url})


def start_export_and_wait(page, type_value):
    page.select_option(".export-form select[name=type]", type_value)
    page.click(".export-form button[type=submit]")
    link = page.locator(".export-form .export-link")
    link.wait_for(state="visible")
    href = link.get_attribute("href")
    assert "/download?token=" in href
    assert page.request.get(href).status == 200
    return href


def fits_phone(page):
    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_selector("svg.main-svg")
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_admin_overview_draws_the_api_numbers_filters_and_exports(page, live_server, login, world, save_screenshot):
    login(page, world["admin"])
    page.goto(f"{live_server.url}/dashboards/?period=all")
    wait_for_charts(page, "active-chart", "enrollments-chart", "states-chart", "top-courses-chart")

    statistics = api_post(page, f"{live_server.url}/analyse/statistics", {}).json()
    assert page.evaluate("document.getElementById('states-chart').data[0].y") == list(statistics["byState"].values())
    assert page.locator("[data-stat=completion-rate]").get_attribute("data-value") == str(statistics["completionRate"])

    page.select_option("#id_period", "30d")
    page.click(".filter-bar button[type=submit]")
    page.wait_for_url("**/dashboards/?period=30d**")
    users = page.request.get(f"{live_server.url}/analytics/users?period=30d&metrics=activity").json()["data"]
    assert page.inner_text("[data-stat=active-learners]") == str(users["activity"]["activeUsers"]["monthly"]) == "4"
    save_screenshot(page, "overview-desktop")

    # The group filter, chosen with the keyboard, lives in the URL and narrows every figure.
    page.focus("#id_group")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.click(".filter-bar button[type=submit]")
    page.wait_for_url(f"**group={world['sales'].public_id}**")
    wait_for_charts(page, "active-chart")
    assert page.inner_text("[data-stat=active-learners]") == "2"
    assert page.evaluate("document.getElementById('active-chart').data[0].y.reduce((a, b) => Math.max(a, b), 0)") == 1

    start_export_and_wait(page, "results")
    save_screenshot(page, "overview-exported")
    assert fits_phone(page)
    save_screenshot(page, "overview-phone")
    assert problems(page) == []


def test_instructor_course_page_draws_the_course_information_numbers(page, live_server, login, world, save_screenshot):
    login(page, world["instructor"])
    assert page.url.endswith("/dashboards/")  # instructors land on their courses
    page.click("#course-list a")
    wait_for_charts(
        page,
        "enrollment-chart",
        "birth-year-chart",
        "education-chart",
        "gender-chart",
        "country-map",
        "activity-chart",
        "chapter-chart",
        "timeline-chart",
        "answer-chart-1",
        "grade-chart",
    )

    api = f"{live_server.url}/api/v0/courses/{COURSE_KEY}"
    today = timezone.now().date()
    location = page.request.get(f"{api}/enrollment/location/?start_date={today}").json()
    drawn = page.evaluate(
        "(() => { const d = document.getElementById('country-map').data[0]; return [d.locations, d.z]; })()"
    )
    assert (
        dict(zip(*drawn))
        == {row["country"]["alpha3"]: row["count"] for row in location}
        == {"FRA": 2, "USA": 1, "BRA": 1}
    )
    assert page.locator("#country-map .choroplethlocation").count() >= 3  # outlines loaded from our static files

    videos = page.request.get(f"{api}/videos/").json()
    row = page.locator(f"#video-table tr[data-video-id='{VIDEO_KEY}']")
    assert row.get_attribute("data-users-at-start") == str(videos[0]["users_at_start"]) == "4"
    assert row.get_attribute("data-users-at-end") == str(videos[0]["users_at_end"]) == "1"
    timeline = page.request.get(f"{live_server.url}/api/v0/videos/{videos[0]['pipeline_video_id']}/timeline/").json()
    drawn = page.evaluate("document.getElementById('timeline-chart').data.map(trace => [trace.name, trace.y])")
    assert drawn == [
        ["Views", [row["num_views"] for row in timeline]],
        ["Learners", [row["num_users"] for row in timeline]],
    ]
    assert drawn[1][1] == [4, 4, 4, 3, 2, 1]
    save_screenshot(page, "course-desktop")

    # The period filter: 7 daily rows, the same counts as the enrollment endpoint.
    page.select_option("#id_period", "7d")
    page.click(".filter-bar button[type=submit]")
    page.wait_for_url("**period=7d**")
    wait_for_charts(page, "enrollment-chart")
    start = (timezone.now() - timedelta(days=6)).date()
    enrollment = page.request.get(f"{api}/enrollment/?start_date={start}").json()
    table = page.eval_on_selector_all("#enrollment-table tbody tr", "rows => rows.map(r => +r.dataset.count)")
    assert table == [row["count"] for row in enrollment]

    # The learners table: searchable and sortable.
    page.fill("#learner-search", "baker")
    page.press("#learner-search", "Enter")
    page.wait_for_url("**q=baker**")
    assert page.eval_on_selector_all("#learner-table tbody tr", "rows => rows.map(r => r.dataset.progress)") == ["100"]
    page.goto(f"{live_server.url}/dashboards/courses/{COURSE_KEY}/")
    page.click("#learner-table th[aria-sort] >> text=Progress")
    page.wait_for_url("**sort=progress**")
    assert page.get_attribute("#learner-table th:has-text('Progress')", "aria-sort") == "descending"
    assert page.eval_on_selector_all("#learner-table tbody tr", "rows => rows.map(r => +r.dataset.progress)") == [
        100,
        100,
        40,
        0,
    ]

    start_export_and_wait(page, "results")
    assert fits_phone(page)
    save_screenshot(page, "course-phone")
    assert problems(page) == []


def test_course_page_draws_the_problem_distributions_of_the_problem_endpoints(
    page, live_server, login, world, save_screenshot
):
    login(page, world["instructor"])
    page.goto(f"{live_server.url}/dashboards/courses/{COURSE_KEY}/#problems")
    wait_for_charts(page, "answer-chart-1", "grade-chart")

    api = f"{live_server.url}/api/v0"
    listed = page.request.get(f"{api}/courses/{COURSE_KEY}/problems/").json()
    table = page.eval_on_selector_all(
        "#problem-table tbody tr",
        "rows => rows.map(r => [r.dataset.moduleId, +r.dataset.submissions, +r.dataset.correct])",
    )
    assert table == [[row["module_id"], row["total_submissions"], row["correct_submissions"]] for row in listed]
    assert table == [[PROBLEM_1, 4, 3], [PROBLEM_2, 1, 0]]
    assert page.inner_text(f"#problem-table tr[data-module-id='{PROBLEM_1}'] td[data-label='% correct']") == "75 %"

    # quiz1, the busiest, is drawn: learners per last answer, and per last grade.
    answers = page.request.get(f"{api}/problems/{PROBLEM_1}/answer_distribution/").json()
    drawn = page.evaluate(
        "(() => { const d = document.getElementById('answer-chart-1').data[0]; return [d.x, d.ticktext || null]; })()"
    )
    assert list(reversed(drawn[0])) == [row["count"] for row in answers] == [3, 1]  # CSS, JS (the top bar first)
    labels = page.evaluate("document.getElementById('answer-chart-1').layout.yaxis.ticktext")
    assert list(reversed(labels)) == ["✓ CSS", "✗ JS"]
    grades = page.request.get(f"{api}/problems/{PROBLEM_1}/grade_distribution/").json()
    bars = page.evaluate("(() => { const d = document.getElementById('grade-chart').data[0]; return [d.x, d.y]; })()")
    assert bars == [[f"{row['grade']} / {row['max_grade']}" for row in grades], [row["count"] for row in grades]]
    assert bars == [["0 / 1", "1 / 1"], [1, 3]]
    save_screenshot(page, "course-problems")

    # Another problem, chosen from its row: one chart per part.
    page.click(f"#problem-table tr[data-module-id='{PROBLEM_2}'] a")
    page.wait_for_url("**problem=**")
    wait_for_charts(page, "answer-chart-1", "answer-chart-2", "grade-chart")
    assert page.evaluate("document.getElementById('answer-chart-1').data[0].x") == [1]
    assert page.evaluate("document.getElementById('answer-chart-2').layout.yaxis.ticktext") == ["✗ color"]
    assert page.evaluate("document.getElementById('grade-chart').data[0].x") == ["1 / 2"]
    assert "Pick the HTML elements." in page.inner_text("#problem-detail")
    assert fits_phone(page)
    assert problems(page) == []


def test_results_page_shows_the_analyse_statistics_and_filters(page, live_server, login, world, save_screenshot):
    login(page, world["admin"])
    page.goto(f"{live_server.url}/dashboards/results/")
    wait_for_charts(page, "states-chart")
    statistics = api_post(page, f"{live_server.url}/analyse/statistics", {}).json()
    assert page.inner_text("[data-stat=total]") == str(statistics["total"]) == "5"

    page.check("input[name=state][value=APPROVED]")
    page.check("input[name=state][value=FAILED]")
    page.click(".results-filters button[type=submit]")
    page.wait_for_url("**state=APPROVED**")
    filtered = api_post(page, f"{live_server.url}/analyse/statistics", {"filters": {"states": ["APPROVED", "FAILED"]}})
    assert page.inner_text("[data-stat=total]") == str(filtered.json()["total"]) == "2"
    assert page.eval_on_selector_all("#results-table tbody tr", "rows => rows.map(r => r.dataset.state).sort()") == [
        "APPROVED",
        "FAILED",
    ]
    save_screenshot(page, "results-desktop")

    start_export_and_wait(page, "results")
    assert fits_phone(page)
    save_screenshot(page, "results-phone")
    assert problems(page) == []


def test_video_page_draws_the_video_cloud_numbers(page, live_server, login, world, save_screenshot):
    login(page, world["admin"])
    page.goto(f"{live_server.url}/dashboards/videos/{VIDEO_KEY}/?period=7d")
    wait_for_charts(
        page,
        "views-chart",
        "device-chart",
        "platform-chart",
        "country-chart",
        "watch-time-chart",
        "completion-chart",
        "buffering-chart",
        "retention-chart",
    )

    api = page.request.get(f"{live_server.url}/analytics/videos/{VIDEO_KEY}?period=7d").json()["data"]
    assert page.inner_text("[data-stat=views]") == str(api["views"]["total"]) == "4"
    assert page.evaluate("document.getElementById('views-chart').data[0].y") == [
        row["views"] for row in api["views"]["timeline"]
    ]
    drawn_devices = page.evaluate("document.getElementById('device-chart').data[0].x")
    assert sorted(drawn_devices) == sorted(api["views"]["byDevice"].values())

    page.select_option("#id_period", "30d")
    page.click(".filter-bar button[type=submit]")
    page.wait_for_url("**period=30d**")
    wait_for_charts(page, "views-chart")
    assert len(page.evaluate("document.getElementById('views-chart').data[0].x")) == 30
    save_screenshot(page, "video-desktop")
    assert fits_phone(page)
    save_screenshot(page, "video-phone")
    assert problems(page) == []


def test_learner_dashboard_exports_the_learners_own_activity(page, live_server, login, world):
    login(page, world["learners"][0])
    page.goto(f"{live_server.url}/dashboard/")

    start_export_and_wait(page, "user")


def test_wrong_roles_are_refused(page, live_server, login, world, save_screenshot):
    login(page, world["learners"][0])
    response = page.goto(f"{live_server.url}/dashboards/")
    assert response.status == 403
    assert "for instructors and administrators" in page.inner_text("main")
    save_screenshot(page, "learner-refused")

    page.context.clear_cookies()
    login(page, world["instructor"])
    response = page.goto(f"{live_server.url}/dashboards/courses/edX/Data/2026/")
    assert response.status == 403
    assert "courses they teach" in page.inner_text("main")
