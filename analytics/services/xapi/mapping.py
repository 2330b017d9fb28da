"""Statements onto the learning record: enrollments, attempts, events and video views
(docs/api/xapi.md has the table)."""

import re
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from analytics.models import EventSource, XapiStatement
from analytics.services import video_sessions
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    VideoSpec,
    apply_attempt_outcomes,
    apply_enrollment_changes,
    ensure_titled_courses,
    ensure_videos,
    session_view_row,
)
from analytics.services.records import upsert_events, upsert_video_views
from analytics.services.xapi.identity import agent_key
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
