"""/dashboard/: the learner's own analytics page, server-rendered (the browser test draws it)."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from analytics.charts import format_duration
from analytics.staticfiles import PLOTLY_JS_STATIC_PATH
from tests.factories import CourseFactory, PageSessionFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/dashboard/"
NOW = datetime(2024, 3, 21, 12, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


@pytest.fixture
def browser(learner):
    client = Client()
    client.force_login(learner)
    return client


def add_session(workspace, user, page, path, started_at, duration_s, course_key="", chapter_key=""):
    return PageSessionFactory(
        workspace=workspace,
        user=user,
        page=page,
        path=path,
        duration_s=duration_s,
        started_at=datetime.fromisoformat(started_at).replace(tzinfo=dt_timezone.utc),
        course_key=course_key,
        chapter_key=chapter_key,
    )


def test_anonymous_visitor_is_sent_to_login(db):
    response = Client().get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_learner_sees_totals_charts_and_course_rows(workspace, learner, browser):
    CourseFactory(workspace=workspace, key="web", title="Web Bootcamp", thumbnail="")
    add_session(workspace, learner, "Course Player", "/player/web", "2024-03-21 10:00", 3700, "web")
    add_session(workspace, learner, "Quiz", "/quiz/web/ch1", "2024-03-20 10:00", 125, "web", "ch1")
    add_session(workspace, learner, "Home", "/", "2024-03-20 10:00", 999)

    response = browser.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stat="total-duration" data-seconds="3825"' in html
    assert format_duration(3825) == "1 h 03 min"
    assert ">1 h 03 min<" in html
    assert 'data-stat="total-sessions">2<' in html
    assert 'data-course-id="web" data-learning-seconds="3700"' in html
    for chart in ('id="daily-chart"', 'id="page-chart"', 'id="chapter-chart-1"'):
        assert chart in html
    assert html.count(PLOTLY_JS_STATIC_PATH) == 1
    assert 'data-page="Analytics"' in html  # the page-time tracker, as an excluded page


def test_new_learner_sees_the_empty_state_and_no_plotly(browser):
    html = browser.get(URL).content.decode()

    assert "No learning time yet" in html
    assert PLOTLY_JS_STATIC_PATH not in html
    assert "plotly-graph-div" not in html


def test_daily_rows_follow_the_tz_parameter(workspace, learner, browser):
    add_session(workspace, learner, "Profile", "/profile", "2024-03-20 23:30", 60)  # Paris: 21st

    in_utc = browser.get(URL).content.decode()
    in_paris = browser.get(URL, {"tz": "Europe/Paris"}).content.decode()

    assert 'data-date="2024-03-20" data-seconds="60"' in in_utc
    assert 'data-date="2024-03-21" data-seconds="60"' in in_paris
    assert ">Europe/Paris<" in in_paris


def test_unknown_tz_falls_back_to_utc_with_a_notice(workspace, learner, browser):
    add_session(workspace, learner, "Profile", "/profile", "2024-03-20 23:30", 60)

    response = browser.get(URL, {"tz": "Nowhere/Special"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "“Nowhere/Special” is not a time zone name we know" in html
    assert 'data-date="2024-03-20" data-seconds="60"' in html


def test_user_without_a_workspace_sees_an_explanation(db):
    client = Client()
    client.force_login(UserFactory())

    response = client.get(URL)

    assert response.status_code == 200
    assert "No workspace yet" in response.content.decode()


def test_page_names_are_shown_as_text_not_markup(workspace, learner, browser):
    add_session(workspace, learner, "<img src=x onerror=alert(1)>", "/x", "2024-03-21 10:00", 60)

    html = browser.get(URL).content.decode()

    assert "<img src=x onerror" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_dashboard_query_count_is_bounded(workspace, learner, browser, django_assert_max_num_queries):
    for index in range(30):
        add_session(
            workspace,
            learner,
            f"Page {index % 4}",
            f"/quiz/c{index % 3}/ch{index % 5}",
            "2024-03-20 10:00",
            10,
            f"c{index % 3}",
            f"ch{index % 5}",
        )

    # Session, user, membership (view and context processor share it) + the five analytics queries.
    with django_assert_max_num_queries(9):
        assert browser.get(URL).status_code == 200


def test_plotly_js_is_served_from_the_installed_package():
    found = finders.find(PLOTLY_JS_STATIC_PATH)

    assert found is not None and found.endswith("package_data/plotly.min.js")


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0 s"), (45, "45 s"), (60, "1 min"), (250, "4 min 10 s"), (3600, "1 h 00 min"), (7325, "2 h 02 min")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
