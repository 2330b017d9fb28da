"""The one entry point of writers: after writing raw rows of a source model (inside the
transaction), call `rows_changed`, which refreshes or marks every rollup computed from that model
(registry.rollups_reading), in the registry's order.

`batched()` gathers the calls of a block and refreshes each rollup once as the block ends, with
the union of what changed: a write that touches a model several times (xAPI: statements,
voiding, video sessions; a queryset delete sending one signal per row) then refreshes in one
round, each rollup taking its locks once.
"""

import threading
from contextlib import contextmanager

from .registry import Changes, rollups_reading


class _Pending(threading.local):
    """{workspace id: {model: Changes}} gathered by the `batched` block of this thread, or None."""

    changes = None


_pending = _Pending()


def rows_changed(
    workspace_id,
    model,
    *,
    pairs=(),
    may_empty=True,
    result_pairs=(),
    course_ids=(),
    users=(),
    activity=(),
    audience=(),
    groups=(),
    only=None,
):
    """Raw rows of `model` (a source model class) were written in the workspace: refresh the
    rollups that read them, in the caller's transaction (see Changes for the arguments).

    only: names of the rollups to tell (the others are kept another way by this caller, e.g.
    course information's own save receivers).
    """
    changes = Changes(
        frozenset(pairs),
        may_empty,
        frozenset(result_pairs),
        frozenset(course_id for course_id in course_ids if course_id is not None),
        frozenset(user_id for user_id in users if user_id is not None),
        frozenset(activity),
        frozenset(audience),
        frozenset(groups),
    )
    key = (model, tuple(only) if only is not None else None)
    if _pending.changes is not None:
        gathered = _pending.changes.setdefault(workspace_id, {})
        gathered[key] = gathered[key].merge(changes) if key in gathered else changes
        return
    _dispatch(workspace_id, {key: changes})


def _dispatch(workspace_id, by_model):
    merged = {}  # rollup -> Changes, in registry order
    for (model, only), changes in by_model.items():
        for entry in rollups_reading(model):
            if only is None or entry.name in only:
                merged[entry] = merged[entry].merge(changes) if entry in merged else changes
    from .registry import ROLLUPS

    for entry in ROLLUPS:
        if entry in merged:
            entry.refresh(workspace_id, merged[entry])


@contextmanager
def batched():
    """Inside the block rows_changed only gathers; each rollup is refreshed once per workspace
    as the block ends without an error (nested blocks: the outer one refreshes)."""
    from analytics.services.learner_activity import refreshed_together

    if _pending.changes is not None:
        yield
        return
    _pending.changes = {}
    try:
        # refreshed_together: direct refresh_learner_days calls of the block join the same round.
        with refreshed_together():
            yield
            pending, _pending.changes = _pending.changes, None
            for workspace_id, by_model in sorted(pending.items()):
                _dispatch(workspace_id, by_model)
    finally:
        _pending.changes = None


# What rows_changed needs to know of a row of each source model: {label: its time column}
# (the learner-day models), the other columns read when present.
TIME_FIELDS = {
    "analytics.PageSession": "started_at",
    "analytics.VideoView": "started_at",
    "analytics.LearningEvent": "occurred_at",
    "analytics.VideoReaction": "at",
}
ROW_FIELDS = ("workspace_id", "user_id", "course_id")


def row_fields(model):
    """The columns of `model` that changes_of_rows reads (attnames)."""
    names = {field.attname for field in model._meta.concrete_fields}
    fields = [name for name in ROW_FIELDS if name in names]
    time_field = TIME_FIELDS.get(model._meta.label)
    return [*fields, time_field] if time_field else fields


def rows_changed_for(model, rows, *, may_empty=True):
    """rows_changed for the rows (dicts of row_fields(model)) as they were or are now, one call
    per workspace."""
    time_field = TIME_FIELDS.get(model._meta.label)
    by_workspace = {}
    for row in rows:
        by_workspace.setdefault(row["workspace_id"], []).append(row)
    for workspace_id, group in sorted(by_workspace.items()):
        user_ids = [row.get("user_id") for row in group]
        course_ids = [row.get("course_id") for row in group]
        pairs = [(row["user_id"], row[time_field]) for row in group if time_field and row[time_field] is not None]
        result_pairs = [
            (user_id, course_id)
            for user_id, course_id in zip(user_ids, course_ids)
            if user_id is not None and course_id is not None
        ]
        rows_changed(
            workspace_id, model, pairs=pairs, may_empty=may_empty, result_pairs=result_pairs, course_ids=course_ids
        )
