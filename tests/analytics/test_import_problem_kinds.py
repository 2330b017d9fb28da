"""The interchange kinds behind the Open edX problem endpoints: problem_response, subsection_open,
program, and the course's catalog facts (import_data and POST /api/import)."""

import json
import uuid
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import (
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
)
from courses.models import Course, Program
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

COURSE = "course-v1:edX+DemoX+Demo_Course"
PROBLEM = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p1"
SEQUENTIAL = "block-v1:edX+DemoX+Demo_Course+type@sequential+block@s1"
PROGRAM_ID = "b5f5c3a2-7d3e-4c1a-9f2b-0e1d2c3b4a59"


def response(user, minutes, answer, correct, *, grade, part="p1_2_1", **extra):
    return {
        "kind": "problem_response",
        "user": user,
        "course": COURSE,
        "problem": PROBLEM,
        "part": part,
        "answer": answer,
        "correct": correct,
        "grade": grade,
        "maxGrade": 2,
        "at": f"2026-03-02T09:{minutes:02d}:00Z",
        **extra,
    }


LINES = [
    {"kind": "user", "email": "ada@example.com"},
    {"kind": "user", "email": "bob@example.com"},
    {
        "kind": "course",
        "key": COURSE,
        "title": "Demo",
        "start": "2026-01-05T00:00:00Z",
        "end": "2026-06-30T00:00:00Z",
        "pacing": "Self_Paced",
        "catalogCourse": "edX+DemoX",
        "catalogTitle": "Demonstration",
    },
    {
        "kind": "program",
        "id": PROGRAM_ID,
        "title": "Data Science",
        "type": "XSeries",
        "courses": [COURSE, "course-v1:edX+Stats+2026"],
    },
    response("ada@example.com", 0, "blue", False, grade=0, question="Ocean colour?", problemName="Colours", attempt=1),
    response("ada@example.com", 5, "green", True, grade=2, attempt=2),
    response("bob@example.com", 1, "green", True, grade=2),
    response(
        "bob@example.com", 1, ["a piano", "a guitar"], True, grade=2, part="p1_3_1", valueId=["choice_0", "choice_2"]
    ),
    {
        "kind": "subsection_open",
        "user": "ada@example.com",
        "course": COURSE,
        "subsection": SEQUENTIAL,
        "at": "2026-03-02T08:59:00Z",
    },
    {
        "kind": "subsection_open",
        "user": "ada@example.com",
        "course": COURSE,
        "subsection": SEQUENTIAL,
        "at": "2026-03-02T10:00:00Z",
    },
    {
        "kind": "subsection_open",
        "user": "bob@example.com",
        "course": COURSE,
        "subsection": SEQUENTIAL,
        "at": "2026-03-02T08:58:00Z",
    },
]


def write_lines(tmp_path, records, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    return str(path)


def run_import(*files, workspace="acme"):
    out, err = StringIO(), StringIO()
    call_command("import_data", "--workspace", workspace, *files, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary_of(out):
    """{kind: [created, updated, unchanged, rejected]} from the command's table."""
    rows = {}
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) == 5 and cols[1].isdigit():
            rows[cols[0]] = [int(col) for col in cols[1:]]
    return rows


def test_new_kinds_load_and_the_summary_counts_them(tmp_path):
    out, err = run_import(write_lines(tmp_path, LINES))

    assert err == ""
    assert summary_of(out) == {
        "user": [2, 0, 0, 0],
        "course": [1, 0, 0, 0],
        "program": [1, 0, 0, 0],
        "problem_response": [4, 0, 0, 0],
        "subsection_open": [3, 0, 0, 0],
    }
    assert "11 lines read, 11 imported, 0 rejected" in out


def test_course_catalog_facts_are_stored(tmp_path):
    run_import(write_lines(tmp_path, LINES))

    course = Course.objects.get(key=COURSE)
    assert (course.start, course.end) == (
        datetime(2026, 1, 5, tzinfo=timezone.utc),
        datetime(2026, 6, 30, tzinfo=timezone.utc),
    )
    assert (course.pacing, course.catalog_course, course.catalog_title) == ("self_paced", "edX+DemoX", "Demonstration")


def test_program_names_its_courses_and_an_unknown_course_is_created_titled_by_its_key(tmp_path):
    run_import(write_lines(tmp_path, LINES))

    program = Program.objects.get(key=PROGRAM_ID)
    assert (program.title, program.program_type) == ("Data Science", "XSeries")
    assert sorted(program.courses.values_list("key", flat=True)) == [
        "course-v1:edX+DemoX+Demo_Course",
        "course-v1:edX+Stats+2026",
    ]
    assert Course.objects.get(key="course-v1:edX+Stats+2026").title == "course-v1:edX+Stats+2026"


def test_program_reimported_with_other_courses_gets_exactly_those(tmp_path):
    run_import(write_lines(tmp_path, LINES[:4]))

    out, _ = run_import(write_lines(tmp_path, [{**LINES[3], "courses": ["course-v1:edX+Stats+2026"]}], name="b.jsonl"))

    assert summary_of(out)["program"] == [0, 1, 0, 0]
    assert list(Program.objects.get().courses.values_list("key", flat=True)) == ["course-v1:edX+Stats+2026"]


def test_responses_are_stored_raw_and_counted_by_each_learners_last_answer(tmp_path):
    run_import(write_lines(tmp_path, LINES))

    assert ProblemResponse.objects.count() == 4
    bob_list = ProblemResponse.objects.get(part_id="p1_3_1")
    assert (bob_list.answer, bob_list.value_id, bob_list.source) == (
        "[a piano|a guitar]",
        "[choice_0|choice_2]",
        "import",
    )
    first = ProblemResponse.objects.get(answer="blue")
    assert (first.question, first.problem_name, first.attempt, first.grade, first.max_grade) == (
        "Ocean colour?",
        "Colours",
        1,
        0.0,
        2.0,
    )
    # Part 2_1: Ada's last answer is green (5 min), Bob's green: 2 learners; blue is no one's last.
    counts = {(row.part_id, row.answer, row.correct): row.count for row in ProblemAnswerCount.objects.all()}
    assert counts == {("p1_2_1", "green", True): 2, ("p1_3_1", "[a piano|a guitar]", True): 1}
    # Last grade per learner: Ada 2/2 (at 5 min), Bob 2/2 (both his responses are at 1 min, grade 2).
    assert list(ProblemGradeCount.objects.values_list("grade", "max_grade", "count")) == [(2.0, 2.0, 2)]


def test_subsection_opens_count_each_learner_once(tmp_path):
    run_import(write_lines(tmp_path, LINES))

    assert SubsectionOpen.objects.count() == 3
    assert SubsectionLearner.objects.filter(subsection_key=SEQUENTIAL).count() == 2


def test_response_naming_an_unknown_course_creates_it(tmp_path):
    out, err = run_import(write_lines(tmp_path, [LINES[0], {**LINES[4], "course": "course-v1:New+X+1"}]))

    assert err == ""
    course = Course.objects.get(key="course-v1:New+X+1")
    assert course.title == "course-v1:New+X+1"
    assert ProblemResponse.objects.get().course == course


def test_response_of_a_non_member_is_refused_and_creates_no_course(tmp_path):
    out, err = run_import(
        write_lines(tmp_path, [{**LINES[4], "user": "nobody@example.com", "course": "course-v1:New+X+1"}])
    )

    assert err.strip().endswith(":1: user: no member of this workspace has this email")
    assert not Course.objects.filter(key="course-v1:New+X+1").exists()


def test_reimport_adds_nothing(tmp_path):
    path = write_lines(tmp_path, LINES)
    run_import(path)
    before = (
        list(ProblemResponse.objects.order_by("pk").values_list("pk", flat=True)),
        list(ProblemAnswerCount.objects.order_by("pk").values("answer", "count")),
    )

    out, err = run_import(path)

    assert summary_of(out) == {
        "user": [0, 0, 2, 0],
        "course": [0, 0, 1, 0],
        "program": [0, 0, 1, 0],
        "problem_response": [0, 0, 4, 0],
        "subsection_open": [0, 0, 3, 0],
    }
    after = (
        list(ProblemResponse.objects.order_by("pk").values_list("pk", flat=True)),
        list(ProblemAnswerCount.objects.order_by("pk").values("answer", "count")),
    )
    assert after == before


def test_given_id_is_kept_and_its_resend_is_unchanged(tmp_path):
    response_id = str(uuid.uuid4())
    path = write_lines(tmp_path, [LINES[0], {**LINES[4], "id": response_id}])
    run_import(path)

    out, _ = run_import(path)

    assert str(ProblemResponse.objects.get().pk) == response_id
    assert summary_of(out)["problem_response"] == [0, 0, 1, 0]


def test_id_of_another_workspace_is_refused(tmp_path):
    response_id = str(uuid.uuid4())
    run_import(write_lines(tmp_path, [LINES[0], {**LINES[4], "id": response_id}]), workspace="other")

    out, err = run_import(write_lines(tmp_path, [LINES[0], {**LINES[4], "id": response_id}], name="b.jsonl"))

    assert err.strip().endswith(":2: id: is already used by another record")
    assert ProblemResponse.objects.count() == 1


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({**LINES[4], "answer": 5}, "answer", "must be a string or a list of strings"),
        ({**LINES[4], "answer": ["a", 1]}, "answer", "must be a string or a list of strings"),
        ({**LINES[4], "correct": "yes"}, "correct", "must be true or false"),
        ({k: v for k, v in LINES[4].items() if k != "problem"}, "problem", "is required"),
        (
            {k: v for k, v in LINES[4].items() if k != "maxGrade"},
            "maxGrade",
            "grade and maxGrade go together: give both or neither",
        ),
        ({**LINES[4], "grade": 3}, "grade", "must not be more than maxGrade"),
        ({**LINES[4], "at": "yesterday"}, "at", "must be an ISO 8601 time such as 2026-03-01T09:30:00Z"),
        ({**LINES[4], "id": "nope"}, "id", "must be a UUID"),
        ({**LINES[8], "subsection": ""}, "subsection", "must not be blank"),
        ({**LINES[3], "courses": "course-v1:X"}, "courses", "must be a list"),
        ({k: v for k, v in LINES[3].items() if k != "title"}, "title", "is required"),
        ({**LINES[2], "pacing": "fast"}, "pacing", "must be one of self_paced, instructor_paced"),
        ({**LINES[2], "end": "2025-01-01T00:00:00Z"}, "end", "must not be before start"),
    ],
)
def test_bad_field_is_named_in_camel_case(tmp_path, record, field, reason):
    out, err = run_import(write_lines(tmp_path, [LINES[0], record]))

    assert err.strip().endswith(f":2: {field}: {reason}")
    assert "1 rejected" in out


def test_course_end_before_a_stored_start_is_refused(tmp_path):
    run_import(write_lines(tmp_path, [LINES[2]]))

    out, err = run_import(
        write_lines(
            tmp_path,
            [{"kind": "course", "key": COURSE, "title": "Demo", "end": "2025-01-01T00:00:00Z"}],
            name="b.jsonl",
        )
    )

    assert err.strip().endswith(":1: end: must not be before start")
    assert Course.objects.get().end == datetime(2026, 6, 30, tzinfo=timezone.utc)


def test_api_import_takes_the_new_kinds(workspace, api_key_client):
    for email in ("ada@example.com", "bob@example.com"):
        MembershipFactory(workspace=workspace, user=UserFactory(email=email, password="x"))
    body = "\n".join(json.dumps(record) for record in LINES[4:])

    response_ = api_key_client(workspace).post("/api/import", body, content_type="application/x-ndjson")

    assert response_.status_code == 200, response_.content
    assert response_.json()["summary"] == {
        "problem_response": {"created": 4, "updated": 0, "unchanged": 0, "rejected": 0},
        "subsection_open": {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0},
    }
    assert Course.objects.get(workspace=workspace).key == COURSE


def test_workspaces_do_not_share_responses(tmp_path):
    WorkspaceFactory(slug="other")
    run_import(write_lines(tmp_path, LINES), workspace="other")
    run_import(write_lines(tmp_path, LINES))

    assert ProblemResponse.objects.count() == 8
    assert {row.count for row in ProblemAnswerCount.objects.filter(answer="green")} == {2}
