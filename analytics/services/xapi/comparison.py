"""Whether a statement sent again is the one stored (xAPI Data 2.3.1, immutability)."""

import json

from analytics.services.xapi.validation import parse_timestamp


def _comparable_agent(agent):
    agent = dict(agent)
    agent.setdefault("objectType", "Agent")
    if "mbox" in agent:
        agent["mbox"] = str(agent["mbox"]).lower()
    if "mbox_sha1sum" in agent:
        agent["mbox_sha1sum"] = str(agent["mbox_sha1sum"]).lower()
    if isinstance(agent.get("member"), list):
        members = [_comparable_agent(member) for member in agent["member"]]
        agent["member"] = sorted(members, key=lambda member: json.dumps(member, sort_keys=True))
    return agent


def _comparable_activity(activity):
    # Activity definitions are not part of the statement (xAPI Data 2.3.1).
    return {"objectType": activity.get("objectType", "Activity"), "id": activity.get("id")}


def _comparable_object(obj):
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        return _comparable_agent(obj)
    if object_type == "StatementRef":
        return {"objectType": "StatementRef", "id": str(obj.get("id", "")).lower()}
    if object_type == "SubStatement":
        return _comparable_body(obj)
    return _comparable_activity(obj)


def _comparable_body(statement):
    body = {
        key: value
        for key, value in statement.items()
        if key not in ("id", "authority", "stored", "version", "timestamp", "attachments")
    }
    body["actor"] = _comparable_agent(statement["actor"])
    body["verb"] = {"id": statement["verb"]["id"]}
    body["object"] = _comparable_object(statement["object"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            context["contextActivities"] = {
                key: [_comparable_activity(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in activities.items()
            }
        for key in ("instructor", "team"):
            if isinstance(context.get(key), dict):
                context[key] = _comparable_agent(context[key])
        if "registration" in context:
            context["registration"] = str(context["registration"]).lower()
        body["context"] = context
    if "timestamp" in statement and "timestamp" in body:
        del body["timestamp"]
    return body


def statements_match(received, stored):
    """True when received is the same statement as stored, per xAPI's comparison rules.

    Ignored (xAPI Data 2.3.1, exceptions to immutability): id, authority, stored, version,
    attachments, verb display, activity definitions, the order of group members, the case of
    mbox / sha1 / UUIDs, and the serialization of timestamps (compared as instants; a statement
    sent without a timestamp matches any, since the LRS filled it in). Everything else, including
    result and context extensions, must be equal.
    """
    if _comparable_body(received) != _comparable_body(stored):
        return False
    if "timestamp" in received and "timestamp" in stored:
        received_at = parse_timestamp(received["timestamp"], "statement.timestamp")
        stored_at = parse_timestamp(stored["timestamp"], "statement.timestamp")
        return received_at == stored_at
    return True
