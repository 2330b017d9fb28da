"""Storing statements: a batch is accepted whole or rejected whole (400 for an invalid statement
or a repeated id, 409 when an id is already stored with different content), in one transaction,
retried once when a concurrent request stored one of its ids first; then voiding (voiding.py) and
the mapping onto the learning record (mapping/).

Statements are stored per workspace: the row's primary key is derived from (workspace, statement
id), so two workspaces may hold the same statement id without seeing each other's rows.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.models import XapiStatement
from analytics.rollups.changes import batched
from analytics.services.learning_state import ensure_learners
from analytics.services.xapi.activities import record_activity_definitions
from analytics.services.xapi.attachments import check_parts, remove_files, store_parts
from analytics.services.xapi.comparison import statements_match
from analytics.services.xapi.errors import StatementConflict, StatementInvalid
from analytics.services.xapi.identity import agent_key, statement_pk
from analytics.services.xapi.mapping import is_activity, learner_email, map_statements
from analytics.services.xapi.relations import store_relations
from analytics.services.xapi.validation import parse_timestamp, validate_statement
from analytics.services.xapi.voiding import apply_voiding
from courses.services.bulk_write import BulkWriter

MAX_BATCH = 1000
STATEMENT_COLUMNS = (
    "id",
    "workspace_id",
    "statement",
    "verb_id",
    "actor_key",
    "activity_id",
    "user_id",
    "registration",
    "timestamp",
    "stored",
    "is_voided",
)


@dataclass
class _Incoming:
    statement: dict  # as it will be stored
    received: dict  # as it was sent (for comparison)
    path: str  # how errors name it
    statement_id: str
    pk: uuid.UUID
    timestamp: datetime
    email: str | None = None
    display_name: str = ""
    extras: dict = field(default_factory=dict)


def _activity_id(statement):
    obj = statement["object"]
    return str(obj.get("id", ""))[:1000] if is_activity(obj) else ""


def statement_registration(statement):
    context = statement.get("context")
    registration = context.get("registration") if isinstance(context, dict) else None
    return registration.lower() if isinstance(registration, str) else ""


def _prepare(workspace, statements, authority, now, statement_id=None):
    if not isinstance(statements, list):
        statements = [statements]
        paths = ["statement"]
    else:
        paths = [f"statements[{index}]" for index in range(len(statements))]
    if len(statements) > MAX_BATCH:
        raise StatementInvalid(f"statements: a batch holds at most {MAX_BATCH} statements")
    incoming, seen = [], {}
    for path, received in zip(paths, statements):
        validate_statement(received, path)
        if statement_id is not None:
            if "id" in received and received["id"].lower() != statement_id.lower():
                raise StatementInvalid(f"{path}.id: differs from the statementId parameter")
            sid = statement_id.lower()
        else:
            sid = received.get("id", "").lower() or str(uuid.uuid4())
        if sid in seen:
            raise StatementInvalid(f"{path}.id: repeats the id of {seen[sid]} in the same batch")
        seen[sid] = path
        stored = dict(received)  # only top-level keys change; nested values are shared, never mutated
        _context_activities_as_lists(stored)
        stored["id"] = sid
        stored.setdefault("timestamp", now.isoformat().replace("+00:00", "Z"))
        stored.setdefault("version", "1.0.0")
        stored["stored"] = now.isoformat().replace("+00:00", "Z")
        if authority:
            stored["authority"] = authority
        email, name = learner_email(received["actor"])
        incoming.append(
            _Incoming(
                statement=stored,
                received=received,
                path=path,
                statement_id=sid,
                pk=statement_pk(workspace.id, sid),
                timestamp=parse_timestamp(stored["timestamp"], f"{path}.timestamp"),
                email=email,
                display_name=name,
            )
        )
    return incoming


def _context_activities_as_lists(statement):
    """A single context activity stored as a list of one (xAPI: an LRS returns them in arrays),
    in the statement and its SubStatement; copies what it changes."""
    for holder in (statement, statement["object"]):
        context = holder.get("context")
        activities = context.get("contextActivities") if isinstance(context, dict) else None
        if isinstance(activities, dict) and any(not isinstance(value, list) for value in activities.values()):
            lists = {key: value if isinstance(value, list) else [value] for key, value in activities.items()}
            holder_copy = holder if holder is statement else dict(holder)
            holder_copy["context"] = {**context, "contextActivities": lists}
            if holder is not statement:
                statement["object"] = holder_copy


def record_statements(workspace, statements, *, authority=None, statement_id=None, parts=None):
    """Store a statement or a list of statements in workspace; returns their ids, in order.

    All or nothing, in one transaction: an invalid statement or a repeated id in the batch raises
    StatementInvalid (400); an id already stored with different content raises StatementConflict
    (409). An id already stored with the same content is accepted again and changes nothing. New
    statements are mapped onto enrollments, attempts, events and video views (see map_statements).
    statement_id (PUT) is the id every statement must have. parts: the attachment parts of a
    multipart request ({sha2: Part}), checked against the statements and stored with them.
    """
    now = timezone.now()
    parts = parts or {}
    incoming = _prepare(workspace, statements, authority, now, statement_id)
    check_parts([item.received for item in incoming], [item.path for item in incoming], parts)
    for attempt in range(2):
        written = []
        try:
            # One refresh of each rollup for the whole batch (see analytics.rollups.changes.batched).
            with transaction.atomic(), batched():
                new = _split_new(workspace, incoming)
                if new:
                    _insert_and_map(workspace, new)
                written = store_parts(workspace, parts)
            break
        except IntegrityError:
            remove_files(written)
            # A concurrent request stored one of these ids first: compare again against it.
            if attempt:
                raise StatementConflict("A statement of this batch was stored by a concurrent request; retry.")
        except BaseException:
            remove_files(written)
            raise
    return [item.statement_id for item in incoming]


def _split_new(workspace, incoming):
    stored = {
        row.pk: row.statement
        for row in XapiStatement.objects.filter(workspace=workspace, pk__in=[item.pk for item in incoming]).only(
            "id", "statement"
        )
    }
    for item in incoming:
        if item.pk in stored and not statements_match(item.received, stored[item.pk]):
            raise StatementConflict(
                f"Statement {item.statement_id} is already stored with different content "
                "(a statement is immutable: send the change under a new id, or void the old one)."
            )
    return [item for item in incoming if item.pk not in stored]


def _insert_and_map(workspace, new):
    people = {item.email: item.display_name for item in new if item.email}
    user_ids = ensure_learners(workspace, people) if people else {}
    rows = [
        XapiStatement(
            id=item.pk,
            workspace=workspace,
            statement=item.statement,
            verb_id=item.statement["verb"]["id"][:500],
            actor_key=agent_key(item.statement["actor"])[:500],
            activity_id=_activity_id(item.statement),
            registration=statement_registration(item.statement),
            user_id=user_ids.get(item.email),
            timestamp=item.timestamp,
            stored=parse_timestamp(item.statement["stored"], "stored"),
        )
        for item in new
    ]
    # COPY on PostgreSQL: a multi-row INSERT's client-side quoting of the statements' JSON cost
    # more than the rest of the write. A unique violation (a concurrent request stored one of
    # these ids) still surfaces as IntegrityError for record_statements to retry.
    with connection.wrap_database_errors:
        BulkWriter.for_connection().write(
            XapiStatement, STATEMENT_COLUMNS, ([getattr(row, name) for name in STATEMENT_COLUMNS] for row in rows)
        )
    store_relations(workspace, rows)
    record_activity_definitions(workspace, [row.statement for row in rows])
    voided = apply_voiding(workspace, new)
    live = [(item, row) for item, row in zip(new, rows) if row.pk not in voided]
    map_statements(workspace, live)
