"""Bulk look-ups of what records name: users by email, courses, chapters and videos by key.

Every function here is one query (two for ensure_courses when some are new), whatever the number
of names, and only ever sees rows of the given workspace.
"""

from dataclasses import dataclass

from accounts.models import User
from courses.models import Chapter, Course, Video


def user_ids_by_email(workspace, emails):
    """{lower-case email: user id} for the given emails of users who are members of workspace.

    Emails of users who do not exist, or who are not members of this workspace, are absent.
    """
    emails = {email.strip().lower() for email in emails if email}
    if not emails:
        return {}
    rows = User.objects.filter(email__in=emails, memberships__workspace=workspace).values_list("email", "id")
    return {email.lower(): user_id for email, user_id in rows}


def user_by_email(workspace, email):
    """The User with that email who is a member of workspace, or None."""
    return User.objects.filter(email=email.strip().lower(), memberships__workspace=workspace).first()


def course_ids_by_key(workspace, keys):
    """{course key: course id} for the keys that are courses of workspace (keys are exact)."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    # order_by(): a dict needs no order (the model's default orders by title).
    return dict(Course.objects.filter(workspace=workspace, key__in=keys).order_by().values_list("key", "id"))


def ensure_courses(workspace, keys):
    """{course key: course id} for every key, creating the missing courses with title = key.

    For ingestion paths that learn of courses from activity (xAPI, tracking logs). Safe against a
    concurrent creation of the same course (the insert ignores conflicts, then re-reads).
    """
    keys = {key for key in keys if key}
    found = course_ids_by_key(workspace, keys)
    missing = keys - found.keys()
    if missing:
        Course.objects.bulk_create(
            [Course(workspace=workspace, key=key, title=key[:300]) for key in sorted(missing)],
            ignore_conflicts=True,
        )
        found.update(course_ids_by_key(workspace, missing))
    return found


def chapter_ids_by_key(workspace, pairs):
    """{(course id, chapter key): chapter id} for the given (course id, chapter key) pairs."""
    pairs = {(course_id, key) for course_id, key in pairs if course_id and key}
    if not pairs:
        return {}
    rows = Chapter.objects.filter(
        course__workspace=workspace,
        course_id__in={course_id for course_id, _ in pairs},
        key__in={key for _, key in pairs},
    ).values_list("course_id", "key", "id")
    return {(course_id, key): chapter_id for course_id, key, chapter_id in rows if (course_id, key) in pairs}


@dataclass(frozen=True)
class VideoRef:
    id: int
    course_id: int
    duration_s: int
    segment_length_s: int

    @property
    def segment_count(self):
        """Segments of segment_length_s covering the duration (at least one), as Video.segment_count."""
        return max(1, -(-self.duration_s // self.segment_length_s))


def videos_by_key(workspace, keys):
    """{video key: VideoRef(id, course_id, duration_s, segment_length_s)} for videos of workspace."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    rows = Video.objects.filter(workspace=workspace, key__in=keys).values_list(
        "key", "id", "course_id", "duration_s", "segment_length_s"
    )
    return {
        key: VideoRef(video_id, course_id, duration, segment) for key, video_id, course_id, duration, segment in rows
    }


def videos_by_id(workspace, ids):
    """{video id: VideoRef} for the given ids that are videos of workspace."""
    ids = {video_id for video_id in ids if video_id}
    if not ids:
        return {}
    rows = Video.objects.filter(workspace=workspace, id__in=ids).values_list(
        "id", "course_id", "duration_s", "segment_length_s"
    )
    return {
        video_id: VideoRef(video_id, course_id, duration, segment) for video_id, course_id, duration, segment in rows
    }
