"""The same learner facts through the interchange import, an Open edX tracking log and xAPI give
the same problem and subsection rollups (answer counts, grade counts, subsection learners)."""

import json
import uuid

import pytest

from accounts.models import Role
from analytics.models import ProblemAnswerCount, ProblemGradeCount, SubsectionLearner
from analytics.services.records.pipeline import ingest_records
from analytics.services.tracking_logs import import_tracking_logs
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

COURSE = "course-v1:Acme+P101+2026"
BLOCK = "aa11"
PROBLEM = f"block-v1:Acme+P101+2026+type@problem+block@{BLOCK}"
SEQUENTIAL = "block-v1:Acme+P101+2026+type@sequential+block@s1"
COLOUR, INSTRUMENTS = f"{BLOCK}_2_1", f"{BLOCK}_3_1"
QUESTIONS = {COLOUR: "Ocean colour?", INSTRUMENTS: "Which are instruments?"}
CHOICES = {COLOUR: ["blue", "yellow"], INSTRUMENTS: ["a piano", "a tree", "a guitar"]}


def value_of(part, answer):
    """The value the LMS stores for an answer: the option itself for the dropdown, choice ids for
    the checkboxes."""
    if part == COLOUR:
        return answer
    return [f"choice_{CHOICES[part].index(text)}" for text in answer]


# (learner number, minute, {part: (answer, correct)}, grade, max grade)
CHECKS = [
    (1, 0, {COLOUR: ("yellow", False), INSTRUMENTS: (["a piano"], False)}, 0, 2),
    (1, 5, {COLOUR: ("blue", True), INSTRUMENTS: (["a piano", "a guitar"], True)}, 2, 2),  # learner 1's last
    (2, 1, {COLOUR: ("blue", True), INSTRUMENTS: (["a piano", "a tree"], False)}, 1, 2),
    (3, 2, {COLOUR: ("yellow", False), INSTRUMENTS: (["a piano", "a guitar"], True)}, 1, 2),
]
OPENS = [(1, 0), (1, 9), (2, 0), (3, 3)]  # (learner, minute): three learners opened the sequential


def at(minute):
    return f"2026-03-02T09:{minute:02d}:00+00:00"


def interchange_records():
    records = [{"kind": "user", "email": f"learner{n}@acme.test"} for n in (1, 2, 3)]
    for learner, minute, parts, grade, max_grade in CHECKS:
        for part, (answer, correct) in parts.items():
            records.append(
                {
                    "kind": "problem_response",
                    "user": f"learner{learner}@acme.test",
                    "course": COURSE,
                    "problem": PROBLEM,
                    "part": part,
                    "answer": answer,
                    "valueId": value_of(part, answer),
                    "correct": correct,
                    "grade": grade,
                    "maxGrade": max_grade,
                    "at": at(minute),
                    "question": QUESTIONS[part],
                    "problemName": "Colours",
                }
            )
    for learner, minute in OPENS:
        records.append(
            {
                "kind": "subsection_open",
                "user": f"learner{learner}@acme.test",
                "course": COURSE,
                "subsection": SEQUENTIAL,
                "at": at(minute),
            }
        )
    return list(enumerate(records, start=1))


def tracking_log_lines():
    lines = []
    for learner, minute, parts, grade, max_grade in CHECKS:
        submission = {
            part: {
                "answer": answer,
                "correct": correct,
                "question": QUESTIONS[part],
                "variant": "",
                "input_type": "optioninput" if part == COLOUR else "checkboxgroup",
            }
            for part, (answer, correct) in parts.items()
        }
        event = {
            "problem_id": PROBLEM,
            "grade": grade,
            "max_grade": max_grade,
            "attempts": 1,
            "submission": submission,
            "answers": {part: value_of(part, answer) for part, (answer, _) in parts.items()},
        }
        lines.append(
            json.dumps(
                {
                    "event_type": "problem_check",
                    "event_source": "server",
                    "time": at(minute),
                    "event": event,
                    "context": {
                        "course_id": COURSE,
                        "user_id": learner,
                        "module": {"display_name": "Colours", "usage_key": PROBLEM},
                    },
                }
            )
        )
    for learner, minute in OPENS:
        lines.append(
            json.dumps(
                {
                    "event_type": "seq_goto",
                    "event_source": "browser",
                    "time": at(minute),
                    "event": json.dumps({"old": 1, "new": 2, "id": SEQUENTIAL}),
                    "context": {"course_id": COURSE, "user_id": learner},
                }
            )
        )
    return lines


def xapi_statements():
    """As event-routing-backends sends a problem with several questions: the problem statement with
    the score, one statement per question referring to it; choice interactions list their choices."""
    statements = []

    def base(learner, minute, verb, obj, **extra):
        return {
            "id": str(uuid.uuid4()),
            "timestamp": at(minute),
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": "http://lms.acme.test", "name": f"learner-{learner}"},
            },
            "verb": {"id": verb},
            "object": obj,
            **extra,
        }

    course = {
        "id": f"http://lms.acme.test/course/{COURSE}",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    }
    interaction = "http://adlnet.gov/expapi/activities/cmi.interaction"
    evaluated = "https://w3id.org/xapi/acrossx/verbs/evaluated"
    for learner, minute, parts, grade, max_grade in CHECKS:
        group = base(
            learner,
            minute,
            evaluated,
            {
                "id": f"http://lms.acme.test/xblock/{PROBLEM}",
                "definition": {"type": interaction, "name": {"en-US": "Colours"}, "interactionType": "other"},
            },
            result={"score": {"raw": grade, "max": max_grade, "min": 0}, "success": grade == max_grade},
            context={"contextActivities": {"parent": [course]}},
        )
        statements.append(group)
        for part, (answer, correct) in parts.items():
            choices = [
                {"id": value if part == COLOUR else f"choice_{index}", "description": {"en-US": value}}
                for index, value in enumerate(CHOICES[part])
            ]
            statements.append(
                base(
                    learner,
                    minute,
                    evaluated,
                    {
                        "id": f"http://lms.acme.test/xblock/{PROBLEM}_{part.split('_', 1)[1]}",
                        "definition": {
                            "type": interaction,
                            "interactionType": "choice",
                            "choices": choices,
                            "description": {"en-US": QUESTIONS[part]},
                        },
                    },
                    result={"response": answer if isinstance(answer, str) else json.dumps(answer), "success": correct},
                    context={
                        "statement": {"objectType": "StatementRef", "id": group["id"]},
                        "contextActivities": {"parent": [{"id": group["object"]["id"]}], "grouping": [course]},
                    },
                )
            )
    for learner, minute in OPENS:
        statements.append(
            base(
                learner,
                minute,
                "https://w3id.org/xapi/dod-isd/verbs/navigated",
                {
                    "id": f"http://lms.acme.test/xblock/{SEQUENTIAL}",
                    "definition": {"type": "http://id.tincanapi.com/activitytype/resource"},
                },
                context={"contextActivities": {"parent": [course]}},
            )
        )
    return statements


def rollups(workspace):
    answers = sorted(
        ProblemAnswerCount.objects.filter(workspace=workspace).values_list(
            "problem_key", "part_id", "answer", "value_id", "correct", "variant", "count", "question", "problem_name"
        )
    )
    grades = sorted(
        ProblemGradeCount.objects.filter(workspace=workspace).values_list("problem_key", "grade", "max_grade", "count")
    )
    learners = SubsectionLearner.objects.filter(workspace=workspace, subsection_key=SEQUENTIAL).count()
    return answers, grades, learners


# Counted by hand from CHECKS: each learner's last check (learner 1 at minute 5).
EXPECTED_ANSWERS = sorted(
    [
        (PROBLEM, COLOUR, "blue", "blue", True, "", 2, QUESTIONS[COLOUR], "Colours"),  # learners 1, 2
        (PROBLEM, COLOUR, "yellow", "yellow", False, "", 1, QUESTIONS[COLOUR], "Colours"),  # learner 3
        (
            PROBLEM,
            INSTRUMENTS,
            "[a piano|a guitar]",
            "[choice_0|choice_2]",
            True,
            "",
            2,
            QUESTIONS[INSTRUMENTS],
            "Colours",
        ),
        (
            PROBLEM,
            INSTRUMENTS,
            "[a piano|a tree]",
            "[choice_0|choice_1]",
            False,
            "",
            1,
            QUESTIONS[INSTRUMENTS],
            "Colours",
        ),
    ]
)
EXPECTED_GRADES = [(PROBLEM, 1.0, 2.0, 2), (PROBLEM, 2.0, 2.0, 1)]


@pytest.fixture
def through_import():
    workspace = WorkspaceFactory(slug="via-import")
    report = ingest_records(workspace, interchange_records())
    assert report.errors == []
    return workspace


@pytest.fixture
def through_tracking_log(tmp_path):
    workspace = WorkspaceFactory(slug="via-log")
    path = tmp_path / "tracking.log"
    path.write_text("\n".join(tracking_log_lines()) + "\n")
    summary = import_tracking_logs(workspace, [path])
    assert (summary.problem_responses_created, summary.subsection_opens_created) == (8, 4)
    return workspace


@pytest.fixture
def through_xapi(api_key_client):
    workspace = WorkspaceFactory(slug="via-xapi")
    response = api_key_client(workspace, Role.ADMIN).post(
        "/xapi/statements", xapi_statements(), format="json", HTTP_X_EXPERIENCE_API_VERSION="1.0.3"
    )
    assert response.status_code == 200, response.content
    return workspace


def test_import_gives_the_hand_counted_rollups(through_import):
    assert rollups(through_import) == (EXPECTED_ANSWERS, EXPECTED_GRADES, 3)


def test_tracking_log_gives_the_same_rollups_as_the_import(through_import, through_tracking_log):
    assert rollups(through_tracking_log) == rollups(through_import)


def test_xapi_gives_the_same_rollups_as_the_import(through_import, through_xapi):
    assert rollups(through_xapi) == rollups(through_import)
