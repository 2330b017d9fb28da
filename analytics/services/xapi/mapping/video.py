"""Video player statements onto VideoViews: the player event each statement reports, the session
it belongs to, the video's length, and the recomputation of a viewing session from all of its
live statements (through analytics.services.video_sessions)."""

from datetime import timedelta

from analytics.models import EventSource, XapiStatement
from analytics.services import video_sessions
from analytics.services.learning_state import VideoSpec, ensure_titled_courses, ensure_videos, session_view_row
from analytics.services.records import upsert_video_views
from analytics.services.xapi.identity import agent_key
from analytics.services.xapi.mapping.reading import (
    _activity_type,
    _language_text,
    course_activity,
    iri_last_segment,
    is_activity,
    verb_name,
    video_key_from_iri,
)
from analytics.services.xapi.validation import parse_timestamp

SESSION_WINDOW = timedelta(days=1)
VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_VERBS_PREFIX = "https://w3id.org/xapi/video/verbs/"
EXT_SESSION = "https://w3id.org/xapi/openedx/extensions/session-id"
EXT_VIDEO_LENGTH = "https://w3id.org/xapi/video/extensions/length"
EXT_VIDEO_TIME = "https://w3id.org/xapi/video/extensions/time"
EXT_VIDEO_TIME_FROM = "https://w3id.org/xapi/video/extensions/time-from"
EXT_VIDEO_TIME_TO = "https://w3id.org/xapi/video/extensions/time-to"
EXT_VIDEO_PLAYED_SEGMENTS = "https://w3id.org/xapi/video/extensions/played-segments"
EXT_VIDEO_SESSION = "https://w3id.org/xapi/video/extensions/session-id"
PLAYER_KIND_BY_VERB = {
    "played": video_sessions.PLAY,
    "paused": video_sessions.PAUSE,
    "seeked": video_sessions.SEEK,
    "completed": video_sessions.COMPLETE,
    "terminated": video_sessions.STOP,
}


def is_video_player_statement(statement):
    obj = statement["object"]
    return (
        is_activity(obj)
        and bool(obj.get("id"))
        and (_activity_type(obj) == VIDEO_TYPE or statement["verb"]["id"].startswith(VIDEO_VERBS_PREFIX))
        and verb_name(statement["verb"]["id"]) in PLAYER_KIND_BY_VERB
    )


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
        specs[key] = VideoSpec(
            course_id,
            (spec.title if spec else "") or name,
            max(_video_length(statement), spec.duration_s if spec else 0),
        )
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
