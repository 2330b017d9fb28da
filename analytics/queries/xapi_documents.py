"""Reading the xAPI document resources, the Agents resource's Person and the Activities
resource's definitions."""

from analytics.models import XapiActivity, XapiDocument, XapiStatement
from analytics.services.xapi.identity import agent_key

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def document(workspace, scope, document_id):
    """The XapiDocument of scope named document_id, or None."""
    return scope.filter(workspace).filter(document_id=document_id).first()


def document_ids(workspace, scope, since=None):
    """The ids of the scope's documents (updated after since, when given), in id order."""
    documents = scope.filter(workspace, many=True)
    if since is not None:
        documents = documents.filter(updated_at__gt=since)
    return list(documents.order_by("document_id").values_list("document_id", flat=True))


def person(workspace, agent):
    """The Person object of the Agents resource: every name and identifier the workspace knows
    for the agent (its statements' actors with that identifier, its documents' agents)."""
    key = agent_key(agent)
    seen = [agent]
    actors = XapiStatement.objects.filter(workspace=workspace, actor_key=key).values_list("statement__actor", flat=True)
    seen += [actor for actor in actors[:100] if isinstance(actor, dict)]
    seen += [
        value
        for value in XapiDocument.objects.filter(workspace=workspace, agent_key=key).values_list("agent", flat=True)[
            :100
        ]
        if value
    ]
    result = {"objectType": "Person"}
    for name in ("name", *IFI_KEYS):
        values = []
        for item in seen:
            value = item.get(name)
            if value is not None and value not in values:
                values.append(value)
        if values:
            result[name] = values
    return result


def activity(workspace, activity_id):
    """The Activity object of the Activities resource: the canonical definition the workspace's
    statements gave it (merged over time), or the bare id when none did."""
    definition = (
        XapiActivity.objects.filter(workspace=workspace, activity_id=activity_id)
        .values_list("definition", flat=True)
        .first()
    )
    result = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result
