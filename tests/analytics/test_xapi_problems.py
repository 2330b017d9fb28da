"""xAPI statements onto problem responses and subsection opens: every Open edX fixture that
carries a problem or navigation statement, counted by hand, and voiding."""

import json
import uuid
from pathlib import Path

import pytest

from accounts.models import Role
from analytics.models import ProblemAnswerCount, ProblemGradeCount, ProblemResponse, SubsectionLearner, SubsectionOpen
from tests.analytics.openedx_problem_facts import CHECKBOX_QUESTION, FRENCH, FURNITURE, INSTRUMENTS, MCQ, OCEAN

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openedx" / "xapi-openedx"
URL = "/xapi/statements"
VERSION = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
MCQ_NAME = "Multiple Choice Questions"
CHECKBOX_PART = "3fc5461f86764ad7bdbdf6cbdde61e66_2_1"


def load(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def post(client, body):
    response = client.post(URL, body, format="json", **VERSION)
    assert response.status_code == 200, response.content
    return response


def response_rows():
    fields = ("part_id", "answer", "value_id", "correct", "grade", "max_grade", "attempt", "question", "problem_name")
    return sorted(ProblemResponse.objects.values_list(*fields))


# Read off each file by hand: (part, answer, value id, correct = success, grade = score raw, max =
# score max, attempt-id, question = description, problem name). A problem named whole is its part
# `<block>_2_1`; the parts of a problem with several questions take the score and name of the
# statement their context.statement refers to.
PROBLEM_FIXTURES = {
    "problem_check(server).json": [
        (CHECKBOX_PART, "[a correct answer|an incorrect answer]", "", False, 0.0, 1.0, 10, CHECKBOX_QUESTION, ""),
    ],
    "problem_check(server).max_grade_0.json": [
        (CHECKBOX_PART, "[a correct answer|an incorrect answer]", "", False, 0.0, 0.0, 10, CHECKBOX_QUESTION, ""),
    ],
    # The response spells {part: [value ids]}: split per part, the values as the answer.
    "problem_check(server)_no_response_type.json": [
        (CHECKBOX_PART, "[choice_0|choice_2]", "", False, 0.0, 1.0, 10, "", "Checkboxes"),
    ],
    "problem_check(server,string_anwers).json": [
        (CHECKBOX_PART, "A correct answer", "", False, 0.0, 1.0, 10, CHECKBOX_QUESTION, ""),
    ],
    "problem_check(server,unsupported_responsetype).json": [
        (CHECKBOX_PART, "A correct answer", "", False, 0.0, 1.0, 10, CHECKBOX_QUESTION, ""),
    ],
    "problem_check(server,multiple_questions,correct).json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "", True, 3.0, 3.0, None, OCEAN, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_3_1", "a chair", "", True, 3.0, 3.0, None, FURNITURE, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_4_1", "[a piano|a guitar]", "", True, 3.0, 3.0, None, INSTRUMENTS, MCQ_NAME),
    ],
    "problem_check(server,multiple_questions,incorrect).json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "yellow", "", False, 0.0, 3.0, None, OCEAN, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_3_1", "a bookshelf", "", False, 0.0, 3.0, None, FURNITURE, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_4_1", "[a window]", "", False, 0.0, 3.0, None, INSTRUMENTS, MCQ_NAME),
    ],
    "problem_check(server,multiple_questions,partial_correct).json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "", True, 2.0, 3.0, None, OCEAN, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_3_1", "a bookshelf", "", False, 2.0, 3.0, None, FURNITURE, MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_4_1", "[a piano|a guitar]", "", True, 2.0, 3.0, None, INSTRUMENTS, MCQ_NAME),
    ],
    "problem_check(server).list_answers.json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "", True, 2.0, 4.0, None, "", MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_3_1", "a chair", "", True, 2.0, 4.0, None, "", MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_4_1", "[a piano|a tree|a guitar]", "", False, 2.0, 4.0, None, "", MCQ_NAME),
        ("a0effb954cca4759994f1ac9e9434bf4_5_1", FRENCH, "", False, 2.0, 4.0, None, "", MCQ_NAME),
    ],
}


@pytest.mark.parametrize("name", sorted(PROBLEM_FIXTURES))
def test_problem_fixture_becomes_the_hand_counted_responses(xapi, name):
    post(xapi, load(name))

    assert response_rows() == PROBLEM_FIXTURES[name]
    assert set(ProblemResponse.objects.values_list("source", "course__key", "user__email")) == {
        ("xapi", "course-v1:edX+DemoX+Demo_Course", "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb@localhost")
    }


@pytest.mark.parametrize(
    "name",
    [
        "problem_check(browser).json",
        "problem_check(browser).ccx.json",
        "problem_check(browser).required.only.data.json",
        "problem_check(browser)legacy.json",
        "edx.grades.problem.submitted.json",
        "edx.problem.completed(proposed).json",
        "showanswer.json",
    ],
)
def test_problem_statement_without_a_response_makes_none(xapi, name):
    post(xapi, load(name))

    assert ProblemResponse.objects.count() == 0


def test_every_problem_fixture_is_in_one_of_the_tables():
    names = {path.name for path in FIXTURES.glob("problem_check*.json")}
    assert names - set(PROBLEM_FIXTURES) == {
        "problem_check(browser).json",
        "problem_check(browser).ccx.json",
        "problem_check(browser).required.only.data.json",
        "problem_check(browser)legacy.json",
    }


def test_checks_of_a_multi_question_problem_count_the_last_answer_per_part(xapi):
    for name in (
        "problem_check(server,multiple_questions,incorrect).json",
        "problem_check(server,multiple_questions,partial_correct).json",
        "problem_check(server,multiple_questions,correct).json",
    ):
        post(xapi, load(name))

    # One learner; the last check (06:32:31) was all correct, 3/3.
    counts = {
        (row.part_id[-3:], row.answer, row.correct): row.count
        for row in ProblemAnswerCount.objects.filter(problem_key=MCQ)
    }
    assert counts == {("2_1", "blue", True): 1, ("3_1", "a chair", True): 1, ("4_1", "[a piano|a guitar]", True): 1}
    assert list(ProblemGradeCount.objects.values_list("grade", "max_grade", "count")) == [(3.0, 3.0, 1)]


SEQUENCE = "block-v1:edX+DemoX+Demo_Course+type@sequential+block@19a30717eff543078a5d94ae9d6c18a5"
NAVIGATION_FIXTURES = {
    "edx.ui.lms.sequence.next_selected.json": SEQUENCE,
    "edx.ui.lms.sequence.previous_selected.json": SEQUENCE,
    "edx.ui.lms.sequence.tab_selected.json": SEQUENCE,
    "edx.ui.lms.outline.selected.json": "block-v1:edX+DemoX+Demo_Course+type@sequential+block@48ecb924d7fe4b66a230137626bfa93e",
}


@pytest.mark.parametrize("name", sorted(NAVIGATION_FIXTURES))
def test_navigation_fixture_opens_its_sequential(xapi, name):
    post(xapi, load(name))

    assert list(SubsectionOpen.objects.values_list("subsection_key", "source")) == [(NAVIGATION_FIXTURES[name], "xapi")]
    assert SubsectionLearner.objects.get().subsection_key == NAVIGATION_FIXTURES[name]


@pytest.mark.parametrize("name", ["edx.ui.lms.link_clicked.json", "edx.ui.lms.link_clicked(anonymous_user).json"])
def test_a_link_clicked_to_a_sequential_is_not_an_open(xapi, name):
    post(xapi, load(name))

    assert SubsectionOpen.objects.count() == 0


def test_resent_statements_add_nothing(xapi):
    body = load("problem_check(server).list_answers.json")
    post(xapi, body)
    post(xapi, body)

    assert ProblemResponse.objects.count() == 4


def void(client, statement_id):
    post(
        client,
        {
            "id": str(uuid.uuid4()),
            "actor": {"objectType": "Agent", "mbox": "mailto:admin@acme.test"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": statement_id},
        },
    )


def test_voiding_a_part_statement_removes_its_response_and_its_count(xapi):
    post(xapi, load("problem_check(server,multiple_questions,partial_correct).json"))

    void(xapi, "f3e25970-2c71-57a6-9ba9-8ba714e68f76")  # part 2_1: "blue"

    assert [row[0][-3:] for row in response_rows()] == ["3_1", "4_1"]
    assert not ProblemAnswerCount.objects.filter(answer="blue").exists()
    assert ProblemAnswerCount.objects.count() == 2
    assert list(ProblemGradeCount.objects.values_list("grade", "max_grade", "count")) == [(2.0, 3.0, 1)]


def test_voiding_the_later_check_brings_back_the_earlier_answer(xapi):
    post(xapi, load("problem_check(server,multiple_questions,incorrect).json"))
    post(xapi, load("problem_check(server,multiple_questions,partial_correct).json"))

    void(xapi, "f3e25970-2c71-57a6-9ba9-8ba714e68f76")  # the later "blue" of part 2_1

    counts = {
        (row.part_id[-3:], row.answer): row.count for row in ProblemAnswerCount.objects.filter(part_id__endswith="2_1")
    }
    assert counts == {("2_1", "yellow"): 1}


def test_voiding_a_navigation_removes_the_open(xapi):
    post(xapi, load("edx.ui.lms.outline.selected.json"))

    void(xapi, "d30c30af-2eeb-5ae3-a765-4e2ca9bb3283")

    assert (SubsectionOpen.objects.count(), SubsectionLearner.objects.count()) == (0, 0)
