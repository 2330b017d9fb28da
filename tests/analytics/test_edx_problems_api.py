"""Open edX problem endpoints and the video timeline (/api/v0/courses/{id}/problems/,
/api/v0/problems/{module_id}/..., /api/v0/videos/{pipeline_video_id}/timeline/): exact numbers on
a small hand-built world, written through the one write path (record_problem_responses /
record_subsection_opens).

The world (minutes after T0; course NEW = course-v1:edX+DemoX+Demo_Course, OLD = edX/Old/Run):

P1 (NEW), part P1_A (single choice) and P1_B (checkboxes); grade of the whole submission of 2:
    learner  minute  P1_A                      P1_B                        grade
    A        0       Lyon  choice_0  wrong     -                           0
    A        5       Paris choice_1  correct   [a|b] [choice_a|choice_b] ok 2   <- A's last
    B        1       Paris choice_1  correct   [a]   [choice_a]  wrong     1
    C        2       Lyon  choice_0  wrong     [a|b] [choice_a|choice_b] ok 0
    D        3       Paris choice_1  correct   -                           2
  Last answers: P1_A Paris 3 (A B D), Lyon 1 (C); P1_B [a|b] 2 (A C), [a] 1 (B).
  problems/: counts sum 7 over 2 parts -> total_submissions 7 // 2 = 3; correct 3 + 2 = 5 -> 2.
  Last grades: A 2, B 1, C 0, D 2 -> grade 0: 1, 1: 1, 2: 2.
P2 (NEW), one part: A "42" correct, B "41" wrong -> total 2, correct 1.
P3 (OLD, i4x key), one part: A "x" correct -> total 1, correct 1.
P4 (NEW, randomized) part P4_A: A variant 1 v1 "7" ok; B variant 2 v1 "7" ok; C variant 2 v2 "8"
  wrong -> Open edX consolidates: v1 count 2 variant null consolidated; v2 count 1 variant 2.
P5 (NEW, randomized) part P5_A: A variant 1 v1 "7" ok; B variant 2 v1 "9" wrong -> the answers of
  v1 disagree, nothing is consolidated (two rows, variants 1 and 2).
Subsection S1 (NEW): A opens twice, B once -> 2 learners.

Video V1 (NEW, block key, 22 s, segments of 5 s -> 5 segments 0..4):
    A view 1 [0, 1, 2], A view 2 [1, 2], B [2, 3]
    -> segment: views/users 0: 1/1, 1: 2/1, 2: 3/2, 3: 1/1, 4: 0/0
Video V2 (OLD, i4x key, 10 s, 5 s -> 2 segments), one view [0, 3] past the duration
    -> 4 segments: 0: 1/1, 1: 0/0, 2: 0/0, 3: 1/1
"""

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from accounts.models import Role
from analytics.api import course_info as course_info_api
from analytics.models import ProblemResponse, SubsectionOpen
from analytics.queries import problems as queries
from analytics.services.problem_rollups import list_answer, record_problem_responses, record_subsection_opens
from tests.factories import CourseFactory, VideoFactory, VideoViewFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 9, 15, 0, tzinfo=timezone.utc)
CREATED = "2026-03-09T150000"
NEW = "course-v1:edX+DemoX+Demo_Course"
OLD = "edX/Old/Run"
P1 = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p1"
P2 = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p2"
P3 = "i4x://edX/Old/problem/p3"
P4 = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p4"
P5 = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p5"
P1_A, P1_B = "p1_2_1", "p1_3_1"
S1 = "block-v1:edX+DemoX+Demo_Course+type@sequential+block@s1"
V1 = "block-v1:edX+DemoX+Demo_Course+type@video+block@vid1"
V2 = "i4x://edX/Old/video/v2"
V1_ID = f"{NEW}|vid1"
V2_ID = f"{OLD}|i4x-edX-Old-video-v2"


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(course_info_api, "current_time", lambda: NOW)


@pytest.fixture
def courses(workspace):
    return {
        "new": CourseFactory(workspace=workspace, key=NEW, title="Demo"),
        "old": CourseFactory(workspace=workspace, key=OLD, title="Old"),
    }


@pytest.fixture
def learners(workspace, make_member):
    return {name: make_member(workspace, Role.LEARNER, email=f"{name.lower()}@acme.test") for name in "ABCD"}


def response(workspace, user, course, minute, problem, part, answer, correct, value_id="", grade=None, **extra):
    return ProblemResponse(
        id=uuid.uuid4(),
        workspace=workspace,
        user=user,
        course=course,
        problem_key=problem,
        part_id=part,
        answer=answer,
        value_id=value_id,
        correct=correct,
        grade=grade,
        max_grade=None if grade is None else 2.0,
        submitted_at=T0 + timedelta(minutes=minute),
        **extra,
    )


@pytest.fixture
def problems(workspace, courses, learners):
    new, old = courses["new"], courses["old"]
    a, b, c, d = (learners[name] for name in "ABCD")
    both = list_answer(["a", "b"])
    both_ids = list_answer(["choice_a", "choice_b"])
    texts = dict(question="Capital of France?", problem_name="Capitals")
    rows = [
        response(workspace, a, new, 0, P1, P1_A, "Lyon", False, "choice_0", grade=0.0, **texts),
        response(workspace, a, new, 5, P1, P1_A, "Paris", True, "choice_1", grade=2.0, **texts),
        response(workspace, a, new, 5, P1, P1_B, both, True, both_ids, grade=2.0, problem_name="Capitals"),
        response(workspace, b, new, 1, P1, P1_A, "Paris", True, "choice_1", grade=1.0, **texts),
        response(workspace, b, new, 1, P1, P1_B, "[a]", False, "[choice_a]", grade=1.0, problem_name="Capitals"),
        response(workspace, c, new, 2, P1, P1_A, "Lyon", False, "choice_0", grade=0.0, **texts),
        response(workspace, c, new, 2, P1, P1_B, both, True, both_ids, grade=0.0, problem_name="Capitals"),
        response(workspace, d, new, 3, P1, P1_A, "Paris", True, "choice_1", grade=2.0, **texts),
        response(workspace, a, new, 0, P2, "p2_2_1", "42", True),
        response(workspace, b, new, 0, P2, "p2_2_1", "41", False),
        response(workspace, a, old, 0, P3, "p3_2_1", "x", True),
        response(workspace, a, new, 0, P4, "p4_2_1", "7", True, "v1", variant="1"),
        response(workspace, b, new, 0, P4, "p4_2_1", "7", True, "v1", variant="2"),
        response(workspace, c, new, 0, P4, "p4_2_1", "8", False, "v2", variant="2"),
        response(workspace, a, new, 0, P5, "p5_2_1", "7", True, "v1", variant="1"),
        response(workspace, b, new, 0, P5, "p5_2_1", "9", False, "v1", variant="2"),
    ]
    # Two batches: the rollups move by difference across writes.
    record_problem_responses(workspace.id, rows[:4])
    record_problem_responses(workspace.id, rows[4:])
    opens = [
        SubsectionOpen(
            id=uuid.uuid4(),
            workspace=workspace,
            user=user,
            course=new,
            subsection_key=S1,
            opened_at=T0 + timedelta(minutes=minute),
        )
        for user, minute in ((a, 0), (a, 9), (b, 4))
    ]
    record_subsection_opens(workspace.id, opens)


@pytest.fixture
def videos(workspace, courses, learners):
    v1 = VideoFactory(course=courses["new"], key=V1, duration_s=22, segment_length_s=5)
    v2 = VideoFactory(course=courses["old"], key=V2, duration_s=10, segment_length_s=5)
    for video, user, segments in (
        (v1, learners["A"], [0, 1, 2]),
        (v1, learners["A"], [1, 2]),
        (v1, learners["B"], [2, 3]),
        (v2, learners["C"], [0, 3]),
    ):
        VideoViewFactory(video=video, user=user, segments=segments, started_at=T0)
    return {"v1": v1, "v2": v2}


# ---------------------------------------------------------------------------------------------
# The query functions (shared with the dashboard)


def test_course_problems_average_final_answers_over_parts(courses, problems):
    rows = queries.course_problems(courses["new"])
    assert rows == [
        {
            "module_id": P1,
            "total_submissions": 3,
            "correct_submissions": 2,
            "part_ids": [P1_A, P1_B],
            "problem_name": "Capitals",
        },
        {"module_id": P2, "total_submissions": 2, "correct_submissions": 1, "part_ids": ["p2_2_1"], "problem_name": ""},
        {"module_id": P4, "total_submissions": 3, "correct_submissions": 2, "part_ids": ["p4_2_1"], "problem_name": ""},
        {"module_id": P5, "total_submissions": 2, "correct_submissions": 1, "part_ids": ["p5_2_1"], "problem_name": ""},
    ]
    assert queries.course_problems(courses["old"]) == [
        {"module_id": P3, "total_submissions": 1, "correct_submissions": 1, "part_ids": ["p3_2_1"], "problem_name": ""}
    ]


def answer(part, correct, count, value_id, value, variant=None, consolidated=False, module=P1, course=NEW, **texts):
    return {
        "course_id": course,
        "module_id": module,
        "part_id": part,
        "correct": correct,
        "count": count,
        "value_id": value_id,
        "answer_value": value,
        "problem_display_name": texts.get("name"),
        "question_text": texts.get("question"),
        "variant": variant,
        "consolidated_variant": consolidated,
    }


def test_answer_distribution_counts_each_learners_last_answer(workspace, problems):
    texts = dict(name="Capitals", question="Capital of France?")
    assert queries.problem_answer_distribution(workspace.id, P1) == [
        answer(P1_A, False, 1, "choice_0", "Lyon", **texts),
        answer(P1_A, True, 3, "choice_1", "Paris", **texts),
        answer(P1_B, False, 1, "[choice_a]", "[a]", name="Capitals"),
        answer(P1_B, True, 2, "[choice_a|choice_b]", "[a|b]", name="Capitals"),
    ]


def test_answer_distribution_consolidates_variants_that_agree(workspace, problems):
    assert queries.problem_answer_distribution(workspace.id, P4) == [
        answer("p4_2_1", True, 2, "v1", "7", None, True, module=P4),
        answer("p4_2_1", False, 1, "v2", "8", 2, False, module=P4),
    ]


def test_answer_distribution_keeps_variants_whose_answers_differ(workspace, problems):
    assert queries.problem_answer_distribution(workspace.id, P5) == [
        answer("p5_2_1", True, 1, "v1", "7", 1, module=P5),
        answer("p5_2_1", False, 1, "v1", "9", 2, module=P5),
    ]


def test_grade_distribution_counts_each_learners_last_grade(workspace, problems):
    assert queries.problem_grade_distribution(workspace.id, P1) == [
        {"course_id": NEW, "module_id": P1, "grade": 0, "max_grade": 2, "count": 1},
        {"course_id": NEW, "module_id": P1, "grade": 1, "max_grade": 2, "count": 1},
        {"course_id": NEW, "module_id": P1, "grade": 2, "max_grade": 2, "count": 2},
    ]


def test_sequential_open_distribution_counts_distinct_learners(workspace, problems):
    assert queries.sequential_open_distribution(workspace.id, S1) == [{"course_id": NEW, "module_id": S1, "count": 2}]


def test_distributions_limited_to_given_courses(workspace, courses, problems):
    other = [courses["old"].pk]
    assert queries.problem_answer_distribution(workspace.id, P1, course_ids=other) == []
    assert queries.problem_grade_distribution(workspace.id, P1, course_ids=other) == []
    assert queries.sequential_open_distribution(workspace.id, S1, course_ids=other) == []
    assert len(queries.problem_grade_distribution(workspace.id, P1, course_ids=[courses["new"].pk])) == 3


def test_video_timeline_lists_every_segment_with_views_and_learners(videos):
    assert queries.video_timeline(videos["v1"]) == [
        {"segment": 0, "num_users": 1, "num_views": 1},
        {"segment": 1, "num_users": 1, "num_views": 2},
        {"segment": 2, "num_users": 2, "num_views": 3},
        {"segment": 3, "num_users": 1, "num_views": 1},
        {"segment": 4, "num_users": 0, "num_views": 0},
    ]


def test_video_timeline_counts_are_reused_for_the_cache_time_then_recounted(videos, learners, monkeypatch):
    times = iter([1000.0, 1000.0 + queries.TIMELINE_CACHE_S - 1, 1000.0 + queries.TIMELINE_CACHE_S + 1])
    clock = {"now": next(times)}
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: clock["now"])

    def segment_4_and_2():
        rows = queries.video_timeline(videos["v1"])
        return (rows[4]["num_views"], rows[2]["num_views"])

    assert segment_4_and_2() == (0, 3)
    VideoViewFactory(video=videos["v1"], user=learners["C"], segments=[2, 4], started_at=T0)
    clock["now"] = next(times)
    assert segment_4_and_2() == (0, 3)  # within TIMELINE_CACHE_S: the counts read before
    clock["now"] = next(times)
    assert segment_4_and_2() == (1, 4)


def test_video_timeline_extends_to_segments_watched_past_the_duration(videos):
    assert queries.video_timeline(videos["v2"]) == [
        {"segment": 0, "num_users": 1, "num_views": 1},
        {"segment": 1, "num_users": 0, "num_views": 0},
        {"segment": 2, "num_users": 0, "num_views": 0},
        {"segment": 3, "num_users": 1, "num_views": 1},
    ]


# ---------------------------------------------------------------------------------------------
# The endpoints


@pytest.fixture
def admin_client(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def get(client, url, **extra):
    return client.get(url, **extra)


NOT_FOUND = {"detail": "Not found."}


def test_problems_answer_edx_fields_in_order(admin_client, problems, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/courses/{NEW}/problems/")
    assert response.status_code == 200
    body = response.json()
    assert list(body[0]) == ["module_id", "total_submissions", "correct_submissions", "part_ids", "created"]
    assert body == [
        {
            "module_id": P1,
            "total_submissions": 3,
            "correct_submissions": 2,
            "part_ids": [P1_A, P1_B],
            "created": CREATED,
        },
        {"module_id": P2, "total_submissions": 2, "correct_submissions": 1, "part_ids": ["p2_2_1"], "created": CREATED},
        {"module_id": P4, "total_submissions": 3, "correct_submissions": 2, "part_ids": ["p4_2_1"], "created": CREATED},
        {"module_id": P5, "total_submissions": 2, "correct_submissions": 1, "part_ids": ["p5_2_1"], "created": CREATED},
    ]


@pytest.mark.parametrize("key", [OLD, quote(OLD, safe="")])
def test_problems_of_a_course_with_a_slash_key(admin_client, problems, key):
    response = admin_client.get(f"/api/v0/courses/{key}/problems/")
    assert response.status_code == 200
    assert response.json() == [
        {"module_id": P3, "total_submissions": 1, "correct_submissions": 1, "part_ids": ["p3_2_1"], "created": CREATED}
    ]


def test_problems_of_a_url_encoded_course_v1_key(admin_client, problems):
    response = admin_client.get(f"/api/v0/courses/{quote(NEW, safe='')}/problems/")
    assert response.status_code == 200
    assert [row["module_id"] for row in response.json()] == [P1, P2, P4, P5]


def test_problems_and_tags_answer_empty_tags(admin_client, problems, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/courses/{OLD}/problems_and_tags/")
    assert response.status_code == 200
    body = response.json()
    assert body == [{"module_id": P3, "total_submissions": 1, "correct_submissions": 1, "tags": {}, "created": CREATED}]
    assert list(body[0]) == ["module_id", "total_submissions", "correct_submissions", "tags", "created"]


def test_problems_csv_flattens_part_ids_and_names_the_file(admin_client, problems):
    response = admin_client.get(f"/api/v0/courses/{NEW}/problems/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == "attachment; filename=edX-DemoX-Demo_Course--problems.csv"
    lines = response.content.decode().splitlines()
    assert lines[0] == "correct_submissions,created,module_id,part_ids.0,part_ids.1,total_submissions"
    assert lines[1] == f"2,{CREATED},{P1},{P1_A},{P1_B},3"
    assert lines[2] == f"1,{CREATED},{P2},p2_2_1,,2"
    assert len(lines) == 5


@pytest.mark.parametrize("endpoint", ["problems", "problems_and_tags"])
def test_course_without_answers_is_edx_404(admin_client, courses, endpoint):
    response = admin_client.get(f"/api/v0/courses/{NEW}/{endpoint}/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_unknown_course_is_404(admin_client, problems):
    response = admin_client.get("/api/v0/courses/course-v1:edX+Nope+Run/problems/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_answer_distribution_answers_edx_fields(admin_client, problems, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/problems/{P1}/answer_distribution/")
    assert response.status_code == 200
    body = response.json()
    assert list(body[0]) == [
        "course_id",
        "module_id",
        "part_id",
        "correct",
        "count",
        "value_id",
        "answer_value",
        "problem_display_name",
        "question_text",
        "variant",
        "created",
        "consolidated_variant",
    ]
    assert [(row["part_id"], row["answer_value"], row["correct"], row["count"]) for row in body] == [
        (P1_A, "Lyon", False, 1),
        (P1_A, "Paris", True, 3),
        (P1_B, "[a]", False, 1),
        (P1_B, "[a|b]", True, 2),
    ]
    assert body[1] == {
        "course_id": NEW,
        "module_id": P1,
        "part_id": P1_A,
        "correct": True,
        "count": 3,
        "value_id": "choice_1",
        "answer_value": "Paris",
        "problem_display_name": "Capitals",
        "question_text": "Capital of France?",
        "variant": None,
        "created": CREATED,
        "consolidated_variant": False,
    }


def test_answer_distribution_consolidates_variants(admin_client, problems):
    body = admin_client.get(f"/api/v0/problems/{P4}/answer_distribution/").json()
    assert [(row["value_id"], row["count"], row["variant"], row["consolidated_variant"]) for row in body] == [
        ("v1", 2, None, True),
        ("v2", 1, 2, False),
    ]


def test_answer_distribution_of_an_i4x_key_with_slashes(admin_client, problems):
    response = admin_client.get(f"/api/v0/problems/{P3}/answer_distribution/")
    assert response.status_code == 200
    assert [(row["course_id"], row["module_id"], row["answer_value"], row["count"]) for row in response.json()] == [
        (OLD, P3, "x", 1)
    ]


def test_grade_distribution_answers_edx_fields(admin_client, problems, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/problems/{P1}/grade_distribution/")
    assert response.status_code == 200
    assert response.json() == [
        {"module_id": P1, "course_id": NEW, "grade": 0, "max_grade": 2, "count": 1, "created": CREATED},
        {"module_id": P1, "course_id": NEW, "grade": 1, "max_grade": 2, "count": 1, "created": CREATED},
        {"module_id": P1, "course_id": NEW, "grade": 2, "max_grade": 2, "count": 2, "created": CREATED},
    ]


def test_sequential_open_distribution_answers_edx_fields(admin_client, problems, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/problems/{S1}/sequential_open_distribution/")
    assert response.status_code == 200
    assert response.json() == [{"module_id": S1, "course_id": NEW, "count": 2, "created": CREATED}]


def test_distribution_csv_has_no_file_name(admin_client, problems):
    response = admin_client.get(f"/api/v0/problems/{S1}/sequential_open_distribution/?format=csv")
    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert response.content.decode().splitlines() == ["count,course_id,created,module_id", f"2,{NEW},{CREATED},{S1}"]


@pytest.mark.parametrize("endpoint", ["answer_distribution", "grade_distribution", "sequential_open_distribution"])
@pytest.mark.parametrize("module_id", ["DOES-NOT-EXIST", P2 + "x", "x" * 600, "bad%01id"])
def test_unknown_or_malformed_module_is_edx_404(admin_client, problems, endpoint, module_id):
    response = admin_client.get(f"/api/v0/problems/{module_id}/{endpoint}/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_problem_without_grades_has_no_grade_distribution(admin_client, problems):
    # P2's responses carry no grade: answers, but no grade distribution.
    assert admin_client.get(f"/api/v0/problems/{P2}/answer_distribution/").status_code == 200
    response = admin_client.get(f"/api/v0/problems/{P2}/grade_distribution/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_another_workspaces_problem_is_404(admin_client, problems, other_workspace, api_key_client):
    other = api_key_client(other_workspace, Role.ADMIN)
    for url in (
        f"/api/v0/problems/{P1}/answer_distribution/",
        f"/api/v0/courses/{NEW}/problems/",
        f"/api/v0/videos/{V1_ID}/timeline/",
    ):
        response = other.get(url)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


# ---------------------------------------------------------------------------------------------
# Who may read


@pytest.fixture
def instructor_client(workspace, courses, instructor, bearer_client):
    courses["new"].instructors.add(instructor)
    return bearer_client(instructor, workspace)


def test_instructor_reads_the_problems_of_courses_they_teach(instructor_client, problems, videos):
    assert instructor_client.get(f"/api/v0/courses/{NEW}/problems/").status_code == 200
    response = instructor_client.get(f"/api/v0/problems/{P1}/grade_distribution/")
    assert response.status_code == 200
    assert sum(row["count"] for row in response.json()) == 4
    assert instructor_client.get(f"/api/v0/problems/{S1}/sequential_open_distribution/").status_code == 200
    assert instructor_client.get(f"/api/v0/videos/{V1_ID}/timeline/").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v0/courses/{OLD}/problems/",
        f"/api/v0/courses/{OLD}/problems_and_tags/",
        f"/api/v0/problems/{P3}/answer_distribution/",
        f"/api/v0/videos/{V2_ID}/timeline/",
    ],
)
def test_instructor_refused_the_courses_they_do_not_teach(instructor_client, problems, videos, url):
    response = instructor_client.get(url)
    assert response.status_code == 403
    assert response.json() == {"detail": "Instructors may only read the courses they teach."}


def test_instructor_still_gets_404_for_an_unknown_module(instructor_client, problems):
    response = instructor_client.get("/api/v0/problems/nope/answer_distribution/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_instructor_api_key_teaches_nothing(workspace, api_key_client, problems):
    client = api_key_client(workspace, Role.INSTRUCTOR)
    assert client.get(f"/api/v0/problems/{P1}/answer_distribution/").status_code == 403
    assert client.get(f"/api/v0/courses/{NEW}/problems/").status_code == 403


def test_learner_is_refused(workspace, learners, bearer_client, problems):
    client = bearer_client(learners["A"], workspace)
    assert client.get(f"/api/v0/problems/{P1}/answer_distribution/").status_code == 403
    assert client.get(f"/api/v0/courses/{NEW}/problems/").status_code == 403


def test_no_credential_is_401(api_client, problems):
    assert api_client.get(f"/api/v0/problems/{P1}/answer_distribution/").status_code == 401


def test_token_session_and_bearer_credentials(
    workspace, admin_user, api_key_client, session_client, bearer_client, problems
):
    raw = api_key_client(workspace, Role.ADMIN).raw_api_key
    url = f"/api/v0/problems/{S1}/sequential_open_distribution/"
    token = api_key_client(workspace, Role.ADMIN)
    assert token.get(url, HTTP_AUTHORIZATION=f"Token {raw}").json()[0]["count"] == 2
    assert session_client(admin_user).get(url).status_code == 200
    assert bearer_client(admin_user, workspace).get(url).status_code == 200


# ---------------------------------------------------------------------------------------------
# Video timeline


def timeline(*rows):
    return [{"segment": s, "num_users": users, "num_views": views, "created": CREATED} for s, users, views in rows]


def test_video_timeline_answers_every_segment(admin_client, videos, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"/api/v0/videos/{V1_ID}/timeline/")
    assert response.status_code == 200
    assert response.json() == timeline((0, 1, 1), (1, 1, 2), (2, 2, 3), (3, 1, 1), (4, 0, 0))


@pytest.mark.parametrize("video_id", [V2_ID, quote(V2_ID, safe="")])
def test_video_timeline_of_an_old_course_key_and_i4x_video(admin_client, videos, video_id):
    response = admin_client.get(f"/api/v0/videos/{video_id}/timeline/")
    assert response.status_code == 200
    assert response.json() == timeline((0, 1, 1), (1, 0, 0), (2, 0, 0), (3, 1, 1))


def test_video_timeline_takes_the_ids_the_videos_endpoint_lists(admin_client, videos):
    listed = admin_client.get(f"/api/v0/courses/{NEW}/videos/").json()
    assert [video["pipeline_video_id"] for video in listed] == [V1_ID]
    assert admin_client.get(f"/api/v0/videos/{listed[0]['pipeline_video_id']}/timeline/").status_code == 200


def test_video_timeline_csv(admin_client, videos):
    response = admin_client.get(f"/api/v0/videos/{V2_ID}/timeline/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.content.decode().splitlines() == [
        "created,num_users,num_views,segment",
        f"{CREATED},1,1,0",
        f"{CREATED},0,0,1",
        f"{CREATED},0,0,2",
        f"{CREATED},1,1,3",
    ]


@pytest.mark.parametrize(
    "video_id",
    [
        f"{NEW}|nope",
        "no-separator",
        "|vid1",
        f"{NEW}|",
        "course-v1:edX+Nope+Run|vid1",
        f"{NEW}%01|vid1",
    ],
)
def test_unknown_or_malformed_video_is_edx_404(admin_client, videos, video_id):
    response = admin_client.get(f"/api/v0/videos/{video_id}/timeline/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_video_nobody_watched_is_edx_404(admin_client, courses):
    VideoFactory(course=courses["new"], key=V1, duration_s=22, segment_length_s=5)
    response = admin_client.get(f"/api/v0/videos/{V1_ID}/timeline/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_video_timeline_counts_scattered_unsorted_and_repeated_segments_once_per_view(courses, learners):
    video = VideoFactory(course=courses["new"], key="scattered", duration_s=10, segment_length_s=5)
    for user, segments in (
        (learners["A"], [3, 1]),  # unsorted, with a gap
        (learners["A"], [1, 1, 2]),  # 1 repeated: one view of it
        (learners["B"], [0, 2]),
        (learners["C"], []),  # watched nothing
        (learners["D"], {"not": "a list"}),  # not a list of indexes: ignored
    ):
        VideoViewFactory(video=video, user=user, segments=segments, started_at=T0)
    # segment 0: B; 1: A twice; 2: A and B; 3: A (past the 2 segments of the duration)
    assert queries.video_timeline(video) == [
        {"segment": 0, "num_users": 1, "num_views": 1},
        {"segment": 1, "num_users": 1, "num_views": 2},
        {"segment": 2, "num_users": 2, "num_views": 2},
        {"segment": 3, "num_users": 1, "num_views": 1},
    ]


def test_video_timeline_equals_a_recount_of_pseudo_random_views(courses, learners):
    """Runs, seeks, repeats and disorder: the database's answer equals a plain recount."""
    import random

    rng = random.Random(18)
    video = VideoFactory(course=courses["new"], key="random", duration_s=100, segment_length_s=5)
    stored = []
    for _ in range(60):
        start, length = rng.randrange(0, 22), rng.randrange(1, 12)
        segments = list(range(start, start + length))
        shape = rng.randrange(4)
        if shape == 1:  # a seek: a gap in the run
            segments = segments[:2] + segments[5:]
        elif shape == 2:  # scattered and repeated
            segments = sorted(rng.choices(range(24), k=5))
        elif shape == 3:
            rng.shuffle(segments)
        user = learners[rng.choice("ABCD")]
        VideoViewFactory(video=video, user=user, segments=segments, started_at=T0)
        stored.append((user.pk, set(segments)))
    expected = []
    for segment in range(max(20, max(max(s) for _, s in stored if s) + 1)):
        watched = [user for user, segments in stored if segment in segments]
        expected.append({"segment": segment, "num_users": len(set(watched)), "num_views": len(watched)})
    assert queries.video_timeline(video) == expected
