"""Reading xAPI statements: one by id, and the filtered, keyset-paginated list."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from analytics.models import XapiStatement
from analytics.services.xapi.identity import statement_pk

MAX_PAGE = 500


@dataclass(frozen=True)
class StatementFilters:
    """The statements resource's filters. agent_key as analytics.services.xapi.identity.agent_key."""

    agent_key: str | None = None
    verb_id: str | None = None
    activity_id: str | None = None
    registration: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last row's stored time and primary key."""

    stored: datetime
    pk: str


def statement_by_id(workspace, statement_id, *, voided=False):
    """The stored statement with that id in workspace, or None.

    voided=False finds it only while it is not voided; voided=True only once it is (xAPI's
    statementId / voidedStatementId). Returns (statement dict, stored datetime).
    """
    row = (
        XapiStatement.objects.filter(workspace=workspace, pk=statement_pk(workspace.id, statement_id), is_voided=voided)
        .values_list("statement", "stored")
        .first()
    )
    return row


def statement_page(workspace, filters, *, limit, cursor=None):
    """(statements, next cursor or None): up to `limit` live statements matching filters.

    Order: by stored time, newest first (oldest first when filters.ascending), ties by primary
    key, so walking the pages with the returned cursor sees every statement exactly once. Voided
    statements are left out (their voiding statements are listed). since is exclusive, until
    inclusive, both on the stored time.
    """
    rows = XapiStatement.objects.filter(workspace=workspace, is_voided=False)
    if filters.agent_key:
        rows = rows.filter(actor_key=filters.agent_key)
    if filters.verb_id:
        rows = rows.filter(verb_id=filters.verb_id)
    if filters.activity_id:
        rows = rows.filter(activity_id=filters.activity_id)
    if filters.registration:
        rows = rows.filter(statement__context__registration=filters.registration)
    if filters.since:
        rows = rows.filter(stored__gt=filters.since)
    if filters.until:
        rows = rows.filter(stored__lte=filters.until)
    if cursor is not None:
        if filters.ascending:
            rows = rows.filter(Q(stored__gt=cursor.stored) | Q(stored=cursor.stored, pk__gt=cursor.pk))
        else:
            rows = rows.filter(Q(stored__lt=cursor.stored) | Q(stored=cursor.stored, pk__lt=cursor.pk))
    order = ("stored", "pk") if filters.ascending else ("-stored", "-pk")
    page = list(rows.order_by(*order).values_list("statement", "stored", "pk")[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        _, stored, pk = page[-1]
        next_cursor = Cursor(stored=stored, pk=str(pk))
    return [statement for statement, _, _ in page], next_cursor
