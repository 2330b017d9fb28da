"""Statements onto the learning record: enrollments, attempts, events, video views, problem
responses and subsection opens (docs/api/xapi.md has the table)."""

import ast
import json
import re
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from analytics.models import EventSource, ProblemResponse, SubsectionOpen, XapiStatement
from analytics.services import video_sessions
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    VideoSpec,
    apply_attempt_outcomes,
    apply_enrollment_changes,
    derived_id,
    ensure_titled_courses,
    ensure_videos,
    session_view_row,
)
from analytics.rollups.changes import rows_changed
from analytics.services.problem_rollups import list_answer, record_problem_responses, record_subsection_opens
from analytics.services.records import upsert_events, upsert_video_views
from analytics.services.xapi.identity import agent_key, statement_pk
from analytics.services.xapi.validation import VOIDED, parse_timestamp
from courses.models import AttemptState

SESSION_WINDOW = timedelta(days=1)
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_VERBS_PREFIX = "https://w3id.org/xapi/video/verbs/"
EXT_SESSION = "https://w3id.org/xapi/openedx/extensions/session-id"
EXT_VIDEO_LENGTH = "https://w3id.org/xapi/video/extensions/length"
EXT_VIDEO_TIME = "https://w3id.org/xapi/video/extensions/time"
EXT_VIDEO_TIME_FROM = "https://w3id.org/xapi/video/extensions/time-from"
EXT_VIDEO_TIME_TO = "https://w3id.org/xapi/video/extensions/time-to"
EXT_VIDEO_PLAYED_SEGMENTS = "https://w3id.org/xapi/video/extensions/played-segments"
EXT_VIDEO_SESSION = "https://w3id.org/xapi/video/extensions/session-id"
EXT_ENROLLMENT_MODE = "https://w3id.org/xapi/acrossx/extensions/type"
EXT_ATTEMPT = "http://id.tincanapi.com/extension/attempt-id"
# Activities a problem response is about (event-routing-backends sends cmi.interaction).
INTERACTION_TYPES = frozenset(
    {"http://adlnet.gov/expapi/activities/cmi.interaction", "http://adlnet.gov/expapi/activities/question"}
)
LINK_TYPE = "http://adlnet.gov/expapi/activities/link"
# `...block@<id>_<response>_<input>`: one part (input) of a problem, as event-routing-backends
# names the parts of a problem with several questions.
PART_KEY = re.compile(r"^(?P<problem>.*block@(?P<block>[^+/@]+?))_(?P<part>\d+_\d+)$")

# Verbs are matched by the last segment of their IRI, so that the ADL, Tin Can, ActivityStreams
# and acrossx spellings of the same verb all map. `voided` alone is matched exactly (the spec's).
EVENT_TYPE_BY_VERB = {
    "answered": "attempted_problem",
    "evaluated": "attempted_problem",
    "commented": "posted_forum",
    "posted": "posted_forum",
    "experienced": "viewed",
    "viewed": "viewed",
    "navigated": "viewed",
}
PLAYER_KIND_BY_VERB = {
    "played": video_sessions.PLAY,
    "paused": video_sessions.PAUSE,
    "seeked": video_sessions.SEEK,
    "completed": video_sessions.COMPLETE,
    "terminated": video_sessions.STOP,
}
COURSE_STATE_BY_VERB = {"passed": AttemptState.APPROVED, "failed": AttemptState.FAILED, "completed": ""}
ENROLLMENT_ACTION_BY_VERB = {"registered": "enroll", "unregistered": "unenroll"}


def iri_last_segment(iri):
    """The last path segment of an IRI, URL-decoded (`+` stays a plus), with its query if any.

    A value that is not a hierarchical URL (Open edX sometimes sends a bare usage key such as
    `block-v1:Org+X+1+type@problem+block@ab12`) is returned whole.
    """
    if "://" not in iri:
        return unquote(iri.strip())
    parts = urlsplit(iri)
    path = parts.path.rstrip("/")
    segment = unquote(path.rsplit("/", 1)[-1]) if path else parts.netloc
    return f"{segment}?{parts.query}" if parts.query else segment


def object_key(iri):
    """What a LearningEvent's `object` holds for an activity IRI: the Open edX usage key in it when
    there is one (`.../xblock/block-v1:...@ab12/hint/1` -> `block-v1:...@ab12`, as tracking logs
    name blocks), else the IRI's last path segment."""
    if "://" in iri:
        for segment in urlsplit(iri).path.split("/"):
            segment = unquote(segment)
            if segment.startswith(("block-v1:", "ccx-block-v1:", "i4x:")):
                return segment
    return iri_last_segment(iri)


def video_key_from_iri(iri):
    """The video key of a video activity: for an Open edX block usage key, the block id after
    `block@` (what tracking logs call the video id); otherwise the IRI's last path segment."""
    segment = iri_last_segment(iri)
    return segment.rsplit("block@", 1)[-1] if "block@" in segment else segment


def verb_name(verb_id):
    """The last segment of a verb IRI (`http://adlnet.gov/expapi/verbs/answered` -> answered)."""
    return re.split(r"[/#]", verb_id.rstrip("/#"))[-1].lower() or verb_id.lower()


def _language_text(language_map):
    if not isinstance(language_map, dict) or not language_map:
        return ""
    for tag in ("en-US", "en", "en-GB"):
        if isinstance(language_map.get(tag), str):
            return language_map[tag]
    return next((text for text in language_map.values() if isinstance(text, str)), "")


def _activity_type(activity):
    definition = activity.get("definition") if isinstance(activity, dict) else None
    return definition.get("type", "") if isinstance(definition, dict) else ""


def is_activity(obj):
    return isinstance(obj, dict) and obj.get("objectType", "Activity") not in ("Agent", "Group", "StatementRef", "SubStatement")


def course_activity(statement):
    """The statement's course activity: its object, else the first context parent / grouping / other
    activity of type http://adlnet.gov/expapi/activities/course; None when there is none."""
    obj = statement["object"]
    if is_activity(obj) and _activity_type(obj) == COURSE_TYPE:
        return obj
    activities = (statement.get("context") or {}).get("contextActivities") or {}
    for key in ("parent", "grouping", "other", "category"):
        value = activities.get(key) or []
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and _activity_type(activity) == COURSE_TYPE:
                return activity
    return None


def learner_email(agent):
    """(email, display name) of the learner an Agent names, or (None, "") when it names none.

    mbox: its address. account: the account name when it is an email address, else the
    placeholder `<name>@<homePage host>` (Open edX sends an anonymous id and its LMS URL, so the
    learner becomes `32e08e30-...@lms.example.com`). mbox_sha1sum, openid and Groups name no
    learner: their statements are stored but not mapped.
    """
    if agent.get("objectType") == "Group":
        return None, ""
    name = agent.get("name") if isinstance(agent.get("name"), str) else ""
    if "mbox" in agent:
        return agent["mbox"][len("mailto:"):].strip().lower()[:254], name
    account = agent.get("account")
    if isinstance(account, dict):
        account_name = account["name"].strip()
        if re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", account_name):
            return account_name.lower()[:254], name
        host = (urlsplit(account["homePage"]).hostname or "lms.invalid").lower()
        local = re.sub(r"[^A-Za-z0-9._+\-]", "-", account_name).strip(".")[:64] or "learner"
        return f"{local.lower()}@{host}"[:254], name or account_name[:150]
    return None, ""


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _score_percent(result):
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    scaled = _number(score.get("scaled"))
    if scaled is None:
        raw, maximum = _number(score.get("raw")), _number(score.get("max"))
        minimum = _number(score.get("min")) or 0.0
        if raw is None or maximum is None or maximum <= minimum:
            return None
        scaled = (raw - minimum) / (maximum - minimum)
    return round(max(0.0, min(1.0, scaled)) * 100)


def map_statements(workspace, items):
    """Derive learning-record rows from newly stored statements ([(_Incoming, XapiStatement)]).

    - registered / unregistered -> Enrollment (mode from the activity's acrossx `type` extension)
    - completed / passed / failed on a course -> the learner's Attempt state
    - played / paused / seeked / completed / terminated on a video -> the session's VideoView,
      recomputed from all of its statements; played also records a `played_video` event
    - answered / evaluated -> `attempted_problem`; commented / posted -> `posted_forum`;
      experienced / viewed / navigated -> `viewed`; any other verb -> an event named by the verb
    - answered / evaluated on a cmi.interaction (or question) activity with a result.response ->
      also a ProblemResponse; navigated to a sequential -> also a SubsectionOpen
      (record_problem_facts)
    Statements whose actor names no learner (Groups, mbox_sha1sum, openid) are only stored.
    """
    mapped = [(item, row) for item, row in items if row.user_id and row.verb_id != VOIDED]
    if not mapped:
        return
    course_titles = {}
    for item, _ in mapped:
        activity = course_activity(item.statement)
        if activity is not None and isinstance(activity.get("id"), str):
            key = iri_last_segment(activity["id"])[:255]
            if key:
                item.extras["course_key"] = key
                course_titles.setdefault(key, _language_text((activity.get("definition") or {}).get("name")))
    course_ids = ensure_titled_courses(workspace, course_titles) if course_titles else {}

    events, enrollments, outcomes, video_items = [], [], [], []
    for item, row in mapped:
        statement = item.statement
        verb = verb_name(row.verb_id)
        course_id = course_ids.get(item.extras.get("course_key"))
        obj = statement["object"]
        result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
        is_video = (
            is_activity(obj)
            and bool(obj.get("id"))
            and (_activity_type(obj) == VIDEO_TYPE or row.verb_id.startswith(VIDEO_VERBS_PREFIX))
        )
        is_course_object = is_activity(obj) and _activity_type(obj) == COURSE_TYPE
        event_type = EVENT_TYPE_BY_VERB.get(verb, verb[:100])
        if verb in ENROLLMENT_ACTION_BY_VERB and course_id:
            extensions = (obj.get("definition") or {}).get("extensions") if is_course_object else None
            mode = extensions.get(EXT_ENROLLMENT_MODE, "") if isinstance(extensions, dict) else ""
            enrollments.append(EnrollmentChange(row.user_id, course_id, row.timestamp, ENROLLMENT_ACTION_BY_VERB[verb], str(mode)))
            continue
        if verb in COURSE_STATE_BY_VERB and is_course_object and course_id:
            state = COURSE_STATE_BY_VERB[verb]
            if verb == "completed" and result.get("success") is False:
                state = AttemptState.FAILED
            outcomes.append(AttemptOutcome(row.user_id, course_id, row.timestamp, state, _score_percent(result)))
            continue
        if is_video and verb in PLAYER_KIND_BY_VERB and course_id:
            video_items.append((statement, row.user_id))
            if verb != "played":
                continue
            event_type = "played_video"
        elif is_video and verb == "played":
            event_type = "played_video"
        events.append(
            {
                "id": row.pk,
                "user_id": row.user_id,
                "course_id": course_id,
                "type": event_type,
                "object": _event_object(obj, event_type)[:500],
                "occurred_at": row.timestamp,
                "data": _event_data(statement, result),
            }
        )
    upsert_events(workspace, events, source=EventSource.XAPI)
    record_problem_facts(workspace, mapped, course_ids)
    apply_enrollment_changes(workspace, enrollments)
    apply_attempt_outcomes(workspace, outcomes)
    recompute_video_sessions(workspace, video_items, course_ids=course_ids)


def is_video_player_statement(statement):
    obj = statement["object"]
    return (
        is_activity(obj)
        and bool(obj.get("id"))
        and (_activity_type(obj) == VIDEO_TYPE or statement["verb"]["id"].startswith(VIDEO_VERBS_PREFIX))
        and verb_name(statement["verb"]["id"]) in PLAYER_KIND_BY_VERB
    )


def _event_object(obj, event_type):
    if not is_activity(obj) or not obj.get("id"):
        return ""
    # played_video names the video by its key, as tracking logs do; other events the activity.
    return video_key_from_iri(obj["id"]) if event_type == "played_video" else object_key(obj["id"])


def _event_data(statement, result):
    data = {"statementId": statement["id"], "verb": statement["verb"]["id"]}
    if "success" in result:
        data["success"] = result["success"]
    score = _score_percent(result)
    if score is not None:
        data["score"] = score
    return data


def _session_of(statement):
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    session = extensions.get(EXT_SESSION) or extensions.get(EXT_VIDEO_SESSION) or context.get("registration")
    if session:
        return str(session)
    # No session reported: one view per learner, video and UTC day.
    return "day:" + parse_timestamp(statement["timestamp"], "timestamp").date().isoformat()


def player_event(statement):
    """The video_sessions.PlayerEvent a video statement reports, or None."""
    kind = PLAYER_KIND_BY_VERB.get(verb_name(statement["verb"]["id"]))
    if kind is None:
        return None
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    extensions = result.get("extensions") if isinstance(result.get("extensions"), dict) else {}
    if kind == video_sessions.SEEK:
        position = video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME_FROM))
    else:
        position = video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME))
    return video_sessions.PlayerEvent(
        at=parse_timestamp(statement["timestamp"], "timestamp"),
        kind=kind,
        position=position,
        seek_to=video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME_TO)),
        played_segments=video_sessions.parse_played_segments(extensions.get(EXT_VIDEO_PLAYED_SEGMENTS)),
        completed=result.get("completion") is True,
    )


def _video_length(statement):
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    length = video_sessions.clean_position(extensions.get(EXT_VIDEO_LENGTH))
    return round(length) if length else 0


def recompute_video_sessions(workspace, video_items, course_ids=None):
    """Recompute the VideoView of every (learner, video, session) that video_items touch, from all
    of that session's live (not voided) statements, and store it."""
    if not video_items:
        return
    touched, actor_keys, specs, times = set(), set(), {}, []
    course_ids = course_ids or {}
    for statement, user_id in video_items:
        activity = course_activity(statement)
        course_key = iri_last_segment(activity["id"])[:255] if activity and activity.get("id") else ""
        if course_key and course_key not in course_ids:
            course_ids.update(ensure_titled_courses(workspace, {course_key: ""}))
        course_id = course_ids.get(course_key)
        if not course_id:
            continue
        key = video_key_from_iri(statement["object"]["id"])[:255]
        name = _language_text((statement["object"].get("definition") or {}).get("name"))
        spec = specs.get(key)
        specs[key] = VideoSpec(course_id, (spec.title if spec else "") or name, max(_video_length(statement), spec.duration_s if spec else 0))
        touched.add((user_id, key, _session_of(statement)))
        actor_keys.add(agent_key(statement["actor"])[:500])
        times.append(parse_timestamp(statement["timestamp"], "timestamp"))
    if not touched:
        return
    videos = ensure_videos(workspace, specs)
    # A viewing session lasts less than a day: its statements are the learner's within a day of
    # the ones at hand (the same video may be named by several IRIs, e.g. a CCX copy of a course).
    nearby = XapiStatement.objects.filter(
        workspace=workspace,
        actor_key__in=actor_keys,
        timestamp__gte=min(times) - SESSION_WINDOW,
        timestamp__lte=max(times) + SESSION_WINDOW,
        is_voided=False,
    ).exclude(activity_id="")
    # Only the statements of the touched videos are read whole (decoding every statement of the
    # learners' day cost more than the rest of the write).
    video_keys = {key for _, key, _ in touched}
    activity_ids = [
        activity_id
        for activity_id in nearby.values_list("activity_id", flat=True).distinct()
        if video_key_from_iri(activity_id)[:255] in video_keys
    ]
    statements = nearby.filter(activity_id__in=activity_ids).values_list("statement", "user_id")
    sessions = {}
    for statement, user_id in statements:
        key = (user_id, video_key_from_iri(statement["object"]["id"])[:255], _session_of(statement))
        if key in touched:
            event = player_event(statement)
            if event is not None:
                sessions.setdefault(key, []).append(event)
    views = []
    for (user_id, video_key, session), events in sessions.items():
        video = videos.get(video_key)
        if video is None:
            continue
        views.append(session_view_row(workspace.id, user_id, video, video_key, session, events))
    # Views only grow (records.upsert_video_views keeps the larger numbers): a session whose
    # statements are voided keeps what it had reached (documented).
    upsert_video_views(workspace, views, source=EventSource.XAPI, videos={video.id: video for video in videos.values()})


# ---------------------------------------------------------------------------------------------
# Problem responses and subsection opens


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
            workspace=workspace, pk__in=[statement_pk(workspace.id, statement_id) for statement_id in missing], is_voided=False
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
                opens.append(SubsectionOpen(
                    id=open_id(row.pk), workspace_id=workspace.pk, user_id=row.user_id, course_id=course_id,
                    subsection_key=key[:500], opened_at=row.timestamp, source=EventSource.XAPI,
                ))  # fmt: skip
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
            responses.append(ProblemResponse(
                id=response_id(row.pk, part), workspace_id=workspace.pk, user_id=row.user_id, course_id=course_id,
                problem_key=problem[:500], part_id=part[:255], answer=answer, value_id=value_id,
                correct=success if isinstance(success, bool) else None, grade=grade, max_grade=max_grade,
                attempt=attempt, submitted_at=row.timestamp, question=_language_text(definition.get("description")),
                problem_name=problem_name[:300], source=EventSource.XAPI,
            ))  # fmt: skip
    if responses:
        record_problem_responses(workspace.pk, responses)
    if opens:
        record_subsection_opens(workspace.pk, opens)


def remove_voided_problem_facts(workspace, victims):
    """Delete the problem responses and subsection opens derived from voided statements
    ([(stored pk, statement)]) and tell the rollups when any were deleted (the problem rollups
    recompute the workspace's). Raw deletes: this stands for the per-row delete signals."""
    response_ids = [response_id(pk, part) for pk, statement in victims for _, part, _, _ in statement_answers(statement)]
    open_ids = [open_id(pk) for pk, _ in victims]
    deleted = 0
    for model, ids in ((ProblemResponse, response_ids), (SubsectionOpen, open_ids)):
        if ids:
            rows = model.objects.filter(workspace=workspace, id__in=ids)
            deleted += rows._raw_delete(rows.db)
    if deleted:
        rows_changed(workspace.pk, ProblemResponse)
