"""Problem statements onto problem responses and subsection opens: reading an interaction's
answers (parts, choices, listed responses), writing them through problem_rollups, and removing
those of voided statements."""

import ast
import json
import re

from analytics.models import EventSource, ProblemResponse, SubsectionOpen, XapiStatement
from analytics.rollups.changes import rows_changed
from analytics.services.learning_state import derived_id
from analytics.services.problem_rollups import list_answer, record_problem_responses, record_subsection_opens
from analytics.services.xapi.identity import statement_pk
from analytics.services.xapi.mapping.reading import _language_text, _number, is_activity, object_key, verb_name

EXT_ATTEMPT = "http://id.tincanapi.com/extension/attempt-id"
# Activities a problem response is about (event-routing-backends sends cmi.interaction).
INTERACTION_TYPES = frozenset(
    {"http://adlnet.gov/expapi/activities/cmi.interaction", "http://adlnet.gov/expapi/activities/question"}
)
LINK_TYPE = "http://adlnet.gov/expapi/activities/link"
# `...block@<id>_<response>_<input>`: one part (input) of a problem, as event-routing-backends
# names the parts of a problem with several questions.
PART_KEY = re.compile(r"^(?P<problem>.*block@(?P<block>[^+/@]+?))_(?P<part>\d+_\d+)$")


def response_id(statement_row_pk, part):
    """The id of the response a statement (its stored pk) gives for one part."""
    return derived_id("xapi-response", statement_row_pk, part)


def open_id(statement_row_pk):
    return derived_id("xapi-open", statement_row_pk)


def problem_and_part(iri):
    """(problem usage key, part id) of an interaction activity IRI.

    `.../block-v1:...+block@ab12_3_1` (a part of a problem with several questions) gives
    (`block-v1:...+block@ab12`, `ab12_3_1`); a problem named whole (`...block@ab12`) is its only
    part, which Open edX calls `ab12_2_1` (the first input of the first response); another IRI is
    its own problem and part."""
    key = object_key(iri)
    match = PART_KEY.match(key)
    if match:
        return match["problem"], f"{match['block']}_{match['part']}"
    if "block@" in key:
        return key, f"{key.rsplit('block@', 1)[-1]}_2_1"
    return key, key


def _parsed(text, kind):
    """The list or dict (kind) a response text spells as JSON or as Python's repr, or None."""
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return None
    return value if isinstance(value, kind) else None


def statement_answers(statement):
    """[(problem, part, answer, value id)] a problem statement answers: one part (the object's, see
    problem_and_part), or, when result.response spells a dict of part id to answer (as
    event-routing-backends sends a problem with several inputs it could not split), each of those
    parts; [] for a statement that answers nothing."""
    obj = statement["object"]
    definition = obj.get("definition") if isinstance(obj.get("definition"), dict) else {}
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    response = result.get("response")
    if definition.get("type") not in INTERACTION_TYPES or not isinstance(response, str):
        return []
    if verb_name(statement["verb"]["id"]) not in ("answered", "evaluated") or not obj.get("id"):
        return []
    problem, part = problem_and_part(obj["id"])
    by_part = _parsed(response, dict) if response.startswith("{") else None
    if by_part:
        answers = []
        for part_id, value in by_part.items():
            text = list_answer(value) if isinstance(value, list) else str(value)
            answers.append((problem, str(part_id), text, ""))
        return answers
    return [(problem, part, *response_answer(response, definition))]


def _listed(text):
    """The list a response text spells (`["a", "b"]` as event-routing-backends sends checkboxes, or
    Python's `['a', 'b']`), or None."""
    if not (text.startswith("[") and text.endswith("]")):
        return None
    value = _parsed(text, list)
    return value if value is not None and all(isinstance(item, str) for item in value) else None


def response_answer(response, definition):
    """(answer text, value id) of a result.response. A listed response becomes `[a|b]`. For a
    `choice` interaction whose definition lists its choices, ids (`choice_0[,]choice_2`, the xAPI
    spelling) are read back to their descriptions and the ids become the value id; descriptions
    sent as text are matched to their ids the same way."""
    listed = _listed(response)
    choices = definition.get("choices") if definition.get("interactionType") == "choice" else None
    by_id = {}
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("id"), str):
                by_id[choice["id"]] = _language_text(choice.get("description"))
    by_text = {text: choice_id for choice_id, text in by_id.items() if text}
    if by_id and listed is None:
        ids = response.split("[,]")
        if all(choice_id in by_id for choice_id in ids):
            texts = [by_id[choice_id] or choice_id for choice_id in ids]
            if len(ids) > 1:
                return list_answer(texts), list_answer(ids)[:255]
            return texts[0], ids[0][:255]
    if listed is not None:
        ids = [by_text.get(text) for text in listed]
        return list_answer(listed), (list_answer(ids)[:255] if by_text and all(ids) else "")
    return response, by_text.get(response, "")[:255]


def _score(result):
    score = result.get("score") if isinstance(result.get("score"), dict) else {}
    raw, maximum = _number(score.get("raw")), _number(score.get("max"))
    if raw is None or maximum is None:
        return None, None
    return raw, maximum


def _attempt(definition):
    extensions = definition.get("extensions") if isinstance(definition.get("extensions"), dict) else {}
    value = extensions.get(EXT_ATTEMPT)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else None


def _group_statements(workspace, mapped):
    """{statement id (lower-case): statement} of the problem statements that parts refer to by
    context.statement: those of the batch, else stored ones (one query)."""
    wanted = set()
    for item, _ in mapped:
        ref = (item.statement.get("context") or {}).get("statement")
        if isinstance(ref, dict) and isinstance(ref.get("id"), str):
            wanted.add(ref["id"].lower())
    if not wanted:
        return {}
    found = {str(item.statement.get("id", "")).lower(): item.statement for item, _ in mapped}
    found = {statement_id: statement for statement_id, statement in found.items() if statement_id in wanted}
    missing = wanted - found.keys()
    if missing:
        stored = XapiStatement.objects.filter(
            workspace=workspace,
            pk__in=[statement_pk(workspace.id, statement_id) for statement_id in missing],
            is_voided=False,
        ).values_list("statement", flat=True)
        for statement in stored:
            found[str(statement.get("id", "")).lower()] = statement
    return found


def record_problem_facts(workspace, mapped, course_ids):
    """ProblemResponse and SubsectionOpen rows of newly stored statements, written through
    problem_rollups (which keeps the rollups).

    answered / evaluated on a cmi.interaction (or question) activity with a string
    result.response: one response of the part the object names (problem_and_part); answer and
    value id from the response (response_answer), correct = result.success, grade / max grade =
    result.score raw / max, else those of the problem statement its context.statement refers to
    (event-routing-backends sends a problem with several questions as that statement, with the
    score, and one statement per question); question = the object's description; problem name =
    the object's name, else the problem statement's; attempt = the attempt-id extension.
    navigated to an activity naming a sequential (not a link): a subsection open.
    Ids derive from the statement, so a re-sent statement adds nothing.
    """
    groups = None
    responses, opens = [], []
    for item, row in mapped:
        statement = item.statement
        course_id = course_ids.get(item.extras.get("course_key"))
        obj = statement["object"]
        if not course_id or not is_activity(obj) or not isinstance(obj.get("id"), str) or not obj["id"]:
            continue
        verb = verb_name(row.verb_id)
        definition = obj.get("definition") if isinstance(obj.get("definition"), dict) else {}
        if verb == "navigated":
            key = object_key(obj["id"])
            if definition.get("type") != LINK_TYPE and "type@sequential" in key:
                opens.append(
                    SubsectionOpen(
                        id=open_id(row.pk),
                        workspace_id=workspace.pk,
                        user_id=row.user_id,
                        course_id=course_id,
                        subsection_key=key[:500],
                        opened_at=row.timestamp,
                        source=EventSource.XAPI,
                    )
                )
            continue
        answers = statement_answers(statement)
        if not answers:
            continue
        result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
        grade, max_grade = _score(result)
        problem_name = _language_text(definition.get("name"))
        attempt = _attempt(definition)
        ref = (statement.get("context") or {}).get("statement")
        if isinstance(ref, dict) and isinstance(ref.get("id"), str):
            if groups is None:
                groups = _group_statements(workspace, mapped)
            group = groups.get(ref["id"].lower())
            if group is not None:
                group_result = group.get("result") if isinstance(group.get("result"), dict) else {}
                group_definition = (group.get("object") or {}).get("definition") or {}
                if grade is None:
                    grade, max_grade = _score(group_result)
                problem_name = problem_name or _language_text(group_definition.get("name"))
                attempt = attempt if attempt is not None else _attempt(group_definition)
        success = result.get("success")
        for problem, part, answer, value_id in answers:
            responses.append(
                ProblemResponse(
                    id=response_id(row.pk, part),
                    workspace_id=workspace.pk,
                    user_id=row.user_id,
                    course_id=course_id,
                    problem_key=problem[:500],
                    part_id=part[:255],
                    answer=answer,
                    value_id=value_id,
                    correct=success if isinstance(success, bool) else None,
                    grade=grade,
                    max_grade=max_grade,
                    attempt=attempt,
                    submitted_at=row.timestamp,
                    question=_language_text(definition.get("description")),
                    problem_name=problem_name[:300],
                    source=EventSource.XAPI,
                )
            )
    if responses:
        record_problem_responses(workspace.pk, responses)
    if opens:
        record_subsection_opens(workspace.pk, opens)


def remove_voided_problem_facts(workspace, victims):
    """Delete the problem responses and subsection opens derived from voided statements
    ([(stored pk, statement)]) and tell the rollups when any were deleted (the problem rollups
    recompute the workspace's). Raw deletes: this stands for the per-row delete signals."""
    response_ids = [
        response_id(pk, part) for pk, statement in victims for _, part, _, _ in statement_answers(statement)
    ]
    open_ids = [open_id(pk) for pk, _ in victims]
    deleted = 0
    for model, ids in ((ProblemResponse, response_ids), (SubsectionOpen, open_ids)):
        if ids:
            rows = model.objects.filter(workspace=workspace, id__in=ids)
            deleted += rows._raw_delete(rows.db)
    if deleted:
        rows_changed(workspace.pk, ProblemResponse)
