"""Migrations that change what a rollup holds mark it for a rebuild instead of running service
code (which follows today's models, not the migration's): a RollupState row named
`rebuild:<rollup name>`. After `migrate` has applied every migration, `rebuild_marked` rebuilds
the marked rollups with the current code and schema and removes the marks.
"""

import logging

logger = logging.getLogger(__name__)

MARK_PREFIX = "rebuild:"


def rebuild_marked(sender=None, using="default", **kwargs):
    """post_migrate receiver: rebuild every rollup a migration marked (all workspaces)."""
    from analytics.models import RollupState

    from .registry import rollup

    marks = RollupState.objects.using(using).filter(name__startswith=MARK_PREFIX)
    for name in list(marks.values_list("name", flat=True)):
        logger.info("Rebuilding the %s rollups marked by a migration", name.removeprefix(MARK_PREFIX))
        rollup(name.removeprefix(MARK_PREFIX)).rebuild(None)
        RollupState.objects.using(using).filter(name=name).delete()
