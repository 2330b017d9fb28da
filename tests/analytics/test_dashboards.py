"""Instructor and admin dashboards, server side: every number on a page is the one its query
function returns, the filters in the URL change them, who may see what, bounded queries."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from analytics.definitions import taught_courses
from analytics.queries import analyse, course_info
from analytics.queries import dashboards as dashboard_queries
from analytics.queries.problems import (
    course_problems,
    problem_answer_distribution,
    problem_grade_distribution,
    video_timeline,
)
from analytics.queries.video_cloud import resolve_period, video_analytics
from analytics.models import ProblemResponse
from analytics.services.course_info_rollups import refresh_course_info_rollups
from analytics.services.problem_rollups import list_answer, record_problem_responses
from courses.models import AttemptState, EnrollmentKind
from tests.factories import (
    AttemptFactory,
    ChapterFactory,
    CourseFactory,
    CustomFieldFactory,
    CustomFieldValueFactory,
    EnrollmentFactory,
    LearnerGroupFactory,
    LearningEventFactory,
    PageSessionFactory,
    UserFactory,
    VideoFactory,
    VideoViewFactory,
)

OVERVIEW = "/dashboards/"
RESULTS = "/dashboards/results/"
COURSE_KEY = "course-v1:Org+Web101+2026"


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    """Sections are cached by workspace id, which a rolled-back test may hand to the next one.
    Figures are computed in the page request here; the deferred loading has tests of its own."""
    settings.DASHBOARD_DEFER_SECTIONS = False
    cache.clear()
    yield
    cache.clear()


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def rows(html, table_id, *attributes):
    """[(attribute values...)] of the <tr> rows of one table, read from their data-* attributes."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    found = []
    for row in re.findall(r"<tr ([^>]*data-[^>]*)>", table.group(0)):
        values = dict(re.findall(r'data-([\w-]+)="([^"]*)"', row))
        found.append(tuple(values.get(name) for name in attributes))
    return found


def stat(html, name):
    match = re.search(rf'data-stat="{name}"[^>]*>([^<]*)<', html)
    assert match, f"no stat {name}"
    return match.group(1).strip()


@pytest.fixture
def world(workspace, make_member, instructor, admin_user):
    """Two courses (the instructor teaches one), three learners (ann and bob in group Sales, ann
    in Department=Legal), enrollments, attempts, sessions, events and video views in the last days."""
    now = timezone.now()
    ann = make_member(
        workspace,
        Role.LEARNER,
        email="ann@acme.test",
        first_name="Ann",
        last_name="Archer",
        country="FR",
        gender="f",
        birth_year=1990,
        education_level="masters",
    )
    bob = make_member(
        workspace,
        Role.LEARNER,
        email="bob@acme.test",
        first_name="Bob",
        last_name="Baker",
        country="US",
        gender="m",
        birth_year=1985,
    )
    cy = make_member(workspace, Role.LEARNER, email="cy@acme.test", first_name="Cy", last_name="Cole")
    sales = LearnerGroupFactory(workspace=workspace, name="Sales")
    sales.members.add(ann, bob)
    department = CustomFieldFactory(workspace=workspace, name="Department")
    CustomFieldValueFactory(field=department, user=ann, value="Legal")
    CustomFieldValueFactory(field=department, user=bob, value="Finance")

    web = CourseFactory(workspace=workspace, key=COURSE_KEY, title="Web basics")
    web.instructors.add(instructor)
    data = CourseFactory(workspace=workspace, key="edX/Data/2026", title="Data basics")
    ChapterFactory(course=web, key="ch1", title="HTML", position=1)
    ChapterFactory(course=web, key="ch2", title="CSS", position=2)
    video = VideoFactory(
        course=web,
        key="block-v1:Org+Web101+2026+type@video+block@intro",
        title="Intro",
        duration_s=20,
        segment_length_s=5,
    )

    EnrollmentFactory(
        course=web,
        user=ann,
        mode="verified",
        kind=EnrollmentKind.MANDATORY,
        enrolled_at=now - timedelta(days=3),
        expires_at=now - timedelta(days=1),
    )
    EnrollmentFactory(course=web, user=bob, mode="audit", enrolled_at=now - timedelta(days=2))
    EnrollmentFactory(course=data, user=cy, mode="honor", enrolled_at=now - timedelta(days=10))
    EnrollmentFactory(
        course=data, user=bob, mode="audit", enrolled_at=now - timedelta(days=2), unenrolled_at=now - timedelta(days=1)
    )
    AttemptFactory(
        course=web,
        user=ann,
        state=AttemptState.IN_PROGRESS,
        progress=40,
        score=None,
        time_spent_s=1200,
        last_activity_at=now - timedelta(days=1),
    )
    AttemptFactory(
        course=web,
        user=bob,
        state=AttemptState.APPROVED,
        progress=100,
        score=90,
        time_spent_s=3000,
        last_activity_at=now - timedelta(days=2),
        completed_at=now - timedelta(days=2),
    )
    AttemptFactory(
        course=data,
        user=cy,
        state=AttemptState.FAILED,
        progress=100,
        score=20,
        time_spent_s=600,
        last_activity_at=now - timedelta(days=20),
    )

    for user, days, chapter, seconds in ((ann, 1, "ch1", 300), (bob, 2, "ch1", 120), (bob, 2, "ch2", 60)):
        PageSessionFactory(
            workspace=workspace,
            user=user,
            page="Quiz",
            path=f"/quiz/{COURSE_KEY}/{chapter}",
            course=web,
            course_key=COURSE_KEY,
            chapter_key=chapter,
            duration_s=seconds,
            started_at=now - timedelta(days=days),
        )
    PageSessionFactory(workspace=workspace, user=cy, started_at=now - timedelta(days=20))
    LearningEventFactory(course=web, user=ann, type="attempted_problem", occurred_at=now - timedelta(days=1))
    VideoViewFactory(
        video=video,
        user=ann,
        segments=[0, 1, 2, 3],
        watched_first_segment=True,
        watched_last_segment=True,
        is_completed=True,
        device="mobile",
        platform="ios",
        country="FR",
        started_at=now - timedelta(days=1),
        watched_s=20,
    )
    VideoViewFactory(
        video=video,
        user=bob,
        segments=[0, 1],
        watched_first_segment=True,
        device="desktop",
        platform="web",
        country="US",
        started_at=now - timedelta(days=2),
        watched_s=10,
    )
    refresh_course_info_rollups(now)
    return {
        "ann": ann,
        "bob": bob,
        "cy": cy,
        "sales": sales,
        "department": department,
        "web": web,
        "data": data,
        "video": video,
        "now": now,
    }


# Workspace overview ------------------------------------------------------------------------------


def test_overview_tables_hold_the_numbers_of_the_query_functions(workspace, admin_user, world):
    html = client_for(admin_user).get(OVERVIEW, {"period": "7d"}).content.decode()

    period = resolve_period("7d", timezone.now())
    trend = dashboard_queries.active_learners_trend(workspace, period)
    assert rows(html, "active-table", "date", "count") == [(day.isoformat(), str(n)) for day, n in trend.daily]
    assert rows(html, "active-weekly-table", "count") == [(str(n),) for _, n in trend.weekly]
    assert stat(html, "active-learners") == str(trend.total) == "2"  # ann and bob; cy was active 20 days ago

    timeline = dashboard_queries.enrollments_over_time(workspace, period)
    assert rows(html, "enrollments-table", "enrolled", "unenrolled") == [
        (str(row["enrolled"]), str(row["unenrolled"])) for row in timeline.rows
    ]
    assert stat(html, "new-enrollments") == str(timeline.enrolled) == "3"

    updated = analyse.ResultFilters(updated_at=analyse.DateRange(period.start, period.end))
    statistics = analyse.analyse_statistics(workspace, updated)
    assert rows(html, "states-table", "state", "count") == [
        (state, str(n)) for state, n in statistics["by_state"].items()
    ]
    assert dict(rows(html, "states-table", "state", "count"))["APPROVED"] == "1"

    top = dashboard_queries.top_contents_by_time(workspace, updated)
    assert rows(html, "top-courses-table", "course-id", "seconds") == [
        (row["id"], str(row["time_spent"])) for row in top
    ]
    assert rows(html, "top-courses-table", "seconds") == [("4200",)]


def test_overview_lists_overdue_mandatory_enrollments(workspace, admin_user, world):
    html = client_for(admin_user).get(OVERVIEW, {"period": "7d"}).content.decode()

    assert stat(html, "overdue") == "1"
    assert "Ann Archer" in re.search(r'id="overdue-table".*?</table>', html, re.S).group(0)
    assert "type=MANDATORY" in html and "state=EXPIRED" in html  # the link to the results view


def test_a_group_filter_in_the_url_changes_every_number(workspace, admin_user, world):
    client = client_for(admin_user)
    everyone = client.get(OVERVIEW, {"period": "30d"}).content.decode()
    sales = client.get(OVERVIEW, {"period": "30d", "group": world["sales"].public_id}).content.decode()

    assert stat(everyone, "active-learners") == "3"
    assert stat(sales, "active-learners") == "2"
    assert (stat(everyone, "new-enrollments"), stat(sales, "new-enrollments")) == ("4", "3")
    assert rows(everyone, "top-courses-table", "course-id") == [(COURSE_KEY,), ("edX/Data/2026",)]
    assert rows(sales, "top-courses-table", "course-id") == [(COURSE_KEY,)]


def test_an_attribute_filter_in_the_url_narrows_to_its_holders(workspace, admin_user, world):
    attribute = f"{world['department'].public_id}:Legal"

    html = client_for(admin_user).get(OVERVIEW, {"period": "30d", "attribute": attribute}).content.decode()

    assert stat(html, "active-learners") == "1"
    assert f'value="{attribute}" selected' in html


def test_the_period_in_the_url_is_shown_selected(workspace, admin_user, world):
    html = client_for(admin_user).get(OVERVIEW).content.decode()

    assert '<option value="30d" selected>' in html


@pytest.mark.parametrize("params, field", [({"period": "2y"}, "period"), ({"group": "nope"}, "group")])
def test_a_bad_filter_is_a_400_naming_it(workspace, admin_user, world, params, field):
    response = client_for(admin_user).get(OVERVIEW, params)

    assert response.status_code == 400
    assert f"<strong>{field}</strong>" in response.content.decode()


def test_overview_shows_when_its_data_was_computed(workspace, admin_user, world):
    html = client_for(admin_user).get(OVERVIEW).content.decode()

    assert re.search(r"Data as of <time datetime=\"[^\"]+\">\d\d:\d\d UTC</time>", html)


def test_overview_sections_are_cached_until_the_ttl(workspace, admin_user, world, django_assert_max_num_queries):
    client = client_for(admin_user)
    client.get(OVERVIEW)
    PageSessionFactory(workspace=workspace, user=UserFactory(), started_at=timezone.now())

    # Session, user, membership: the figures and the filter choices come from the cache.
    with django_assert_max_num_queries(4):
        html = client.get(OVERVIEW).content.decode()
    assert stat(html, "active-learners") == "3"


def test_overview_query_count_is_bounded(workspace, admin_user, world, django_assert_max_num_queries):
    for index in range(20):
        learner = UserFactory()
        EnrollmentFactory(course=world["web"], user=learner, enrolled_at=timezone.now() - timedelta(days=1))
        PageSessionFactory(workspace=workspace, user=learner, started_at=timezone.now() - timedelta(hours=index))

    client = client_for(admin_user)
    with django_assert_max_num_queries(20):
        assert client.get(OVERVIEW).status_code == 200


def test_overview_offers_exports_with_its_filters(workspace, admin_user, world):
    html = client_for(admin_user).get(OVERVIEW, {"period": "7d", "group": world["sales"].public_id}).content.decode()

    assert 'data-export-url="/analytics/export"' in html and 'data-period="7d"' in html
    assert (
        f'<option value="results" data-filters="{{&quot;groupIds&quot;:[&quot;{world["sales"].public_id}&quot;]}}"'
        in html
    )


# Roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [OVERVIEW, RESULTS, "/dashboards/courses/", f"/dashboards/courses/{COURSE_KEY}/"])
def test_learners_are_refused(workspace, world, url):
    response = client_for(world["ann"]).get(url)

    assert response.status_code == 403
    assert "for instructors and administrators" in response.content.decode()


def test_a_user_without_a_workspace_is_refused(db):
    assert client_for(UserFactory()).get(OVERVIEW).status_code == 403


def test_anonymous_visitors_are_sent_to_login(db):
    response = Client().get(OVERVIEW)

    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_instructors_land_on_the_courses_they_teach(workspace, instructor, world):
    html = client_for(instructor).get(OVERVIEW).content.decode()

    assert "My courses" in html
    assert re.findall(r'<li data-course-id="([^"]+)"', html) == [COURSE_KEY]
    assert "active-table" not in html


def test_instructors_are_refused_a_course_they_do_not_teach(workspace, instructor, world):
    response = client_for(instructor).get("/dashboards/courses/edX/Data/2026/")

    assert response.status_code == 403
    assert "courses they teach" in response.content.decode()


def test_instructors_are_refused_the_videos_of_a_course_they_do_not_teach(workspace, instructor, world):
    other = VideoFactory(course=world["data"], key="data-video")

    assert client_for(instructor).get(f"/dashboards/videos/{other.key}/").status_code == 403


def test_an_unknown_course_is_a_404(workspace, admin_user, world):
    assert client_for(admin_user).get("/dashboards/courses/nope/").status_code == 404


def test_a_course_of_another_workspace_is_a_404(workspace, other_workspace, admin_user, world):
    CourseFactory(workspace=other_workspace, key="globex-course")

    assert client_for(admin_user).get("/dashboards/courses/globex-course/").status_code == 404


# Course ------------------------------------------------------------------------------------------


def test_course_keys_with_slashes_colons_and_pluses_resolve(workspace, admin_user, world):
    for key in (COURSE_KEY, "edX/Data/2026"):
        response = client_for(admin_user).get(reverse("dashboard_course", args=[key]))
        assert response.status_code == 200
        assert key in response.content.decode()


def test_course_tables_hold_the_numbers_of_the_course_information_queries(workspace, instructor, world):
    web, now = world["web"], timezone.now()
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"period": "7d"}).content.decode()

    period = resolve_period("7d", now)
    by_mode = course_info.course_enrollment_by_mode(web, period.start.date(), None, now.date())
    assert rows(html, "enrollment-table", "date", "count", "cumulative") == [
        (row["date"].isoformat(), str(row["count"]), str(row["cumulative_count"])) for row in by_mode
    ]
    assert stat(html, "enrolled") == "2"
    birth_years = course_info.course_enrollment_by_birth_year(web, now.date(), None, now.date())
    assert (
        rows(html, "birth-year-table", "year", "count")
        == [(str(row["birth_year"]), str(row["count"])) for row in birth_years]
        == [("1985", "1"), ("1990", "1")]
    )
    locations = course_info.course_enrollment_by_location(web, now.date(), None, now.date())
    assert (
        rows(html, "country-table", "country", "count")
        == [(row["country"].alpha2, str(row["count"])) for row in locations]
        == [("FR", "1"), ("US", "1")]
    )
    activity = course_info.course_activity_by_week(web, course_info.week_start(period.start), None, now)
    assert rows(html, "activity-table", "any", "attempted-problem", "played-video") == [
        (str(row["any"]), str(row["attempted_problem"]), str(row["played_video"])) for row in activity
    ]
    # from the Monday of the period's first day: both learners' activity of the last two days, any weekday
    assert sum(int(any_count) for any_count, *_ in rows(html, "activity-table", "any")) >= 2


def test_course_quiz_and_video_tables_hold_the_dashboard_queries_numbers(workspace, instructor, world):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"period": "7d"}).content.decode()

    assert rows(html, "chapter-table", "chapter-id", "seconds", "learners") == [("ch1", "420", "2"), ("ch2", "60", "1")]
    videos = dashboard_queries.course_video_drop_off(world["web"])
    assert (
        rows(html, "video-table", "users-at-start", "users-at-end", "drop-off")
        == [(str(row["users_at_start"]), str(row["users_at_end"]), str(row["drop_off"])) for row in videos]
        == [("2", "1", "1")]
    )
    # The chosen video's timeline: the Open edX timeline's views and learners per segment.
    timeline = video_timeline(world["video"])
    assert (
        rows(html, "timeline-table", "segment", "views", "users")
        == [(str(row["segment"]), str(row["num_views"]), str(row["num_users"])) for row in timeline]
        == [("0", "2", "2"), ("1", "2", "2"), ("2", "1", "1"), ("3", "1", "1")]
    )


def test_course_learner_table_is_the_analyse_rows_of_the_course(workspace, instructor, world):
    html = (
        client_for(instructor)
        .get(f"/dashboards/courses/{COURSE_KEY}/", {"sort": "progress", "dir": "asc"})
        .content.decode()
    )

    page = analyse.analyse_results_page(
        workspace,
        analyse.ResultFilters(content_ids=(COURSE_KEY,)),
        analyse.ResultOrder("progress", descending=False),
        limit=25,
        course_ids=taught_courses(workspace, instructor),
    )
    assert rows(html, "learner-table", "user-id", "progress", "seconds") == [
        (row["user_public_id"], str(row["progress_pct"]), str(row["time_spent"])) for row in page.rows
    ]
    assert rows(html, "learner-table", "progress") == [("40",), ("100",)]
    assert 'aria-sort="ascending"' in html


def test_course_learner_search_narrows_the_table(workspace, instructor, world):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"q": "bob"}).content.decode()

    assert rows(html, "learner-table", "user-id") == [(world["bob"].public_id,)]


def test_course_learner_search_without_match_shows_an_empty_state(workspace, instructor, world):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"q": "zed"}).content.decode()

    assert 'id="learners-empty"' in html and "learner-table" not in html


def test_course_learner_table_pages(workspace, instructor, world):
    for index in range(30):
        EnrollmentFactory(course=world["web"], user=UserFactory(email=f"extra{index:02d}@acme.test"))
    client = client_for(instructor)

    first = client.get(f"/dashboards/courses/{COURSE_KEY}/", {"sort": "name", "dir": "asc"}).content.decode()
    second = client.get(
        f"/dashboards/courses/{COURSE_KEY}/", {"sort": "name", "dir": "asc", "page": 2}
    ).content.decode()

    assert len(rows(first, "learner-table", "user-id")) == 25
    assert len(rows(second, "learner-table", "user-id")) == 7
    assert "Page 2 of 2" in second


def test_an_empty_course_shows_empty_states(workspace, admin_user):
    CourseFactory(workspace=workspace, key="empty")

    html = client_for(admin_user).get("/dashboards/courses/empty/").content.decode()

    for empty in (
        "enrollment-empty",
        "activity-empty",
        "chapters-empty",
        "videos-empty",
        "learners-empty",
        "problems-empty",
    ):
        assert f'id="{empty}"' in html


def test_course_query_count_is_bounded(workspace, admin_user, world, django_assert_max_num_queries):
    for index in range(20):
        learner = UserFactory()
        EnrollmentFactory(course=world["web"], user=learner)
        AttemptFactory(course=world["web"], user=learner)

    client = client_for(admin_user)
    with django_assert_max_num_queries(30):
        assert client.get(f"/dashboards/courses/{COURSE_KEY}/").status_code == 200


# Course problems ---------------------------------------------------------------------------------

P1 = "block-v1:Org+Web101+2026+type@problem+block@p1"
P2 = "block-v1:Org+Web101+2026+type@problem+block@p2"
P3 = "block-v1:Org+Data+2026+type@problem+block@p3"


def _response(world, user, problem, part, minutes_ago, answer, value_id, correct, grade, max_grade, **extra):
    course = extra.pop("course", world["web"])
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
        submitted_at=world["now"] - timedelta(minutes=minutes_ago),
        question=extra.pop("question", ""),
        problem_name=extra.pop("name", ""),
        **extra,
    )


@pytest.fixture
def problems(world):
    """P1 (two parts: a choice, checkboxes) answered by ann twice (wrong, then right), bob and cy
    once; P2 (a number) by ann and bob; P3 in the other course. Last answers: P1 part 1 Paris x2
    (ann, bob), Lyon x1 (cy); part 2 [2|3] x2 (ann, cy), [2|4] x1 (bob). Last grades of P1: 2/2
    ann, 1/2 bob and cy."""
    ann, bob, cy = world["ann"], world["bob"], world["cy"]
    capital, primes = "Which is the capital of France?", "Pick the prime numbers."
    right, wrong = list_answer(["2", "3"]), list_answer(["2", "4"])
    right_ids, wrong_ids = list_answer(["choice_0", "choice_1"]), list_answer(["choice_0", "choice_2"])
    rows = [
        _response(world, ann, P1, "p1_2_1", 180, "Lyon", "choice_0", False, 0, 2, question=capital, name="Capitals"),
        _response(world, ann, P1, "p1_3_1", 180, wrong, wrong_ids, False, 0, 2, question=primes, name="Capitals"),
        _response(world, ann, P1, "p1_2_1", 120, "Paris", "choice_1", True, 2, 2, question=capital, name="Capitals"),
        _response(world, ann, P1, "p1_3_1", 120, right, right_ids, True, 2, 2, question=primes, name="Capitals"),
        _response(world, bob, P1, "p1_2_1", 170, "Paris", "choice_1", True, 1, 2, question=capital),
        _response(world, bob, P1, "p1_3_1", 170, wrong, wrong_ids, False, 1, 2, question=primes),
        _response(world, cy, P1, "p1_2_1", 160, "Lyon", "choice_0", False, 1, 2),
        _response(world, cy, P1, "p1_3_1", 160, right, right_ids, True, 1, 2),
        _response(world, ann, P2, "p2_2_1", 100, "42", "", True, 1, 1, question="6 x 7?", name="Arithmetic"),
        _response(world, bob, P2, "p2_2_1", 90, "41", "", False, 0, 1, question="6 x 7?", name="Arithmetic"),
        _response(world, cy, P3, "p3_2_1", 90, "x", "", True, 1, 1, course=world["data"]),
    ]
    record_problem_responses(world["web"].workspace_id, rows)
    return rows


def test_course_problem_table_holds_the_problems_endpoint_numbers(workspace, instructor, world, problems):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/").content.decode()

    expected = course_problems(world["web"])
    assert (
        rows(html, "problem-table", "module-id", "submissions", "correct", "parts")
        == [
            (
                row["module_id"],
                str(row["total_submissions"]),
                str(row["correct_submissions"]),
                str(len(row["part_ids"])),
            )
            for row in expected
        ]
        == [(P1, "3", "2", "2"), (P2, "2", "1", "1")]
    )  # P1: 6 last answers over 2 parts, 4 right; P3 is the other course's
    assert [float(rate) for (rate,) in rows(html, "problem-table", "correct-rate")] == [2 / 3, 0.5]
    assert "67 %" in html and "50 %" in html


def test_course_page_draws_the_answer_and_grade_distributions_of_the_busiest_problem(
    workspace, instructor, world, problems
):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/").content.decode()

    assert 'class="chosen"' in re.search(rf'<tr data-module-id="{re.escape(P1)}"[^>]*>', html).group(0)
    answers = problem_answer_distribution(workspace.pk, P1, course_ids=[world["web"].pk])
    drawn = rows(html, "answer-table-1", "part-id", "value-id", "answer", "correct", "count") + rows(
        html, "answer-table-2", "part-id", "value-id", "answer", "correct", "count"
    )
    assert (
        drawn
        == [
            (a["part_id"], a["value_id"], a["answer_value"], str(a["correct"]).lower(), str(a["count"]))
            for a in answers
        ]
        == [
            ("p1_2_1", "choice_0", "Lyon", "false", "1"),
            ("p1_2_1", "choice_1", "Paris", "true", "2"),
            ("p1_3_1", "[choice_0|choice_1]", "[2|3]", "true", "2"),
            ("p1_3_1", "[choice_0|choice_2]", "[2|4]", "false", "1"),
        ]
    )
    assert "Part 1: Which is the capital of France?" in html and "Part 2: Pick the prime numbers." in html
    grades = problem_grade_distribution(workspace.pk, P1, course_ids=[world["web"].pk])
    assert (
        rows(html, "grade-table", "grade", "max-grade", "count")
        == [(str(g["grade"]), str(g["max_grade"]), str(g["count"])) for g in grades]
        == [("1", "2", "2"), ("2", "2", "1")]
    )
    for chart_id in ("answer-chart-1", "answer-chart-2", "grade-chart", "timeline-chart"):
        assert f'id="{chart_id}"' in html


def test_the_problem_in_the_url_is_the_one_drawn(workspace, instructor, world, problems):
    html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"problem": P2}).content.decode()

    assert rows(html, "answer-table-1", "answer", "correct", "count") == [("41", "false", "1"), ("42", "true", "1")]
    assert "answer-table-2" not in html
    assert rows(html, "grade-table", "grade", "max-grade", "count") == [("0", "1", "1"), ("1", "1", "1")]
    assert "Answers to “Arithmetic”" in html


@pytest.mark.parametrize("problem", [P3, "block-v1:nowhere", "x" * 501])
def test_a_problem_not_of_the_course_is_a_400_naming_it(workspace, instructor, world, problems, problem):
    response = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/", {"problem": problem})

    assert response.status_code == 400
    assert "problem" in response.content.decode()


def test_the_problems_section_costs_four_queries_whatever_the_number_of_problems(
    workspace, admin_user, world, problems, django_assert_num_queries
):
    from analytics.dashboards.views.course import _problems_section

    with django_assert_num_queries(4):  # the problems (2), the answers and the grades of one
        section = _problems_section(world["web"], None)
    assert [row["module_id"] for row in section["problems"]] == [P1, P2]

    client = client_for(admin_user)
    client.get(f"/dashboards/courses/{COURSE_KEY}/")
    cache.clear()
    with CaptureQueriesContext(connection) as two_problems:
        client.get(f"/dashboards/courses/{COURSE_KEY}/")
    record_problem_responses(
        workspace.pk,
        [
            _response(
                world,
                world["ann"],
                f"block-v1:Org+Web101+2026+type@problem+block@extra{n}",
                f"extra{n}_2_1",
                10,
                "A",
                "choice_0",
                True,
                1,
                1,
            )
            for n in range(8)
        ],
    )
    cache.clear()
    with CaptureQueriesContext(connection) as ten_problems:
        html = client.get(f"/dashboards/courses/{COURSE_KEY}/").content.decode()
    assert len(rows(html, "problem-table", "module-id")) == 10
    assert len(ten_problems) == len(two_problems) <= 30


# Results -----------------------------------------------------------------------------------------


def test_results_statistics_and_rows_are_the_analyse_numbers(workspace, admin_user, world):
    html = client_for(admin_user).get(RESULTS, {"state": ["APPROVED", "FAILED"]}).content.decode()

    filters = analyse.ResultFilters(states=("APPROVED", "FAILED"))
    statistics = analyse.analyse_statistics(workspace, filters)
    assert stat(html, "total") == str(statistics["total"]) == "2"
    assert rows(html, "state-counts", "state", "count") == [(s, str(n)) for s, n in statistics["by_state"].items()]
    page = analyse.analyse_results_page(workspace, filters, limit=50)
    assert rows(html, "results-table", "result-id") == [(row["result_id"],) for row in page.rows]


def test_results_filters_in_the_url_change_the_numbers(workspace, admin_user, world):
    client = client_for(admin_user)

    everyone = client.get(RESULTS).content.decode()
    sales_mandatory = client.get(RESULTS, {"group": world["sales"].public_id, "type": "MANDATORY"}).content.decode()

    assert stat(everyone, "total") == "3"  # the 3 attempts; bob left Data, so that enrollment is no row
    assert stat(sales_mandatory, "total") == "1"
    assert rows(sales_mandatory, "results-table", "user-id") == [(world["ann"].public_id,)]


def test_results_of_a_learner_come_from_the_admin_link(workspace, admin_user, world):
    html = client_for(admin_user).get(RESULTS, {"user": world["cy"].public_id}).content.decode()

    assert rows(html, "results-table", "course-id") == [("edX/Data/2026",)]


def test_results_date_ranges_include_both_days(workspace, admin_user, world):
    day = (world["now"] - timedelta(days=20)).date().isoformat()

    html = client_for(admin_user).get(RESULTS, {"updated_from": day, "updated_to": day}).content.decode()

    assert rows(html, "results-table", "user-id") == [(world["cy"].public_id,)]


def test_results_refuse_a_range_ending_before_it_starts(workspace, admin_user, world):
    response = client_for(admin_user).get(RESULTS, {"updated_from": "2026-03-10", "updated_to": "2026-03-01"})

    assert response.status_code == 400
    assert "<strong>updated_to</strong>" in response.content.decode()


def test_instructors_see_only_the_results_of_their_courses(workspace, instructor, world):
    html = client_for(instructor).get(RESULTS).content.decode()

    assert {course for (course,) in rows(html, "results-table", "course-id")} == {COURSE_KEY}
    assert stat(html, "total") == "2"


def test_results_query_count_is_bounded(workspace, admin_user, world, django_assert_max_num_queries):
    for _ in range(30):
        AttemptFactory(course=world["data"], user=UserFactory())

    client = client_for(admin_user)
    with django_assert_max_num_queries(15):
        assert client.get(RESULTS).status_code == 200


# Video -------------------------------------------------------------------------------------------


def test_video_tables_hold_the_video_cloud_numbers(workspace, instructor, world):
    video = world["video"]

    html = client_for(instructor).get(reverse("dashboard_video", args=[video.key]), {"period": "7d"}).content.decode()

    analytics = video_analytics(workspace, video.key, resolve_period("7d"))
    assert stat(html, "views") == str(analytics["views"]["total"]) == "2"
    assert stat(html, "unique") == "2"
    assert rows(html, "views-table", "date", "views", "unique") == [
        (row["date"], str(row["views"]), str(row["unique"])) for row in analytics["views"]["timeline"]
    ]
    assert rows(html, "device-table", "key", "count") == [("Desktop", "1"), ("Mobile", "1")]
    assert rows(html, "platform-table", "count") == [(str(n),) for n in analytics["views"]["by_platform"].values()]
    assert rows(html, "country-table", "key", "count") == [("France", "1"), ("United States", "1")]
    assert rows(html, "engagement-table", "watch-time") == [
        (str(row["watch_time"]),) for row in analytics["engagement"]["timeline"]
    ]
    assert stat(html, "completion-rate") == "50.0 %"


def test_video_without_views_in_the_period_says_so(workspace, admin_user, world):
    quiet = VideoFactory(course=world["web"], key="quiet")

    html = client_for(admin_user).get("/dashboards/videos/quiet/").content.decode()

    assert 'id="no-views"' in html and 'id="retention-empty"' in html
    assert quiet.key in html


def test_video_query_count_is_bounded(workspace, admin_user, world, django_assert_max_num_queries):
    client = client_for(admin_user)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("dashboard_video", args=[world["video"].key])).status_code == 200


# Exports and admin links -------------------------------------------------------------------------


def test_course_and_learner_dashboards_offer_their_exports(workspace, instructor, world):
    course_html = client_for(instructor).get(f"/dashboards/courses/{COURSE_KEY}/").content.decode()
    learner_html = client_for(world["ann"]).get("/dashboard/").content.decode()

    assert f'data-filters="{{&quot;contentIds&quot;:[&quot;{COURSE_KEY}&quot;]}}"' in course_html
    assert re.findall(r'<option value="(\w+)" data-filters', learner_html) == ["user"]
    assert "js/exports.js" in course_html and "js/exports.js" in learner_html


def test_django_admin_links_to_the_course_and_user_dashboards(workspace, world):
    superuser = UserFactory(email="root@acme.test", is_staff=True, is_superuser=True)
    client = client_for(superuser)

    courses = client.get(reverse("admin:courses_course_changelist")).content.decode()
    users = client.get(reverse("admin:accounts_user_changelist")).content.decode()

    assert f'href="{reverse("dashboard_course", args=[COURSE_KEY])}"' in courses
    assert f'href="/dashboards/results/?user={world["ann"].public_id}"' in users


# Deferred figures ------------------------------------------------------------------------------


@pytest.fixture
def deferring(settings):
    settings.DASHBOARD_DEFER_SECTIONS = True


def test_a_cold_overview_is_sent_at_once_with_its_figures_deferred(
    workspace, admin_user, world, deferring, django_assert_max_num_queries
):
    client = client_for(admin_user)
    client.get("/dashboards/courses/")  # the session is saved once

    with django_assert_max_num_queries(12):  # session, user, membership and the filter choices
        html = client.get(OVERVIEW, {"period": "7d"}).content.decode()

    assert 'data-fragment-url="?period=7d&amp;fragment=overview"' in html
    assert "active-table" not in html and 'href="?period=7d&amp;wait=1"' in html


def test_the_fragment_computes_the_figures_and_the_next_page_shows_them(workspace, admin_user, world, deferring):
    client = client_for(admin_user)

    fragment = client.get(OVERVIEW, {"period": "7d", "fragment": "overview"}).content.decode()
    page = client.get(OVERVIEW, {"period": "7d"}).content.decode()

    assert "<html" not in fragment and stat(fragment, "active-learners") == "2"
    assert "data-fragment-url" not in page and stat(page, "active-learners") == "2"


def test_without_javascript_the_wait_link_shows_the_figures(workspace, admin_user, world, deferring):
    html = client_for(admin_user).get(OVERVIEW, {"wait": "1"}).content.decode()

    assert "data-fragment-url" not in html and stat(html, "active-learners") == "3"


def test_a_cold_course_page_defers_its_figures_but_not_its_learners(workspace, instructor, world, deferring):
    client = client_for(instructor)

    page = client.get(f"/dashboards/courses/{COURSE_KEY}/").content.decode()
    fragment = client.get(f"/dashboards/courses/{COURSE_KEY}/", {"fragment": "course"}).content.decode()

    assert 'fragment=course"' in page and "learner-table" in page and "video-table" not in page
    assert rows(fragment, "video-table", "users-at-start") == [("2",)]
    assert rows(fragment, "timeline-table", "users") == [("2",), ("2",), ("1",), ("1",)]


def test_a_cold_video_page_defers_its_figures(workspace, admin_user, world, deferring):
    client = client_for(admin_user)
    url = reverse("dashboard_video", args=[world["video"].key])

    page = client.get(url).content.decode()
    fragment = client.get(url, {"fragment": "video"}).content.decode()

    assert 'fragment=video"' in page and "views-table" not in page
    assert stat(fragment, "views") == "2" and "retention-table" in fragment
