"""Newly stored statements onto the learning record (map_statements): learning events,
enrollments and attempts here; video views (video) and problem responses and subsection opens
(problems) through their modules."""

from analytics.models import EventSource
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    apply_attempt_outcomes,
    apply_enrollment_changes,
    ensure_titled_courses,
)
from analytics.services.records import upsert_events
from analytics.services.xapi.mapping.problems import record_problem_facts
from analytics.services.xapi.mapping.reading import (
    COURSE_TYPE,
    _activity_type,
    _language_text,
    _number,
    course_activity,
    iri_last_segment,
    is_activity,
    object_key,
    verb_name,
    video_key_from_iri,
)
from analytics.services.xapi.mapping.video import (
    PLAYER_KIND_BY_VERB,
    VIDEO_TYPE,
    VIDEO_VERBS_PREFIX,
    recompute_video_sessions,
)
from analytics.services.xapi.validation import VOIDED
from courses.models import AttemptState

EXT_ENROLLMENT_MODE = "https://w3id.org/xapi/acrossx/extensions/type"

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
COURSE_STATE_BY_VERB = {"passed": AttemptState.APPROVED, "failed": AttemptState.FAILED, "completed": ""}
ENROLLMENT_ACTION_BY_VERB = {"registered": "enroll", "unregistered": "unenroll"}


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
            enrollments.append(
                EnrollmentChange(row.user_id, course_id, row.timestamp, ENROLLMENT_ACTION_BY_VERB[verb], str(mode))
            )
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
