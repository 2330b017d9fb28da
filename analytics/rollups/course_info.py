"""The course information rollups' adapter: the one place the registry calls them.

The activity and video audiences that page sessions, learning events and video views add are
counted in the writing transaction, by difference; what only a rebuild follows (enrollments,
attempts, deletes, a row moved out of a course or week, profiles and roles) marks its courses
stale per course once it commits (analytics.services.course_info_rollups).
"""


def note_write(workspace_id, course_ids, users=(), activity=(), audience=()):
    """A write of source rows (inside its transaction): the activity and video audiences it
    added are counted now, by difference (record_tracked_rows); the
    courses (course_ids, and the courses of `users`, whose demographics or role changed) become
    stale at commit and a refresh is queued."""
    from analytics.services.course_info_rollups import mark_courses_changed, mark_users_changed, record_tracked_rows

    record_tracked_rows(workspace_id, activity, audience)
    mark_courses_changed(course_ids)
    mark_users_changed(workspace_id, users)


def rebuild(workspace_id=None, since=None):
    """Recompute the rollups of the workspace's courses (None: every course), of every week;
    since (the workspace's history horizon, raw activity pruned before it): only the previous
    and the current week, the older weeks are kept (the shortest retention leaves their raw rows)."""
    from analytics.services.course_info_rollups import rebuild_course_info

    return rebuild_course_info(workspace_id, every_week=since is None)


def is_stale(workspace_id=None):
    """True while readers use the raw rows for some course of the workspace (None: any course)."""
    from analytics.services.course_info_rollups import has_stale_courses

    return has_stale_courses(workspace_id)
