"""The rows behind the filters of GET /xapi/statements (XapiStatementRelation).

A statement answers to:
- `agent`: its actor and an Agent or Group object (direct); its authority, context instructor and
  team, and the same properties of a SubStatement object (related: `related_agents=true` only);
- `activity`: an Activity object (direct); its context activities and a SubStatement's object and
  context activities (related: `related_activities=true` only);
- `verb` and `registration`: its own;
- and, when its object is a StatementRef, whatever the targeted statement answers to (xAPI
  Communication 2.1.3: a statement that targets another meets the filter when its target does).
"""

from analytics.models import XapiRelationKind, XapiStatementRelation
from analytics.services.xapi.identity import agent_key, statement_pk
from courses.services.bulk_write import BulkWriter

AGENT, ACTIVITY, VERB, REGISTRATION, STATEMENT_REF = (
    XapiRelationKind.AGENT,
    XapiRelationKind.ACTIVITY,
    XapiRelationKind.VERB,
    XapiRelationKind.REGISTRATION,
    XapiRelationKind.STATEMENT_REF,
)
KEY_LENGTH = 1000
RELATION_COLUMNS = ("workspace_id", "statement_id", "kind", "key", "is_direct", "stored")


def _agents(agent):
    """The keys of an Agent or Group and, for a Group, of its members."""
    if not isinstance(agent, dict):
        return []
    keys = [agent_key(agent)] if any(ifi in agent for ifi in ("mbox", "mbox_sha1sum", "openid", "account")) else []
    for member in agent.get("member") or []:
        if isinstance(member, dict):
            keys.append(agent_key(member))
    return keys


def _context_activities(statement):
    context = statement.get("context")
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    if not isinstance(activities, dict):
        return []
    ids = []
    for value in activities.values():
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and isinstance(activity.get("id"), str):
                ids.append(activity["id"])
    return ids


def _context_agents(statement):
    context = statement.get("context")
    if not isinstance(context, dict):
        return []
    return _agents(context.get("instructor")) + _agents(context.get("team"))


def _object_kind(obj):
    return obj.get("objectType", "Activity") if isinstance(obj, dict) else None


def statement_relations(statement):
    """{(kind, key): is_direct} of a statement as stored (keys cut to the column's length)."""
    found = {}

    def add(kind, key, is_direct):
        key = key[:KEY_LENGTH]
        found[(kind, key)] = found.get((kind, key), False) or is_direct

    for key in _agents(statement["actor"]):
        add(AGENT, key, True)
    add(VERB, statement["verb"]["id"], True)
    obj = statement["object"]
    kind = _object_kind(obj)
    if kind in ("Agent", "Group"):
        for key in _agents(obj):
            add(AGENT, key, True)
    elif kind == "StatementRef":
        add(STATEMENT_REF, str(obj["id"]).lower(), True)
    elif kind == "SubStatement":
        for key in _agents(obj.get("actor")) + _context_agents(obj):
            add(AGENT, key, False)
        inner = obj.get("object")
        if _object_kind(inner) in ("Agent", "Group"):
            for key in _agents(inner):
                add(AGENT, key, False)
        elif (
            isinstance(inner, dict)
            and _object_kind(inner) not in ("StatementRef", "SubStatement")
            and isinstance(inner.get("id"), str)
        ):
            add(ACTIVITY, inner["id"], False)
        for activity_id in _context_activities(obj):
            add(ACTIVITY, activity_id, False)
    elif isinstance(obj.get("id"), str):
        add(ACTIVITY, obj["id"], True)
    for key in _agents(statement.get("authority")) + _context_agents(statement):
        add(AGENT, key, False)
    for activity_id in _context_activities(statement):
        add(ACTIVITY, activity_id, False)
    context = statement.get("context")
    if isinstance(context, dict) and isinstance(context.get("registration"), str):
        add(REGISTRATION, context["registration"].lower(), True)
    return found


def store_relations(workspace, rows):
    """Write the relation rows of newly stored statements (XapiStatement rows with their
    `statement`), in bulk: their own, those of the statements they target by StatementRef, and
    theirs to the already stored statements that target them (one level: a chain stored out of
    order is followed one link)."""
    own = {row.pk: statement_relations(row.statement) for row in rows}
    stored_at = {row.pk: row.stored for row in rows}
    targets = {
        pk: statement_pk(workspace.id, key)
        for pk, relations in own.items()
        for (kind, key) in relations
        if kind == STATEMENT_REF
    }
    inherited = _relations_of(workspace, set(targets.values()) - set(own))
    inherited.update(own)
    merged = {}
    for pk, relations in own.items():
        merged[pk] = dict(relations)
        if pk in targets:
            for key, is_direct in inherited.get(targets[pk], {}).items():
                if key[0] != STATEMENT_REF:
                    merged[pk][key] = merged[pk].get(key, False) or is_direct
    # New statements' own rows cannot conflict: COPY on PostgreSQL (client-side quoting of a
    # multi-row INSERT cost more than the rest of the write), bulk_create elsewhere.
    BulkWriter.for_connection().write(
        XapiStatementRelation,
        RELATION_COLUMNS,
        (
            (workspace.id, pk, kind, key, is_direct, stored_at[pk])
            for pk, relations in merged.items()
            for (kind, key), is_direct in relations.items()
        ),
    )
    # Statements stored earlier that target one of these: they answer to its filters too.
    referrers = (
        XapiStatementRelation.objects.filter(
            workspace=workspace, kind=STATEMENT_REF, key__in=[str(row.statement["id"]).lower() for row in rows]
        )
        .exclude(statement_id__in=list(own))
        .values_list("statement_id", "key", "stored")
    )
    by_id = {str(row.statement["id"]).lower(): row.pk for row in rows}
    inherited_rows = []
    for referrer, target_id, stored in referrers:
        for (kind, key), is_direct in own[by_id[target_id]].items():
            if kind != STATEMENT_REF:
                inherited_rows.append(
                    XapiStatementRelation(
                        workspace_id=workspace.id,
                        statement_id=referrer,
                        kind=kind,
                        key=key,
                        is_direct=is_direct,
                        stored=stored,
                    )
                )
    XapiStatementRelation.objects.bulk_create(inherited_rows, ignore_conflicts=True)


def _relations_of(workspace, pks):
    relations = {}
    if not pks:
        return relations
    for pk, kind, key, is_direct in XapiStatementRelation.objects.filter(
        workspace=workspace, statement_id__in=pks
    ).values_list("statement_id", "kind", "key", "is_direct"):
        relations.setdefault(pk, {})[(kind, key)] = is_direct
    return relations
