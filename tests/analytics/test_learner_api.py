"""GET /api/user/analytics: the signed-in learner's time per page, per day and per course.

The world: "now" is 2024-03-21 12:00 UTC (13:00 in Paris, UTC+1 before the March DST change), so
the 7 days are 2024-03-15 .. 2024-03-21 in both zones. Expected numbers are added up by hand in
each test from the sessions listed in `learner_world`.
"""

import re
from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from analytics.queries.learner import learner_analytics
from analytics.timezones import time_zone_named
from tests.factories import ChapterFactory, CourseFactory, MembershipFactory, PageSessionFactory

pytestmark = pytest.mark.django_db

URL = "/api/user/analytics"
NOW = datetime(2024, 3, 21, 12, 0, tzinfo=dt_timezone.utc)
WEB = "60d5ec49f1b2c72b8c8e4f1a"
PYTHON = "60d5ec49f1b2c72b8c8e4f1b"
UNKNOWN = "ffffffffffffffffffffffff"


def at(text):
    """A UTC datetime from `YYYY-MM-DD HH:MM[:SS]`."""
    return datetime.fromisoformat(text).replace(tzinfo=dt_timezone.utc)


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def add_session(workspace, learner):
    """add_session(page, path, started_at, duration_s, course_key="", chapter_key="", **overrides).

    course_key / chapter_key are what ingestion derives from `/player/..` and `/quiz/..` paths.
    """

    def add(page, path, started_at, duration_s, course_key="", chapter_key="", **overrides):
        fields = {"workspace": workspace, "user": learner}
        fields.update(overrides)
        return PageSessionFactory(
            page=page,
            path=path,
            started_at=at(started_at) if isinstance(started_at, str) else started_at,
            duration_s=duration_s,
            course_key=course_key,
            chapter_key=chapter_key,
            **fields,
        )

    return add


@pytest.fixture
def learner_world(workspace, other_workspace, learner, make_member, add_session, frozen_now):
    web = CourseFactory(
        workspace=workspace,
        key=WEB,
        title="Complete Web Development Bootcamp",
        thumbnail="https://img.example.com/web-dev.jpg",
    )
    ChapterFactory(course=web, key="chapter1", title="HTML Fundamentals")
    ChapterFactory(course=web, key="chapter2", title="CSS Styling")
    ChapterFactory(course=web, key="chapter3", title="JavaScript Basics")
    python = CourseFactory(workspace=workspace, key=PYTHON, title="Python for Data Science", thumbnail="")
    ChapterFactory(course=python, key="chapter1", title="Python Basics")
    # The same key in another workspace's catalog must not lend its title.
    CourseFactory(workspace=other_workspace, key=WEB, title="Globex copy", thumbnail="https://x.test/g.jpg")

    add_session("Course Player", f"/player/{WEB}", "2024-03-21 10:00", 600, WEB)
    add_session("Course Player", f"/player/{WEB}", "2024-03-20 23:30", 300, WEB)  # Paris: 21st
    add_session("Course Player", f"/player/{PYTHON}", "2024-03-15 00:10", 200, PYTHON)
    add_session("Quiz", f"/quiz/{WEB}/chapter1", "2024-03-19 09:00", 120, WEB, "chapter1")
    add_session("Quiz", f"/quiz/{WEB}/chapter1", "2024-03-18 09:00", 80, WEB, "chapter1")
    add_session("Quiz", f"/quiz/{WEB}/chapter2", "2024-03-17 09:00", 250, WEB, "chapter2")
    add_session("Quiz", f"/quiz/{PYTHON}/chapter1", "2024-03-16 09:00", 50, PYTHON, "chapter1")
    add_session("Quiz", f"/quiz/{UNKNOWN}/intro", "2024-03-14 23:30", 40, UNKNOWN, "intro")  # Paris: 15th
    add_session("Profile", "/profile", "2024-03-21 11:00", 90)
    add_session("Profile", "/profile/edit", "2024-03-21 11:30", 30)
    add_session("Profile", "/profile", "2024-03-10 08:00", 45)
    # Excluded pages never count, even on a course path.
    add_session("Home", "/", "2024-03-21 09:00", 1000)
    add_session("Browse Courses", "/courses", "2024-03-21 09:10", 1000)
    add_session("Course Details", f"/courses/{WEB}", "2024-03-21 09:20", 1000)
    add_session("Analytics", "/dashboard/", "2024-03-21 09:30", 1000)
    add_session("Other", f"/player/{PYTHON}", "2024-03-21 09:40", 1000, PYTHON)
    # Another learner of the workspace, and this learner in another workspace.
    add_session("Course Player", f"/player/{WEB}", "2024-03-21 10:00", 999, WEB, user=make_member(workspace))
    MembershipFactory(user=learner, workspace=other_workspace, role=Role.LEARNER)
    add_session("Course Player", f"/player/{WEB}", "2024-03-21 10:00", 777, WEB, workspace=other_workspace)
    return learner


def get_analytics(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    return body["analytics"]


def test_totals_count_every_session_but_excluded_pages(learner_world, workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, workspace))

    assert analytics["totalDuration"] == 600 + 300 + 200 + 120 + 80 + 250 + 50 + 40 + 90 + 30 + 45
    assert analytics["totalSessions"] == 11


def test_page_stats_per_page_with_most_visited_path_by_duration(learner_world, workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, workspace))

    assert analytics["pageStats"] == [
        {"page": "Course Player", "path": f"/player/{WEB}", "totalDuration": 1100, "visits": 3},
        {"page": "Quiz", "path": f"/quiz/{WEB}/chapter1", "totalDuration": 540, "visits": 5},
        {"page": "Profile", "path": "/profile", "totalDuration": 165, "visits": 3},
    ]


def test_daily_stats_are_seven_utc_days_oldest_first_with_zero_days(learner_world, workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, workspace))

    assert analytics["dailyStats"] == [
        {"date": "2024-03-15", "duration": 200},
        {"date": "2024-03-16", "duration": 50},
        {"date": "2024-03-17", "duration": 250},
        {"date": "2024-03-18", "duration": 80},
        {"date": "2024-03-19", "duration": 120},
        {"date": "2024-03-20", "duration": 300},
        {"date": "2024-03-21", "duration": 600 + 90 + 30},
    ]


def test_daily_stats_in_paris_move_late_utc_sessions_to_the_next_day(learner_world, workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, workspace), tz="Europe/Paris")

    assert analytics["dailyStats"] == [
        {"date": "2024-03-15", "duration": 200 + 40},
        {"date": "2024-03-16", "duration": 50},
        {"date": "2024-03-17", "duration": 250},
        {"date": "2024-03-18", "duration": 80},
        {"date": "2024-03-19", "duration": 120},
        {"date": "2024-03-20", "duration": 0},
        {"date": "2024-03-21", "duration": 600 + 300 + 90 + 30},
    ]


def test_time_zone_changes_only_daily_stats(learner_world, workspace, bearer_client):
    client = bearer_client(learner_world, workspace)

    in_utc = get_analytics(client)
    in_paris = get_analytics(client, tz="Europe/Paris")

    del in_utc["dailyStats"], in_paris["dailyStats"]
    assert in_paris == in_utc


def test_course_breakdown_by_total_time_with_chapters_by_quiz_time(learner_world, workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, workspace))

    assert analytics["courseBreakdown"] == [
        {
            "courseId": WEB,
            "courseTitle": "Complete Web Development Bootcamp",
            "courseThumbnail": "https://img.example.com/web-dev.jpg",
            "learningDuration": 900,
            "learningSessions": 2,
            "totalQuizDuration": 450,
            "chapters": [
                {"chapterId": "chapter2", "chapterTitle": "CSS Styling", "quizDuration": 250, "quizSessions": 1},
                {"chapterId": "chapter1", "chapterTitle": "HTML Fundamentals", "quizDuration": 200, "quizSessions": 2},
            ],
        },
        {
            "courseId": PYTHON,
            "courseTitle": "Python for Data Science",
            "courseThumbnail": "",
            "learningDuration": 200,
            "learningSessions": 1,
            "totalQuizDuration": 50,
            "chapters": [
                {"chapterId": "chapter1", "chapterTitle": "Python Basics", "quizDuration": 50, "quizSessions": 1},
            ],
        },
        {
            "courseId": UNKNOWN,
            "courseTitle": "Unknown Course",
            "courseThumbnail": None,
            "learningDuration": 0,
            "learningSessions": 0,
            "totalQuizDuration": 40,
            "chapters": [
                {"chapterId": "intro", "chapterTitle": "Unknown Chapter", "quizDuration": 40, "quizSessions": 1},
            ],
        },
    ]


def test_response_has_exactly_the_documented_keys(learner_world, workspace, bearer_client):
    body = bearer_client(learner_world, workspace).get(URL).json()

    assert set(body) == {"success", "analytics"}
    analytics = body["analytics"]
    assert list(analytics) == ["totalDuration", "totalSessions", "pageStats", "dailyStats", "courseBreakdown"]
    assert list(analytics["courseBreakdown"][0]) == [
        "courseId",
        "courseTitle",
        "courseThumbnail",
        "learningDuration",
        "learningSessions",
        "totalQuizDuration",
        "chapters",
    ]
    assert list(analytics["courseBreakdown"][0]["chapters"][0]) == [
        "chapterId",
        "chapterTitle",
        "quizDuration",
        "quizSessions",
    ]


def test_session_login_sees_the_same_analytics_as_bearer(learner_world, workspace, bearer_client, session_client):
    assert get_analytics(session_client(learner_world)) == get_analytics(bearer_client(learner_world, workspace))


def test_bearer_for_the_other_workspace_sees_only_that_workspace(learner_world, other_workspace, bearer_client):
    analytics = get_analytics(bearer_client(learner_world, other_workspace))

    assert analytics["totalDuration"] == 777
    assert analytics["courseBreakdown"][0]["courseTitle"] == "Globex copy"


def test_another_learner_sees_only_their_own_sessions(learner_world, workspace, make_member, bearer_client):
    other = make_member(workspace, Role.LEARNER, email="other@acme.test")
    PageSessionFactory(
        workspace=workspace,
        user=other,
        page="Profile",
        path="/profile",
        duration_s=5,
        started_at=at("2024-03-21 08:00"),
    )

    analytics = get_analytics(bearer_client(other, workspace))

    assert (analytics["totalDuration"], analytics["totalSessions"]) == (5, 1)


def test_new_learner_gets_zeros_and_seven_empty_days(workspace, learner, bearer_client, frozen_now):
    analytics = get_analytics(bearer_client(learner, workspace))

    assert analytics == {
        "totalDuration": 0,
        "totalSessions": 0,
        "pageStats": [],
        "dailyStats": [{"date": f"2024-03-{day}", "duration": 0} for day in range(15, 22)],
        "courseBreakdown": [],
    }


def test_day_boundaries_are_inclusive_at_midnight_and_exclude_future_days(
    workspace, learner, add_session, bearer_client, frozen_now
):
    add_session("Profile", "/profile", "2024-03-14 23:59:59", 1)  # day before the window
    add_session("Profile", "/profile", "2024-03-15 00:00:00", 2)  # first day of the window
    add_session("Profile", "/profile", "2024-03-21 23:59:59", 4)  # today, later
    add_session("Profile", "/profile", "2024-03-22 00:00:00", 8)  # tomorrow (a clock ahead)

    analytics = get_analytics(bearer_client(learner, workspace))

    days = {day["date"]: day["duration"] for day in analytics["dailyStats"]}
    assert (days["2024-03-15"], days["2024-03-21"]) == (2, 4)
    assert sum(days.values()) == 6
    assert analytics["totalDuration"] == 15


def test_today_is_taken_in_the_requested_zone(workspace, learner, add_session, bearer_client, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at("2024-03-21 23:30"))  # Paris: 22nd, 00:30
    add_session("Profile", "/profile", "2024-03-21 23:10", 7)

    in_utc = get_analytics(bearer_client(learner, workspace))["dailyStats"]
    in_paris = get_analytics(bearer_client(learner, workspace), tz="Europe/Paris")["dailyStats"]

    assert [in_utc[0]["date"], in_utc[-1]["date"]] == ["2024-03-15", "2024-03-21"]
    assert in_utc[-1]["duration"] == 7
    assert [in_paris[0]["date"], in_paris[-1]["date"]] == ["2024-03-16", "2024-03-22"]
    assert in_paris[-1]["duration"] == 7


def test_daily_stats_follow_local_days_across_a_dst_change(workspace, learner, add_session, bearer_client, monkeypatch):
    # Paris moves to UTC+2 at 2024-03-31 01:00 UTC: local midnight of the 31st is 23:00 UTC on the 30th,
    # of April 1st is 22:00 UTC on the 31st.
    monkeypatch.setattr("django.utils.timezone.now", lambda: at("2024-04-01 10:00"))
    add_session("Profile", "/profile", "2024-03-30 22:59", 1)  # 30th, 23:59 local
    add_session("Profile", "/profile", "2024-03-30 23:00", 2)  # 31st, 00:00 local
    add_session("Profile", "/profile", "2024-03-31 21:59", 4)  # 31st, 23:59 local
    add_session("Profile", "/profile", "2024-03-31 22:00", 8)  # April 1st, 00:00 local

    days = get_analytics(bearer_client(learner, workspace), tz="Europe/Paris")["dailyStats"]

    assert days[-3:] == [
        {"date": "2024-03-30", "duration": 1},
        {"date": "2024-03-31", "duration": 2 + 4},
        {"date": "2024-04-01", "duration": 8},
    ]


def test_page_ties_order_by_visits_then_page_name(workspace, learner, add_session, bearer_client, frozen_now):
    add_session("Zeta", "/zeta", "2024-03-20 10:00", 100)
    add_session("Beta", "/beta", "2024-03-20 10:00", 50)
    add_session("Beta", "/beta", "2024-03-20 11:00", 50)
    add_session("Alpha", "/alpha", "2024-03-20 10:00", 100)

    pages = get_analytics(bearer_client(learner, workspace))["pageStats"]

    assert [page["page"] for page in pages] == ["Beta", "Alpha", "Zeta"]


def test_most_visited_path_tie_goes_to_the_alphabetically_first_path(
    workspace, learner, add_session, bearer_client, frozen_now
):
    add_session("Profile", "/profile/b", "2024-03-20 10:00", 500)
    add_session("Profile", "/profile/a", "2024-03-20 11:00", 1)
    add_session("Profile", "/profile/c", "2024-03-20 12:00", 1)
    add_session("Profile", "/profile/c", "2024-03-20 13:00", 1)
    add_session("Profile", "/profile/a", "2024-03-20 14:00", 1)

    pages = get_analytics(bearer_client(learner, workspace))["pageStats"]

    assert pages == [{"page": "Profile", "path": "/profile/a", "totalDuration": 504, "visits": 5}]


def test_course_and_chapter_ties_order_by_title_then_key(workspace, learner, add_session, bearer_client, frozen_now):
    CourseFactory(workspace=workspace, key="k-b", title="Algebra")
    CourseFactory(workspace=workspace, key="k-a", title="Biology")
    add_session("Course Player", "/player/k-a", "2024-03-20 10:00", 60, "k-a")
    add_session("Course Player", "/player/k-b", "2024-03-20 10:00", 60, "k-b")
    add_session("Quiz", "/quiz/k-b/ch-2", "2024-03-20 10:00", 30, "k-b", "ch-2")
    add_session("Quiz", "/quiz/k-b/ch-1", "2024-03-20 10:00", 30, "k-b", "ch-1")
    add_session("Course Player", "/player/k-b", "2024-03-20 11:00", 0, "k-b")  # a 0 s visit still counts

    courses = get_analytics(bearer_client(learner, workspace))["courseBreakdown"]

    assert [(course["courseId"], course["learningDuration"] + course["totalQuizDuration"]) for course in courses] == [
        ("k-b", 120),
        ("k-a", 60),
    ]
    assert courses[0]["learningSessions"] == 2
    assert [chapter["chapterId"] for chapter in courses[0]["chapters"]] == ["ch-1", "ch-2"]
    # Equal totals fall back to the title: make k-a's total equal to k-b's.
    add_session("Course Player", "/player/k-a", "2024-03-20 12:00", 60, "k-a")
    courses = get_analytics(bearer_client(learner, workspace))["courseBreakdown"]
    assert [course["courseTitle"] for course in courses] == ["Algebra", "Biology"]


def test_quiz_path_without_chapter_is_not_in_the_course_breakdown(
    workspace, learner, add_session, bearer_client, frozen_now
):
    add_session("Quiz", f"/quiz/{WEB}", "2024-03-20 10:00", 60, WEB)

    analytics = get_analytics(bearer_client(learner, workspace))

    assert analytics["courseBreakdown"] == []
    assert analytics["totalDuration"] == 60


def test_query_count_does_not_grow_with_sessions(workspace, learner, add_session, bearer_client, frozen_now):
    for index in range(5):
        ChapterFactory(course=CourseFactory(workspace=workspace, key=f"course-{index}"), key=f"ch{index % 4}")

    def world(size):
        for index in range(size):
            course = f"course-{index % 5}"
            add_session("Course Player", f"/player/{course}", NOW - timedelta(hours=index * 7), 10, course)
            add_session(
                "Quiz", f"/quiz/{course}/ch{index % 4}", NOW - timedelta(hours=index * 5), 5, course, f"ch{index % 4}"
            )
            add_session(f"Page {index % 6}", f"/page/{index}", NOW - timedelta(hours=index), 3)

    client = bearer_client(learner, workspace)
    get_analytics(client)  # the credential's lookup, cached for the requests measured
    world(1)
    with CaptureQueriesContext(connection) as small:
        get_analytics(client)
    world(40)
    with CaptureQueriesContext(connection) as large:
        get_analytics(client)

    assert len(large) == len(small)


def test_query_function_runs_four_queries(workspace, learner, add_session, django_assert_num_queries):
    for index in range(30):
        add_session(
            "Quiz",
            f"/quiz/c{index % 3}/ch{index % 4}",
            NOW - timedelta(hours=index * 9),
            5,
            f"c{index % 3}",
            f"ch{index % 4}",
        )

    # pages (the totals are their sums), days, courses, chapters
    with django_assert_num_queries(4):
        analytics = learner_analytics(workspace, learner, today=date(2024, 3, 21), tz=time_zone_named("UTC"))

    assert (analytics.total_sessions, analytics.total_duration_s) == (30, 150)


def test_catalog_lookups_are_not_grouped_on(workspace, learner, add_session):
    # Grouping on the title subqueries would make PostgreSQL run them once per session row.
    add_session("Quiz", "/quiz/c1/ch1", "2024-03-20 10:00", 5, "c1", "ch1")

    with CaptureQueriesContext(connection) as queries:
        learner_analytics(workspace, learner, today=date(2024, 3, 21), tz=time_zone_named("UTC"))

    catalog_queries = [q["sql"] for q in queries if "courses_c" in q["sql"]]
    group_bys = sorted(re.search(r"GROUP BY (.*?) ORDER BY", sql).group(1) for sql in catalog_queries)
    assert group_bys == ["1", "1, 2"]  # course_key; course_key, chapter_key


def test_api_runs_a_bounded_number_of_queries(learner_world, workspace, bearer_client, django_assert_num_queries):
    client = bearer_client(learner_world, workspace)

    # JWT authentication (the membership with its workspace and user, then cached) and the four
    # analytics queries.
    with django_assert_num_queries(5):
        get_analytics(client)


def test_missing_credentials_are_401_in_the_envelope(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_bad_bearer_token_is_401_in_the_envelope(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")

    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["message"]


def test_api_key_is_403_it_has_no_user(workspace, api_key_client):
    response = api_key_client(workspace, Role.ADMIN).get(URL)

    assert response.status_code == 403
    assert response.json()["success"] is False
    assert "API keys have no user" in response.json()["message"]


def test_unknown_time_zone_is_400_naming_tz(workspace, learner, bearer_client):
    response = bearer_client(learner, workspace).get(URL, {"tz": "Mars/Olympus_Mons"})

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["message"].startswith("tz: ")
    assert "Mars/Olympus_Mons" in body["message"]


@pytest.mark.parametrize("bad", ["Europe", "../../etc/passwd", "europe/paris", "UTC+1"])
def test_malformed_time_zones_are_400(workspace, learner, bearer_client, bad):
    response = bearer_client(learner, workspace).get(URL, {"tz": bad})

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_empty_time_zone_means_utc(learner_world, workspace, bearer_client):
    client = bearer_client(learner_world, workspace)

    assert get_analytics(client, tz="") == get_analytics(client)


def test_unexpected_error_is_500_without_internals(workspace, learner, bearer_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("analytics.api.learner.learner_analytics", broken)

    response = bearer_client(learner, workspace).get(URL)

    assert response.status_code == 500
    assert response.json() == {"success": False, "message": "An unexpected error occurred"}
