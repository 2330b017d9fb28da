"""What the LMS-activity ingesters (xAPI statements, Open edX tracking logs) add on top of the
interchange upserts of analytics.services.records.

Those paths learn of learners, courses and videos from the activity itself, so they create what
is missing (placeholder learners, courses titled by their key, videos) without rewriting what an
import already stored; and they receive state changes as a stream of facts (enrollment activated,
deactivated, mode changed; course passed, failed), which are folded here onto the stored rows and
then written with the records upserts. Every function is a bounded number of queries whatever the
number of items, and only touches rows of the given workspace.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from analytics.services import video_sessions
from analytics.services.records import catalog
from analytics.services.records.lookups import VideoRef, ensure_courses, user_ids_by_email, videos_by_key
from courses.models import Attempt, AttemptState, Course, Enrollment, EnrollmentMode

# Namespace of the ids derived here (video-view sessions, events of a tracking-log line), so that
# re-importing the same activity finds the same rows.
DERIVED_ID_NAMESPACE = uuid.UUID("3b0d0f4e-5a55-4f6e-9d3e-4c7a2b1e9a10")
ENROLLMENT_MODES = frozenset(EnrollmentMode.values)


def derived_id(*parts):
    """A UUID that is a pure function of parts (uuid5), for idempotent re-imports."""
    return uuid.uuid5(DERIVED_ID_NAMESPACE, "|".join(str(part) for part in parts))


def session_view_row(workspace_id, user_id, video, video_key, session, events):
    """The VideoView row (for records.upsert_video_views) of one viewing session of video: its
    player events summarized (analytics.services.video_sessions), its id derived from the session."""
    summary = video_sessions.summarize_session(events, video.duration_s, video.segment_length_s)
    return {
        "id": derived_id("video-view", workspace_id, user_id, video_key, session),
        "user_id": user_id,
        "video_id": video.id,
        "started_at": summary.started_at,
        "watched_s": summary.watched_s,
        "position_s": summary.position_s,
        "segments": summary.segments,
        "is_completed": summary.is_completed,
    }


def ensure_learners(workspace, people):
    """{email: user id} for every email of people ({lower-case email: display name}).

    Members are found by email; anyone else becomes a learner of the workspace (a new user
    without a usable password, first name = the display name, when the email is unknown)
    through records.catalog.upsert_users. Two queries when everyone is known.
    """
    found = user_ids_by_email(workspace, people)
    missing = sorted(set(people) - found.keys())
    if missing:
        catalog.upsert_users(
            workspace, [{"email": email, "first_name": (people[email] or "")[:150]} for email in missing]
        )
        found.update(user_ids_by_email(workspace, missing))
    return found


def ensure_titled_courses(workspace, titles):
    """{course key: course id} for every key of titles ({key: title or ""}), creating the missing.

    A course created from activity takes the title the activity gives (else its key); a course
    whose title differs from its key (named by an import or an admin) keeps it.
    """
    found = ensure_courses(workspace, titles)
    renamed = {key: title for key, title in titles.items() if title and title != key}
    if renamed:
        untitled = Course.objects.filter(workspace=workspace, key__in=renamed.keys(), title=F("key"))
        for course_id, key in untitled.values_list("id", "key"):
            Course.objects.filter(pk=course_id).update(title=renamed[key][:300])
    return found


@dataclass(frozen=True)
class VideoSpec:
    course_id: int
    title: str = ""
    duration_s: int = 0


def ensure_videos(workspace, specs):
    """{video key: VideoRef} for every key of specs ({key: VideoSpec}), creating the missing.

    A stored video keeps its course and title; its duration is filled in when it was unknown (0)
    and the activity reports one. Writes go through records.catalog.upsert_videos.
    """
    found = videos_by_key(workspace, specs)
    rows = []
    for key, spec in specs.items():
        ref = found.get(key)
        duration = max(0, int(spec.duration_s or 0))
        if ref is None:
            rows.append(
                {"key": key, "course_id": spec.course_id, "title": (spec.title or "")[:300], "duration_s": duration}
            )
        elif ref.duration_s == 0 and duration:
            rows.append({"key": key, "course_id": ref.course_id, "duration_s": duration})
    if rows:
        catalog.upsert_videos(workspace, rows)
        found.update(videos_by_key(workspace, {row["key"] for row in rows}))
    return found


@dataclass(frozen=True)
class EnrollmentChange:
    """One enrollment fact: action is "enroll", "unenroll" or "mode"; mode may be empty."""

    user_id: int
    course_id: int
    at: datetime
    action: str
    mode: str = ""


def apply_enrollment_changes(workspace, changes):
    """Fold enrollment facts, oldest first, onto the stored enrollments; returns the UpsertResult.

    enroll: creates the enrollment (enrolled_at = that time), moves enrolled_at earlier when an
    older activation arrives late, and re-opens an enrollment unenrolled at or before that time.
    unenroll: sets unenrolled_at (an unenrollment with no enrollment creates one that starts and
    ends then). mode: sets the mode. Modes that are not Enrollment modes are ignored. Replaying the
    same facts changes nothing.
    """
    if not changes:
        return catalog.UpsertResult()
    pairs = {(change.user_id, change.course_id) for change in changes}
    state = {
        (row.user_id, row.course_id): {
            "enrolled_at": row.enrolled_at,
            "unenrolled_at": row.unenrolled_at,
            "mode": row.mode,
        }
        for row in Enrollment.objects.filter(
            workspace=workspace,
            user_id__in={user_id for user_id, _ in pairs},
            course_id__in={course_id for _, course_id in pairs},
        ).only("user_id", "course_id", "enrolled_at", "unenrolled_at", "mode")
        if (row.user_id, row.course_id) in pairs
    }
    for change in sorted(changes, key=lambda change: change.at):
        key = (change.user_id, change.course_id)
        row = state.get(key)
        if row is None:
            row = state[key] = {"enrolled_at": change.at, "unenrolled_at": None, "mode": EnrollmentMode.AUDIT}
            if change.action == "unenroll":
                row["unenrolled_at"] = change.at
        elif change.action == "unenroll":
            if change.at >= row["enrolled_at"] and (row["unenrolled_at"] is None or change.at > row["unenrolled_at"]):
                row["unenrolled_at"] = change.at
        else:
            if change.at < row["enrolled_at"] and (row["unenrolled_at"] is None or change.at <= row["unenrolled_at"]):
                row["enrolled_at"] = change.at
            if change.action == "enroll" and row["unenrolled_at"] is not None and change.at >= row["unenrolled_at"]:
                row["unenrolled_at"] = None
        if change.mode in ENROLLMENT_MODES:
            row["mode"] = change.mode
    rows = [{"user_id": user_id, "course_id": course_id, **row} for (user_id, course_id), row in state.items()]
    return catalog.upsert_enrollments(workspace, rows)


@dataclass(frozen=True)
class AttemptOutcome:
    """A course outcome: state APPROVED / FAILED, or "" for completed without a verdict."""

    user_id: int
    course_id: int
    at: datetime
    state: str = ""
    score: int | None = None


def apply_attempt_outcomes(workspace, outcomes):
    """Fold course outcomes onto each learner's Attempt (version 0); returns the UpsertResult.

    Every outcome widens the first / last activity span. The latest outcome (by time, also against
    the stored last_activity_at) sets the state (completed without a verdict: APPROVED unless a
    verdict is already stored), the score when it has one, progress 100 and completed_at. An older
    outcome arriving late only widens the span.
    """
    if not outcomes:
        return catalog.UpsertResult()
    pairs = {(outcome.user_id, outcome.course_id) for outcome in outcomes}
    fields = ("state", "score", "progress", "completed_at", "first_activity_at", "last_activity_at")
    state = {
        (row.user_id, row.course_id): {name: getattr(row, name) for name in fields}
        for row in Attempt.objects.filter(
            workspace=workspace,
            version_number=0,
            user_id__in={user_id for user_id, _ in pairs},
            course_id__in={course_id for _, course_id in pairs},
        ).only("user_id", "course_id", *fields)
        if (row.user_id, row.course_id) in pairs
    }
    for outcome in sorted(outcomes, key=lambda outcome: outcome.at):
        row = state.setdefault(
            (outcome.user_id, outcome.course_id),
            {
                "state": AttemptState.IN_PROGRESS,
                "score": None,
                "progress": 0,
                "completed_at": None,
                "first_activity_at": None,
                "last_activity_at": None,
            },
        )
        is_latest = row["last_activity_at"] is None or outcome.at >= row["last_activity_at"]
        row["first_activity_at"] = min(filter(None, [row["first_activity_at"], outcome.at]))
        row["last_activity_at"] = max(filter(None, [row["last_activity_at"], outcome.at]))
        if not is_latest:
            continue
        if outcome.state:
            row["state"] = outcome.state
        elif row["state"] not in (AttemptState.APPROVED, AttemptState.FAILED):
            row["state"] = AttemptState.APPROVED
        if outcome.score is not None:
            row["score"] = max(0, min(100, outcome.score))
        row["progress"] = 100
        row["completed_at"] = outcome.at
    rows = [{"user_id": user_id, "course_id": course_id, **row} for (user_id, course_id), row in state.items()]
    return catalog.upsert_attempts(workspace, rows)


__all__ = [
    "AttemptOutcome",
    "EnrollmentChange",
    "VideoRef",
    "VideoSpec",
    "apply_attempt_outcomes",
    "apply_enrollment_changes",
    "derived_id",
    "ensure_learners",
    "ensure_titled_courses",
    "ensure_videos",
]
