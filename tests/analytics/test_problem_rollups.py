"""The problem rollups (last answer per learner and part, answer and grade counts, subsection
learners) kept by record_problem_responses / record_subsection_opens, checked against counts
made by hand and against a rebuild from the raw rows."""

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from analytics.models import (
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemPartLatest,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
)
from analytics.services.problem_rollups import (
    list_answer,
    rebuild_problem_rollups,
    record_problem_responses,
    record_subsection_opens,
)
from tests.factories import CourseFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PROBLEM = "block-v1:edX+DemoX+Demo_Course+type@problem+block@p1"
PART_A, PART_B = "p1_2_1", "p1_3_1"


def response(workspace, user, course, minutes, part=PART_A, answer="A", correct=True, grade=1.0, **extra):
    return ProblemResponse(
        id=uuid.uuid4(),
        workspace=workspace,
        user=user,
        course=course,
        problem_key=extra.pop("problem", PROBLEM),
        part_id=part,
        answer=answer,
        value_id=extra.pop("value_id", ""),
        correct=correct,
        grade=grade,
        max_grade=2.0,
        submitted_at=T0 + timedelta(minutes=minutes),
        **extra,
    )


def answer_counts(workspace):
    return {
        (row.part_id, row.answer, row.correct): row.count
        for row in ProblemAnswerCount.objects.filter(workspace=workspace)
    }


def grade_counts(workspace):
    return {(row.grade, row.max_grade): row.count for row in ProblemGradeCount.objects.filter(workspace=workspace)}


@pytest.fixture
def scene():
    workspace = WorkspaceFactory()
    course = CourseFactory(workspace=workspace, key="course-v1:edX+DemoX+Demo_Course")
    users = [UserFactory(password="x") for _ in range(3)]
    return workspace, course, users


def test_counts_follow_each_learners_last_answer(scene):
    workspace, course, (ada, bob, cy) = scene
    record_problem_responses(
        workspace.id,
        [
            response(workspace, ada, course, 0, answer="B", correct=False, grade=0.0),
            response(workspace, ada, course, 5, answer="A", correct=True, grade=2.0),  # Ada's last: A
            response(workspace, bob, course, 1, answer="B", correct=False, grade=0.0),
            response(workspace, bob, course, 1, part=PART_B, answer=list_answer(["x", "y"]), correct=True, grade=0.0),
        ],
    )
    # A later batch: Bob changes his answer, Cy answers; an older submission of Ada's changes nothing.
    record_problem_responses(
        workspace.id,
        [
            response(workspace, bob, course, 9, answer="A", correct=True, grade=1.0),
            response(workspace, cy, course, 3, answer="B", correct=False, grade=0.0),
            response(workspace, ada, course, 2, answer="C", correct=False, grade=0.0),
        ],
    )

    # Last answers of part A: Ada A, Bob A, Cy B; part B: Bob [x|y].
    expected = {(PART_A, "A", True): 2, (PART_A, "B", False): 1, (PART_B, "[x|y]", True): 1}
    assert answer_counts(workspace) == expected
    # Last grades of the problem: Ada 2.0 (t5), Bob 1.0 (t9), Cy 0.0.
    assert grade_counts(workspace) == {(2.0, 2.0): 1, (1.0, 2.0): 1, (0.0, 2.0): 1}
    assert ProblemPartLatest.objects.filter(workspace=workspace).count() == 4

    rebuild_problem_rollups(workspace.id)
    assert answer_counts(workspace) == expected
    assert grade_counts(workspace) == {(2.0, 2.0): 1, (1.0, 2.0): 1, (0.0, 2.0): 1}


def test_a_resent_response_adds_nothing(scene):
    workspace, course, (ada, _, _) = scene
    first = response(workspace, ada, course, 0)
    assert record_problem_responses(workspace.id, [first]).created == 1
    again = response(workspace, ada, course, 0, answer="Z")
    again.id = first.id
    result = record_problem_responses(workspace.id, [again, again])
    assert (result.created, result.duplicates) == (0, 2)
    assert ProblemResponse.objects.count() == 1
    assert answer_counts(workspace) == {(PART_A, "A", True): 1}


def test_incremental_equals_rebuild_on_random_batches(scene):
    workspace, course, users = scene
    rng = random.Random(7)
    answers = ["A", "B", "C"]
    responses = [
        response(
            workspace,
            rng.choice(users),
            course,
            rng.randrange(60),
            part=rng.choice([PART_A, PART_B]),
            answer=(answer := rng.choice(answers)),
            correct=answer == "A",
            grade=float(rng.randrange(3)),
            question=rng.choice(["", "What is A?"]),
        )
        for _ in range(120)
    ]
    for start in range(0, len(responses), 17):
        record_problem_responses(workspace.id, responses[start : start + 17])

    # The hand count: each (user, part)'s latest response; of two at the same instant, the one
    # of the later batch, then the greater id.
    last = {}
    for index, row in enumerate(responses):
        key = (row.user_id, row.part_id)
        rank = (row.submitted_at, index // 17, row.id)
        if key not in last or rank > last[key][0]:
            last[key] = (rank, row)
    expected = Counter((row.part_id, row.answer, row.correct) for _, row in last.values())
    incremental = answer_counts(workspace)
    assert incremental == dict(expected)
    rebuild_problem_rollups(workspace.id)
    assert answer_counts(workspace) == incremental


def test_deleting_a_user_recounts(scene, django_capture_on_commit_callbacks):
    workspace, course, (ada, bob, _) = scene
    record_problem_responses(
        workspace.id,
        [
            response(workspace, ada, course, 0, answer="A"),
            response(workspace, bob, course, 0, answer="A"),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        bob.delete()
    assert answer_counts(workspace) == {(PART_A, "A", True): 1}
    assert grade_counts(workspace) == {(1.0, 2.0): 1}


def test_subsection_learners_count_once(scene):
    workspace, course, (ada, bob, _) = scene
    section = "block-v1:edX+DemoX+Demo_Course+type@sequential+block@s1"

    def opened(user, minutes):
        return SubsectionOpen(
            id=uuid.uuid4(),
            workspace=workspace,
            user=user,
            course=course,
            subsection_key=section,
            opened_at=T0 + timedelta(minutes=minutes),
        )

    record_subsection_opens(workspace.id, [opened(ada, 5), opened(ada, 1), opened(bob, 2)])
    record_subsection_opens(workspace.id, [opened(ada, 9)])
    assert SubsectionOpen.objects.count() == 4
    learners = SubsectionLearner.objects.filter(workspace=workspace, subsection_key=section)
    assert sorted(learners.values_list("user_id", flat=True)) == sorted([ada.id, bob.id])
    assert learners.get(user=ada).first_opened_at == T0 + timedelta(minutes=1)


def test_rebuild_keeps_the_latest_non_blank_texts_of_each_part(scene):
    workspace, course, (ada, bob, _) = scene
    record_problem_responses(
        workspace.id,
        [
            response(workspace, ada, course, 0, question="Old question?", problem_name="Old name"),
            response(workspace, bob, course, 5, question="New question?", problem_name=""),
            response(workspace, bob, course, 9, part=PART_B, answer="B", question="", problem_name="Part B name"),
        ],
    )
    rebuild_problem_rollups(workspace.id)
    texts = {
        (row.part_id, row.answer): (row.question, row.problem_name)
        for row in ProblemAnswerCount.objects.filter(workspace=workspace)
    }
    # Part A: the latest question (t5) and the latest non-blank name (t0); part B: no question.
    assert texts == {(PART_A, "A"): ("New question?", "Old name"), (PART_B, "B"): ("", "Part B name")}
