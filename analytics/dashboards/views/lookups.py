"""What the filter bars offer: the groups, custom attributes and courses to filter by (those the
viewer sees), and the period a period name means."""

from analytics.queries import analyse as analyse_queries
from analytics.queries.video_cloud import resolve_period
from analytics.queries.activity import earliest_activity

from ..cache import cached_section

LOOKUP_LIMIT = 500


def dashboard_period(period_name, workspace, now):
    """The Period `period_name` means at `now`; `all` starts on the workspace's first activity."""
    return resolve_period(period_name, now, earliest=lambda: earliest_activity(workspace))


def filter_lookups(viewer):
    """Groups, custom attributes and courses (those the viewer sees) to filter by (the Analyse
    lookup queries)."""
    workspace = viewer.workspace

    def compute():
        return {
            "groups": analyse_queries.analyse_groups(workspace, limit=LOOKUP_LIMIT).rows,
            "custom_fields": analyse_queries.analyse_custom_fields(workspace, limit=LOOKUP_LIMIT).rows,
            "contents": analyse_queries.analyse_contents(
                workspace, limit=LOOKUP_LIMIT, course_ids=viewer.course_ids
            ).rows,
        }

    return cached_section(workspace, "lookups", (viewer.scope_key,), compute).value
