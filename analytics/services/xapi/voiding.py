"""Voiding: a voiding statement marks its target voided and removes what the target had derived
(its learning event, problem responses and subsection opens) and recomputes its video session,
keeping the rollups of what it deletes (analytics.rollups.changes.rows_changed)."""

from analytics.models import LearningEvent, XapiStatement
from analytics.rollups.changes import rows_changed
from analytics.services.xapi.identity import statement_pk
from analytics.services.xapi.mapping import (
    is_video_player_statement,
    recompute_video_sessions,
    remove_voided_problem_facts,
)
from analytics.services.xapi.validation import VOIDED


def apply_voiding(workspace, new):
    """Mark the targets of voiding statements voided; returns the pks voided among `new`.

    A voiding statement may arrive before its target (the target is then voided as it arrives); a
    voiding statement is never itself voided. The events derived from a voided statement are
    deleted and its video session recomputed; enrollments and attempts are left as they are.
    """
    targets = {
        statement_pk(workspace.id, item.statement["object"]["id"]): item
        for item in new
        if item.statement["verb"]["id"] == VOIDED
    }
    new_pks = {item.pk for item in new}
    # Statements of this batch that earlier voiding statements already name.
    earlier = XapiStatement.objects.filter(
        workspace=workspace, verb_id=VOIDED, statement__object__id__in=[item.statement_id for item in new]
    ).exclude(pk__in=new_pks)
    for statement in earlier.values_list("statement", flat=True):
        targets.setdefault(statement_pk(workspace.id, statement["object"]["id"]), None)
    if not targets:
        return set()
    victims = list(
        XapiStatement.objects.filter(workspace=workspace, pk__in=targets)
        .exclude(verb_id=VOIDED)
        .values_list("pk", "statement", "user_id")
    )
    if not victims:
        return set()
    victim_pks = [pk for pk, _, _ in victims]
    XapiStatement.objects.filter(pk__in=victim_pks).update(is_voided=True)
    # One DELETE (no per-row signals), then the rollups of the deleted events.
    events = LearningEvent.objects.filter(workspace=workspace, id__in=victim_pks)
    touched = list(events.values_list("user_id", "occurred_at", "course_id"))
    events._raw_delete(events.db)
    rows_changed(
        workspace.pk,
        LearningEvent,
        pairs={(user_id, at) for user_id, at, _ in touched},
        course_ids={course_id for _, _, course_id in touched},
    )
    remove_voided_problem_facts(workspace, [(pk, statement) for pk, statement, _ in victims])
    recompute_video_sessions(
        workspace,
        [
            (statement, user_id)
            for pk, statement, user_id in victims
            if pk not in new_pks and user_id and is_video_player_statement(statement)
        ],
    )
    return set(victim_pks) & new_pks
