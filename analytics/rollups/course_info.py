"""The course information rollups' adapter: the one place the registry calls them.

Today course_info_rollups keeps one global staleness flag and rebuilds every course at once, so
the workspace and the courses are not used yet; when it tracks staleness per course, only these
three functions change.
"""

from django.utils import timezone


def note_write(workspace_id, course_ids):
    """A write of source rows (inside its transaction): the rollups become stale at commit and a
    refresh is queued."""
    from analytics.services.course_info_rollups import note_course_info_write

    note_course_info_write()


def rebuild(workspace_id=None):
    """Recompute every course's rollups, of every week (global whatever the workspace)."""
    from analytics.services.course_info_rollups import rebuild_course_activity_history, refresh_course_info_rollups

    result = refresh_course_info_rollups(timezone.now())
    result["activity_weeks"] = rebuild_course_activity_history()
    return result


def is_stale(workspace_id=None):
    """True while readers use the raw rows instead of these rollups."""
    from analytics.queries.course_info import rollups_are_fresh

    return not rollups_are_fresh()
