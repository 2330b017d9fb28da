"""The learner dashboard in Chromium: charts drawn, numbers equal to the API's, phone and laptop."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from analytics.models import PageSession
from analytics.charts import format_duration
from tests.factories import (
    ChapterFactory,
    CourseFactory,
    MembershipFactory,
    PageSessionFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.browser

DASHBOARD = "/dashboard/"
API = "/api/user/analytics"


def make_learner(email):
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    user = UserFactory(email=email)
    MembershipFactory(user=user, workspace=workspace, role=Role.LEARNER)
    return workspace, user


@pytest.fixture
def busy_learner(live_server_db):
    workspace, user = make_learner("busy@acme.test")
    web = CourseFactory(workspace=workspace, key="web-101", title="Complete Web Development Bootcamp", thumbnail="")
    ChapterFactory(course=web, key="chapter1", title="HTML Fundamentals")
    ChapterFactory(course=web, key="chapter2", title="CSS Styling")
    data = CourseFactory(workspace=workspace, key="py-201", title="Python for Data Science", thumbnail="")
    ChapterFactory(course=data, key="chapter1", title="Python Basics")
    now = timezone.now()

    def add(page, path, hours_ago, duration_s, course_key="", chapter_key=""):
        PageSessionFactory(
            workspace=workspace,
            user=user,
            page=page,
            path=path,
            started_at=now - timedelta(hours=hours_ago),
            duration_s=duration_s,
            course_key=course_key,
            chapter_key=chapter_key,
        )

    add("Course Player", "/player/web-101", 1, 1500, "web-101")
    add("Course Player", "/player/web-101", 30, 2400, "web-101")
    add("Course Player", "/player/py-201", 60, 900, "py-201")
    add("Quiz", "/quiz/web-101/chapter1", 2, 420, "web-101", "chapter1")
    add("Quiz", "/quiz/web-101/chapter2", 50, 610, "web-101", "chapter2")
    add("Quiz", "/quiz/py-201/chapter1", 100, 300, "py-201", "chapter1")
    add("Quiz", "/quiz/legacy-course/intro", 120, 200, "legacy-course", "intro")
    add("Profile", "/profile", 3, 95)
    add("Home", "/", 1, 5000)  # excluded
    add("Course Player", "/player/web-101", 24 * 20, 700, "web-101")  # before the 7 days
    return user


def numbers(page, selector, *attributes):
    """[(attr values...)] of every element matching selector."""
    return page.eval_on_selector_all(
        selector,
        "(elements, names) => elements.map(e => names.map(n => e.getAttribute(n)))",
        list(attributes),
    )


def minutes(seconds):
    return round(seconds / 60, 1)


def test_dashboard_draws_charts_with_the_api_numbers(page, live_server, login, busy_learner, save_screenshot):
    login(page, busy_learner)
    page.goto(live_server.url + DASHBOARD)
    for chart in ("#daily-chart", "#page-chart", "#chapter-chart-1", "#chapter-chart-2", "#chapter-chart-3"):
        page.wait_for_selector(f"{chart} svg.main-svg")

    api = page.request.get(live_server.url + API).json()["analytics"]

    total = page.locator("[data-stat=total-duration]")
    assert total.get_attribute("data-seconds") == str(api["totalDuration"])
    assert total.inner_text() == format_duration(api["totalDuration"]) == "1 h 58 min"
    assert page.inner_text("[data-stat=total-sessions]") == str(api["totalSessions"]) == "9"
    assert page.inner_text("[data-stat=course-count]") == str(len(api["courseBreakdown"])) == "3"
    assert numbers(page, "#daily-table tbody tr", "data-date", "data-seconds") == [
        [day["date"], str(day["duration"])] for day in api["dailyStats"]
    ]
    assert page.locator("[data-stat=week-duration]").get_attribute("data-seconds") == str(
        sum(day["duration"] for day in api["dailyStats"])
    )
    assert numbers(page, "#page-table tbody tr", "data-page", "data-path", "data-seconds", "data-visits") == [
        [row["page"], row["path"], str(row["totalDuration"]), str(row["visits"])] for row in api["pageStats"]
    ]
    assert numbers(
        page,
        "#course-table tbody tr",
        "data-course-id",
        "data-learning-seconds",
        "data-learning-sessions",
        "data-quiz-seconds",
    ) == [
        [c["courseId"], str(c["learningDuration"]), str(c["learningSessions"]), str(c["totalQuizDuration"])]
        for c in api["courseBreakdown"]
    ]
    assert page.locator("#course-table tbody tr .course-title").all_inner_texts() == [
        c["courseTitle"] for c in api["courseBreakdown"]
    ]
    for index, course in enumerate(api["courseBreakdown"], start=1):
        card = f".chapter-card[data-course-id='{course['courseId']}']"
        assert numbers(page, f"{card} .chapter-table tbody tr", "data-chapter-id", "data-seconds", "data-sessions") == [
            [ch["chapterId"], str(ch["quizDuration"]), str(ch["quizSessions"])] for ch in course["chapters"]
        ]
        drawn = page.evaluate(f"document.getElementById('chapter-chart-{index}').data[0].x")
        assert drawn == [minutes(ch["quizDuration"]) for ch in reversed(course["chapters"])]
    # What plotly drew is what the API says (minutes, one decimal).
    assert page.evaluate("document.getElementById('daily-chart').data[0].y") == [
        minutes(day["duration"]) for day in api["dailyStats"]
    ]
    assert page.evaluate("document.getElementById('page-chart').data[0].x") == [
        minutes(row["totalDuration"]) for row in reversed(api["pageStats"])
    ]

    save_screenshot(page, "1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # plotly's responsive relayout after the resize
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("document.getElementById('daily-chart').getBoundingClientRect().width") <= 390
    save_screenshot(page, "390")
    assert page.problems == []


def test_new_learner_sees_the_empty_state_without_charts(page, live_server, login, live_server_db, save_screenshot):
    _, user = make_learner("new@acme.test")

    login(page, user)
    page.goto(live_server.url + DASHBOARD)

    assert page.is_visible("#empty-state")
    assert page.inner_text("[data-stat=total-sessions]") == "0"
    assert page.locator(".js-plotly-plot").count() == 0
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    save_screenshot(page, "390")
    assert page.problems == []


def wait_for_rows(queryset, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while True:
        rows = list(queryset.all())  # a fresh query each time, not the cached result
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_tracker_sends_the_dashboard_visit_on_pagehide_without_changing_the_numbers(
    page, live_server, login, busy_learner
):
    login(page, busy_learner)
    page.goto(live_server.url + DASHBOARD)
    before = page.request.get(live_server.url + API).json()["analytics"]
    # A function, not an expression: Playwright evaluates an expression with eval, which the CSP refuses.
    page.wait_for_function("() => window.pageTracker && window.pageTracker.visibleSeconds() >= 2")
    session_id = page.evaluate("window.pageTracker.session.id")

    page.goto("about:blank")  # pagehide: the tracker's last beacon

    sent = wait_for_rows(PageSession.objects.filter(id=session_id, user=busy_learner))
    assert len(sent) == 1
    assert (sent[0].page, sent[0].path) == ("Analytics", DASHBOARD)
    assert 2 <= sent[0].duration_s <= 30
    after = page.request.get(live_server.url + API).json()["analytics"]
    assert after == before  # the Analytics page is excluded from the analytics
    assert page.problems == []
