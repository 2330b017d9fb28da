"""Reading xAPI statements: one by id, and the filtered, keyset-paginated list."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast

from analytics.models import XapiActivity, XapiRelationKind, XapiStatement, XapiStatementRelation
from analytics.services.xapi.identity import statement_pk

MAX_PAGE = 500


@dataclass(frozen=True)
class StatementFilters:
    """The statements resource's filters. agent_key as analytics.services.xapi.identity.agent_key."""

    agent_key: str | None = None
    verb_id: str | None = None
    activity_id: str | None = None
    registration: str | None = None
    related_agents: bool = False
    related_activities: bool = False
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False

    def relation_conditions(self):
        """[(kind, key, direct only)] of the filters that XapiStatementRelation answers, the
        most selective first (an agent or activity before a registration, a verb last)."""
        conditions = [
            (XapiRelationKind.AGENT, self.agent_key, not self.related_agents),
            (XapiRelationKind.ACTIVITY, self.activity_id, not self.related_activities),
            (XapiRelationKind.REGISTRATION, self.registration, False),
            (XapiRelationKind.VERB, self.verb_id, False),
        ]
        return [(kind, key, direct_only) for kind, key, direct_only in conditions if key]


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


def statement_page(workspace, filters, *, limit, cursor=None, as_text=False):
    """(statements, next cursor or None): up to `limit` live statements matching filters; as_text:
    each statement as its stored JSON text (for a response that passes them through).

    Order: by stored time, newest first (oldest first when filters.ascending), ties by primary
    key, so walking the pages with the returned cursor sees every statement exactly once. Voided
    statements are left out (their voiding statements are listed). since is exclusive, until
    inclusive, both on the stored time. The agent / activity / verb / registration filters read
    XapiStatementRelation (analytics.services.xapi.relations says what each matches): the first
    one drives the page as one ordered index range, the others are semi-joins.
    """
    conditions = filters.relation_conditions()
    if conditions:
        kind, key, direct_only = conditions[0]
        rows = XapiStatementRelation.objects.filter(workspace=workspace, kind=kind, key=key, statement__is_voided=False)
        if direct_only:
            rows = rows.filter(is_direct=True)
        for kind, key, direct_only in conditions[1:]:
            other = XapiStatementRelation.objects.filter(statement_id=OuterRef("statement_id"), kind=kind, key=key)
            rows = rows.filter(Exists(other.filter(is_direct=True) if direct_only else other))
        pk, statement = "statement_id", "statement__statement"
    else:
        rows = XapiStatement.objects.filter(workspace=workspace, is_voided=False)
        pk, statement = "pk", "statement"
    if filters.since:
        rows = rows.filter(stored__gt=filters.since)
    if filters.until:
        rows = rows.filter(stored__lte=filters.until)
    if cursor is not None:
        if filters.ascending:
            rows = rows.filter(Q(stored__gt=cursor.stored) | Q(stored=cursor.stored, **{f"{pk}__gt": cursor.pk}))
        else:
            rows = rows.filter(Q(stored__lt=cursor.stored) | Q(stored=cursor.stored, **{f"{pk}__lt": cursor.pk}))
    order = ("stored", pk) if filters.ascending else ("-stored", f"-{pk}")
    if as_text:
        rows = rows.annotate(statement_text=Cast(statement, TextField()))
        statement = "statement_text"
    page = list(rows.order_by(*order).values_list(statement, "stored", pk)[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        _, stored, last_pk = page[-1]
        next_cursor = Cursor(stored=stored, pk=str(last_pk))
    return [statement for statement, _, _ in page], next_cursor


def canonical_definitions(workspace, activity_ids):
    """{activity id: the workspace's canonical definition} of the activities it knows among ids."""
    if not activity_ids:
        return {}
    return dict(
        XapiActivity.objects.filter(workspace=workspace, activity_id__in=list(activity_ids)).values_list(
            "activity_id", "definition"
        )
    )
