"""problem_rollups.forget_learner: after a learner's raw problem rows are deleted, the rollups
equal a rebuild, including the question text the learner's answer was the latest to carry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import ProblemAnswerCount, ProblemGradeCount, ProblemResponse, SubsectionOpen
from analytics.rollups.check import check_rollups
from analytics.services.problem_rollups import forget_learner, record_problem_responses, record_subsection_opens
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

PROBLEM = "block-v1:Org+C+1+type@problem+block@p1"
OTHER_PROBLEM = "block-v1:Org+C+1+type@problem+block@p2"


def _answer(workspace, user, course, problem, answer, grade, when, question):
    return ProblemResponse(
        workspace=workspace,
        user=user,
        course=course,
        problem_key=problem,
        part_id="p_2_1",
        answer=answer,
        correct=grade == 1.0,
        grade=grade,
        max_grade=1.0,
        submitted_at=when,
        question=question,
    )


def test_forgetting_a_learner_recomputes_only_their_problems_and_equals_a_rebuild(workspace, make_member):
    course = CourseFactory(workspace=workspace)
    kept, erased = make_member(workspace), make_member(workspace)
    now = timezone.now()
    record_problem_responses(
        workspace.pk,
        [
            _answer(workspace, kept, course, PROBLEM, "A", 1.0, now - timedelta(days=2), "Old text?"),
            _answer(workspace, erased, course, PROBLEM, "B", 0.0, now - timedelta(days=1), "New text?"),
            _answer(workspace, kept, course, OTHER_PROBLEM, "C", 1.0, now, "Other?"),
        ],
    )
    record_subsection_opens(
        workspace.pk,
        [SubsectionOpen(workspace=workspace, user=erased, course=course, subsection_key="s", opened_at=now)],
    )
    assert ProblemAnswerCount.objects.get(problem_key=PROBLEM, answer="A").question == "New text?"
    ProblemResponse._base_manager.filter(user=erased)._raw_delete("default")
    SubsectionOpen._base_manager.filter(user=erased)._raw_delete("default")

    assert forget_learner(workspace.pk, erased.pk)[0] == 1  # the other problem is not recomputed
    rows = ProblemAnswerCount.objects.filter(problem_key=PROBLEM).values_list("answer", "count", "question")
    assert list(rows) == [("A", 1, "Old text?")]
    assert list(ProblemGradeCount.objects.filter(problem_key=PROBLEM).values_list("grade", "count")) == [(1.0, 1)]
    result = check_rollups(workspace.pk, ["problems"])
    assert result.ok, result
