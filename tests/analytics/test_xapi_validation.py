"""Statement validation (xAPI 1.0.3 Data 2.2-4.0): each violation is a 400 naming the property,
nothing of the batch is stored; Open edX's few departures are accepted only from Open edX."""

import copy
import json
import uuid

import pytest

from accounts.models import Role
from analytics.models import XapiStatement
from analytics.services.xapi.validation import OPENEDX_TRANSFORMER
from tests.analytics.test_xapi import get, load, post, statement

pytestmark = pytest.mark.django_db

SUBSTATEMENT = {
    "objectType": "SubStatement",
    "actor": {"mbox": "mailto:bob@acme.test"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
    "object": {"id": "http://lms.example.com/meeting/1"},
}
CHOICE = {
    "interactionType": "choice",
    "correctResponsesPattern": ["a"],
    "choices": [{"id": "a", "description": {"en-US": "A"}}, {"id": "b"}],
}
ATTACHMENT = {
    "usageType": "http://example.com/attachment-usage/test",
    "display": {"en-US": "A test attachment"},
    "contentType": "text/plain; charset=ascii",
    "length": 27,
    "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a",
    "fileUrl": "http://over.there.com/file.txt",
}


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def _with(path, value):
    """statement() with `value` set at the dotted `path` (a missing level is created)."""
    body = statement()
    target = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
    return body


INVALID = [
    ("actor", None, "statement.actor"),
    ("Actor", {"mbox": "mailto:x@acme.test"}, "statement.Actor"),
    ("actor.objectType", "agent", "statement.actor.objectType"),
    ("actor.objectType", 123, "statement.actor.objectType"),
    ("actor.name", 123, "statement.actor.name"),
    ("actor.mbox", "mailto:should.fail.com", "statement.actor.mbox"),
    ("actor", {"openid": "ab=c://should.fail.com"}, "statement.actor.openid"),
    ("actor.account", {"homePage": "http://x.example"}, "statement.actor"),
    ("actor.mbox_sha1sum", "abc", "statement.actor"),
    ("verb.id", "should fail", "statement.verb.id"),
    ("verb.display", {"a12345": "attended"}, "statement.verb.display.a12345"),
    ("verb.display", "attended", "statement.verb.display"),
    ("object.id", "activity", "statement.object.id"),
    ("object.objectType", "activity", "statement.object.objectType"),
    ("object.definition", {"interactionType": "Choice"}, "statement.object.definition.interactionType"),
    ("object.definition", {"interactionType": {"x": 1}}, "statement.object.definition.interactionType"),
    ("object.definition", {"correctResponsesPattern": ["a"]}, "statement.object.definition.interactionType"),
    ("object.definition", {**CHOICE, "interactionType": "true-false"}, "statement.object.definition.choices"),
    ("object.definition", {"moreInfo": "not an irl"}, "statement.object.definition.moreInfo"),
    ("object.definition", {"extensions": {"should fail": True}}, "statement.object.definition.extensions.should fail"),
    ("object.definition", {"extensions": 12345}, "statement.object.definition.extensions"),
    ("result.score", {"raw": 5, "min": 0, "max": 4}, "statement.result.score.raw"),
    ("result.score", {"min": 3, "max": 3}, "statement.result.score.min"),
    ("result.score", {"scaled": 1.5}, "statement.result.score.scaled"),
    ("result.score", {"raw": "5"}, "statement.result.score.raw"),
    ("result.success", "true", "statement.result.success"),
    ("result.response", 12345, "statement.result.response"),
    ("result.duration", "PA1H0M0S", "statement.result.duration"),
    ("result.duration", "P4W1D", "statement.result.duration"),
    ("context.registration", "AA97B177-9383-4934-8543-0F91A7A028368", "statement.context.registration"),
    ("context.team", {"mbox": "mailto:team@acme.test"}, "statement.context.team.objectType"),
    ("context.language", "a12345678", "statement.context.language"),
    ("context.revision", 1, "statement.context.revision"),
    ("context.statement", {"id": str(uuid.uuid4())}, "statement.context.statement.objectType"),
    ("context.contextActivities", {"parent": {"id": "not an iri"}}, "statement.context.contextActivities.parent.id"),
    ("context.contextActivities", {"sibling": []}, "statement.context.contextActivities.sibling"),
    ("timestamp", "2008-09-15T15:53:00.601-00:00", "statement.timestamp"),
    ("timestamp", "01/011/2015", "statement.timestamp"),
    ("id", "6690e6c9-3ef0-0ed3-8b37-7f3964730bee", "statement.id"),  # version 0, not RFC 4122
    ("version", "1.1.0", "statement.version"),
    ("authority", {"objectType": "Group", "member": [{"mbox": "mailto:bob@example.com"}]}, "statement.authority"),
    ("attachments", [{**ATTACHMENT, "length": "27"}], "statement.attachments[0].length"),
    ("attachments", [{**ATTACHMENT, "fileUrl": "should fail"}], "statement.attachments[0].fileUrl"),
    ("attachments", [{**ATTACHMENT, "contentType": 12345}], "statement.attachments[0].contentType"),
    ("attachments", {"usageType": "x"}, "statement.attachments"),
    ("object", {**SUBSTATEMENT, "id": str(uuid.uuid4())}, "statement.object.id"),
    ("object", {**SUBSTATEMENT, "object": dict(SUBSTATEMENT)}, "statement.object.object.objectType"),
    ("object", {"mbox": "mailto:bob@acme.test"}, "statement.object.mbox"),  # without objectType: an Activity
]


@pytest.mark.parametrize(("path", "value", "named"), INVALID, ids=[f"{case[0]}-{i}" for i, case in enumerate(INVALID)])
def test_a_violation_is_400_naming_the_property_and_nothing_is_stored(xapi, path, value, named):
    valid = statement()
    response = post(xapi, [valid, _with(path, value)])
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(named.replace("statement", "statements[1]", 1) + ":")
    assert XapiStatement.objects.count() == 0


def test_revision_and_platform_only_with_an_activity_object(xapi):
    about_agent = statement(object={"objectType": "Agent", "mbox": "mailto:bob@acme.test"}, context={"platform": "LMS"})
    response = post(xapi, about_agent)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("statement.context.platform:")
    assert post(xapi, statement(context={"platform": "LMS", "revision": "2"})).status_code == 200


def test_a_number_beyond_a_double_is_400_naming_it(xapi):
    body = json.dumps(_with("result.extensions", {"http://example.com/big": 1})).replace(": 1}", ": 1e400}")
    response = xapi.generic(
        "POST", "/xapi/statements", body, content_type="application/json", HTTP_X_EXPERIENCE_API_VERSION="1.0.3"
    )
    assert response.status_code == 400
    assert "result.extensions.http://example.com/big: the number is too large" in response.json()["detail"]
    assert XapiStatement.objects.count() == 0


def test_null_is_refused_except_inside_extensions(xapi):
    assert post(xapi, _with("result.response", None)).json()["detail"].startswith("statement.result.response:")
    kept = _with("result.extensions", {"http://example.com/null": None})
    assert post(xapi, kept).status_code == 200


VALID = [
    ("result.duration", "P3Y1M29DT4H35M59.14S"),
    ("result.duration", "P4W"),
    ("object.definition", CHOICE),
    ("object.definition", {"interactionType": "matching", "source": [{"id": "1"}], "target": [{"id": "a"}]}),
    ("verb.display", {"zh-Hans-CN": "参加", "en-GB-oed": "attended", "x-private": "p"}),
    ("context.language", "sgn-BE-FR"),
    (
        "authority",
        {
            "objectType": "Group",
            "member": [
                {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}},
                {"mbox": "mailto:bob@example.com"},
            ],
        },
    ),
    ("attachments", [ATTACHMENT]),
    ("version", "1.0"),
    ("object", SUBSTATEMENT),
    ("timestamp", "2026-03-01T09:30:00.123456+05:30"),
    ("timestamp", "20260301T093000Z"),  # ISO 8601's basic form
]


@pytest.mark.parametrize(("path", "value"), VALID, ids=[f"{case[0]}-{i}" for i, case in enumerate(VALID)])
def test_valid_statements_are_stored(xapi, path, value):
    body = _with(path, value)
    response = post(xapi, body)
    assert response.status_code == 200, response.content
    assert response.json() == [body["id"]]


def test_a_single_context_activity_comes_back_as_a_list_and_a_resend_matches(xapi):
    parent = {"id": "http://lms.example.com/course/1", "objectType": "Activity"}
    body = statement(context={"contextActivities": {"parent": parent, "grouping": [parent]}})
    assert post(xapi, body).status_code == 200
    stored = get(xapi, statementId=body["id"]).json()
    assert stored["context"]["contextActivities"] == {"parent": [parent], "grouping": [parent]}
    assert post(xapi, body).status_code == 200  # the same statement again: no conflict
    assert XapiStatement.objects.count() == 1


def _openedx_problem():
    return copy.deepcopy(load("problem_check(server).max_grade_0.json"))


def test_openedx_departures_are_accepted_only_with_its_transformer_extension(xapi):
    accepted = _openedx_problem()
    assert OPENEDX_TRANSFORMER in accepted["context"]["extensions"]
    assert accepted["result"]["score"]["min"] == accepted["result"]["score"]["max"]
    assert post(xapi, accepted).status_code == 200

    refused = _openedx_problem()
    refused["id"] = str(uuid.uuid4())
    del refused["context"]["extensions"][OPENEDX_TRANSFORMER]
    response = post(xapi, refused)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("statement.result.score.min:")


def test_openedx_non_iri_activity_id_needs_the_extension(xapi):
    body = statement(object={"id": "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb"})
    assert post(xapi, body).json()["detail"].startswith("statement.object.id:")
    body["context"] = {"extensions": {OPENEDX_TRANSFORMER: "event-routing-backends@7.0.0"}}
    assert post(xapi, body).status_code == 200
    assert json.loads(get(xapi, statementId=body["id"]).content)["object"]["id"] == body["object"]["id"]
