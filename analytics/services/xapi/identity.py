"""Identity: a statement's key in a workspace, an agent's inverse functional identifier."""

import hashlib
import uuid

STATEMENT_PK_NAMESPACE = uuid.UUID("6c1d8a52-2f0e-4b1f-a8c4-0f3c1e5b7d21")


def statement_pk(workspace_id, statement_id):
    """The primary key of a statement in a workspace (statement ids are only unique per workspace)."""
    return uuid.uuid5(STATEMENT_PK_NAMESPACE, f"{workspace_id}:{str(statement_id).lower()}")


def agent_key(agent):
    """The inverse functional identifier of an Agent or identified Group, as one string.

    mbox as `mailto:lower-case address`, mbox_sha1sum lower-case, openid as sent, account as
    `homePage|name`. An anonymous Group has none: its key is a hash of its members' keys.
    """
    if "mbox" in agent:
        return str(agent["mbox"]).strip().lower()
    if "mbox_sha1sum" in agent:
        return "sha1:" + str(agent["mbox_sha1sum"]).lower()
    if "openid" in agent:
        return str(agent["openid"])
    if "account" in agent:
        return f"{agent['account'].get('homePage', '')}|{agent['account'].get('name', '')}"
    members = sorted(agent_key(member) for member in agent.get("member", []))
    return "group:" + hashlib.sha1("\n".join(members).encode()).hexdigest()
