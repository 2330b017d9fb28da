"""Pseudonymous exports: learners' emails and names replaced by a keyed hash per workspace.

The key is derived from SECRET_KEY and the workspace id (HMAC-SHA256), so the same person gets
the same pseudonym in every export of a workspace (files can be joined) and a different one in
another workspace (files of two workspaces cannot). Without SECRET_KEY a pseudonym cannot be
turned back into the email by hashing guessed addresses.
"""

import hashlib
import hmac

from django.utils.crypto import salted_hmac

from .sources import RowStream

KEY_SALT = "exports.pseudonyms"
EMAIL_DOMAIN = "pseudonymous.invalid"
HEX_CHARS = 16
# The export columns holding personal data, and what they hold.
PERSONAL_COLUMNS = {"userEmail": "email", "username": "email", "userName": "name"}


def workspace_key(workspace_id):
    return salted_hmac(KEY_SALT, f"workspace:{workspace_id}").digest()


def _digest(key, kind, value):
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:HEX_CHARS]


def pseudonym(key, kind, value):
    """`kind` "email": `<hash>@pseudonymous.invalid` (emails compared lower-cased); "name":
    `pseudo-<hash>`. Empty values stay empty."""
    if value is None or value == "":
        return value
    if kind == "email":
        return f"{_digest(key, 'email', str(value).strip().lower())}@{EMAIL_DOMAIN}"
    return f"pseudo-{_digest(key, 'name', str(value).strip())}"


def pseudonymized(stream, columns, workspace_id):
    """The RowStream with its personal columns replaced; never COPYable (the database would
    write the real values)."""
    key = workspace_key(workspace_id)
    positions = [
        (i, PERSONAL_COLUMNS[column.name]) for i, column in enumerate(columns) if column.name in PERSONAL_COLUMNS
    ]
    if not positions:
        return RowStream(stream.count, stream.rows, None)

    def rows():
        for row in stream.rows:
            row = list(row)
            for i, kind in positions:
                row[i] = pseudonym(key, kind, row[i])
            yield tuple(row)

    return RowStream(stream.count, rows(), None)
