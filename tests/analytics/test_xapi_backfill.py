"""Migration 0011: statements stored before the relation rows existed become findable by the
agent / activity / registration filters, with the same rows a new statement gets."""

import importlib
import uuid

import pytest

from accounts.models import Role
from analytics.models import XapiStatement, XapiStatementRelation
from tests.analytics.test_xapi import get, post, statement

pytestmark = pytest.mark.django_db
backfill = importlib.import_module("analytics.migrations.0011_xapi_backfill").backfill


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def _relation_rows():
    return sorted(XapiStatementRelation.objects.values_list("statement_id", "kind", "key", "is_direct", "stored"))


def test_backfill_recreates_the_rows_new_statements_get_and_the_filters_find_them(xapi):
    registration = str(uuid.uuid4())
    target = statement(context={"registration": registration.upper(), "instructor": {"mbox": "mailto:tutor@acme.test"}})
    referrer = statement(
        actor={"mbox": "mailto:bob@acme.test"},
        verb={"id": "http://adlnet.gov/expapi/verbs/attended"},
        object={"objectType": "StatementRef", "id": target["id"]},
    )
    other = statement(actor={"mbox": "mailto:carol@acme.test"})
    assert post(xapi, [target, referrer, other]).status_code == 200
    expected_rows = _relation_rows()
    # As before migration 0010: no relation rows, no registration column; but for one statement
    # stored since, which keeps its rows.
    XapiStatementRelation.objects.exclude(statement__statement__id=other["id"]).delete()
    XapiStatement.objects.update(registration="")

    backfill(None, None)

    assert _relation_rows() == expected_rows
    assert list(XapiStatement.objects.exclude(registration="").values_list("registration", flat=True)) == [registration]
    found = get(xapi, agent='{"mbox": "mailto:ada@acme.test"}').json()["statements"]
    # The referrer answers to its target's agent (xAPI's StatementRef rule).
    assert {s["id"] for s in found} == {target["id"], referrer["id"]}
    tutored = get(xapi, agent='{"mbox": "mailto:tutor@acme.test"}', related_agents="true").json()["statements"]
    assert {s["id"] for s in tutored} == {target["id"], referrer["id"]}
    registered = get(xapi, registration=registration).json()["statements"]
    assert {s["id"] for s in registered} == {target["id"], referrer["id"]}
