"""The xAPI document resources (State, Activity Profile, Agent Profile), Agents, Activities and
About (docs/api/xapi.md)."""

import hashlib
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from accounts.models import Role
from analytics.models import XapiDocument
from tests.analytics.test_xapi import post, statement

pytestmark = pytest.mark.django_db

VERSION = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
ACTIVITY = "http://lms.example.com/course/1/activity"
AGENT = {"objectType": "Agent", "mbox": "mailto:ada@acme.test"}
STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def url(path, **params):
    if "agent" in params and not isinstance(params["agent"], str):
        params["agent"] = json.dumps(params["agent"])
    return f"{path}?{urlencode(params)}"


def state_url(**params):
    return url(STATE, activityId=ACTIVITY, agent=AGENT, **params)


def put(client, target, content, content_type="application/json", **headers):
    body = (
        json.dumps(content) if content_type == "application/json" and not isinstance(content, (str, bytes)) else content
    )
    return client.generic("PUT", target, body, content_type=content_type, **VERSION, **headers)


def post_document(client, target, content, content_type="application/json", **headers):
    body = json.dumps(content) if not isinstance(content, (str, bytes)) else content
    return client.generic("POST", target, body, content_type=content_type, **VERSION, **headers)


def get(client, target, **headers):
    return client.get(target, **VERSION, **headers)


def test_state_put_get_returns_the_bytes_their_type_and_sha1_etag(xapi):
    content = b"\x00\x01binary state\xff"
    assert put(xapi, state_url(stateId="bookmark"), content, "application/octet-stream").status_code == 204
    response = get(xapi, state_url(stateId="bookmark"))
    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["ETag"] == f'"{hashlib.sha1(content).hexdigest()}"'
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_post_merges_json_objects_one_level_deep(xapi):
    target = state_url(stateId="progress")
    assert post_document(xapi, target, {"page": 1, "scores": {"a": 1}, "keep": True}).status_code == 204
    assert post_document(xapi, target, {"page": 2, "scores": {"b": 2}}).status_code == 204
    assert json.loads(get(xapi, target).content) == {"page": 2, "scores": {"b": 2}, "keep": True}


def test_post_onto_a_non_json_document_is_400_and_changes_nothing(xapi):
    target = state_url(stateId="text")
    put(xapi, target, "plain words", "text/plain")
    response = post_document(xapi, target, {"a": 1})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("content:")
    assert get(xapi, target).content == b"plain words"


@pytest.mark.parametrize("content", ["{not json", '{"n": 1e400}'])
def test_post_of_invalid_json_is_400(xapi, content):
    response = post_document(xapi, state_url(stateId="s"), content)
    assert response.status_code == 400
    assert response.json()["detail"] == "content: is not valid JSON"
    assert XapiDocument.objects.count() == 0


def test_ids_listing_with_since_and_registration_scopes(xapi):
    registration = "0b2a6a4c-5a0c-4f42-8f3e-1a1e8f6a1d11"
    put(xapi, state_url(stateId="a"), {"n": 1})
    put(xapi, state_url(stateId="b", registration=registration), {"n": 2})
    assert json.loads(get(xapi, state_url()).content) == ["a", "b"]
    assert json.loads(get(xapi, state_url(registration=registration)).content) == ["b"]
    later = XapiDocument.objects.get(document_id="b")
    XapiDocument.objects.filter(document_id="a").update(updated_at=later.updated_at.replace(year=2020))
    since = later.updated_at.replace(year=2021).isoformat()
    assert json.loads(get(xapi, state_url(since=since)).content) == ["b"]


def test_delete_without_state_id_deletes_every_state_of_the_agent_and_activity(xapi):
    put(xapi, state_url(stateId="a"), {"n": 1})
    put(xapi, state_url(stateId="b"), {"n": 2})
    put(xapi, url(STATE, activityId=ACTIVITY, agent={"mbox": "mailto:bob@acme.test"}, stateId="a"), {"n": 3})
    assert xapi.delete(state_url(), **VERSION).status_code == 204
    assert list(XapiDocument.objects.values_list("document_id", "agent_key")) == [("a", "mailto:bob@acme.test")]


def test_if_match_and_if_none_match_preconditions(xapi):
    target = url(ACTIVITY_PROFILE, activityId=ACTIVITY, profileId="p")
    assert put(xapi, target, {"v": 1}, HTTP_IF_NONE_MATCH="*").status_code == 204
    etag = get(xapi, target)["ETag"]
    assert put(xapi, target, {"v": 2}, HTTP_IF_NONE_MATCH="*").status_code == 412
    assert put(xapi, target, {"v": 2}, HTTP_IF_MATCH='"0000000000000000000000000000000000000000"').status_code == 412
    assert put(xapi, target, {"v": 2}, HTTP_IF_MATCH=etag).status_code == 204
    assert json.loads(get(xapi, target).content) == {"v": 2}


def test_a_profile_put_without_a_precondition_is_409_over_a_document_and_400_otherwise(xapi):
    target = url(AGENT_PROFILE, agent=AGENT, profileId="p")
    missing = put(xapi, target, {"v": 1})
    assert missing.status_code == 400
    assert missing.json()["detail"].startswith("If-Match / If-None-Match:")
    put(xapi, target, {"v": 1}, HTTP_IF_NONE_MATCH="*")
    conflict = put(xapi, target, {"v": 2})
    assert conflict.status_code == 409
    assert json.loads(get(xapi, target).content) == {"v": 1}


@pytest.mark.parametrize(
    ("target", "named"),
    [
        (url(STATE, agent=AGENT, stateId="s"), "activityId"),
        (url(STATE, activityId=ACTIVITY, stateId="s"), "agent"),
        (url(STATE, activityId="not an iri", agent=AGENT, stateId="s"), "activityId"),
        (url(STATE, activityId=ACTIVITY, agent="{bad json", stateId="s"), "agent"),
        (url(STATE, activityId=ACTIVITY, agent={"mbox": "ada@acme.test"}, stateId="s"), "agent.mbox"),
        (url(STATE, activityId=ACTIVITY, agent=AGENT, stateId="s", registration="nope"), "registration"),
        (url(STATE, activityId=ACTIVITY, agent=AGENT, stateId="s", colour="red"), "colour"),
        (url(ACTIVITY_PROFILE, activityId=ACTIVITY), "profileId"),
        (url(AGENT_PROFILE, profileId="p"), "agent"),
        (url(STATE, activityId=ACTIVITY, agent=AGENT, stateId="s" * 1001), "stateId"),
        (url(ACTIVITY_PROFILE, activityId="http://x.example/" + "a" * 1000, profileId="p"), "activityId"),
    ],
)
def test_bad_parameters_are_400_naming_them(xapi, target, named):
    response = put(xapi, target, {"v": 1}, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{named}:")
    assert XapiDocument.objects.count() == 0


def test_a_content_type_longer_than_255_characters_is_400(xapi):
    response = put(xapi, state_url(stateId="s"), "x", "text/plain; note=" + "n" * 250)
    assert response.status_code == 400
    assert response.json()["detail"] == "Content-Type: at most 255 characters"


def test_since_with_an_unencoded_plus_offset_is_read_as_it_was_meant(xapi):
    put(xapi, state_url(stateId="s"), {"v": 1})
    before = (XapiDocument.objects.get().updated_at - timedelta(seconds=1)).replace(microsecond=0).isoformat()
    assert before.endswith("+00:00")
    response = xapi.get(f"{state_url()}&since={before}", **VERSION)  # the `+` unencoded: it arrives as a space
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == ["s"]


def test_since_must_be_a_timestamp(xapi):
    response = get(xapi, state_url(since="yesterday"))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("since:")


def test_missing_document_is_404_and_head_answers_without_a_body(xapi):
    assert get(xapi, state_url(stateId="none")).status_code == 404
    put(xapi, state_url(stateId="s"), {"v": 1})
    head = xapi.head(state_url(stateId="s"), **VERSION)
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == get(xapi, state_url(stateId="s"))["ETag"]


def test_alternate_syntax_puts_a_document(xapi):
    form = urlencode(
        {
            "activityId": ACTIVITY,
            "agent": json.dumps(AGENT),
            "stateId": "alt",
            "content": '{"via": "form"}',
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
        }
    )
    response = xapi.generic("POST", f"{STATE}?method=PUT", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 204, response.content
    assert json.loads(get(xapi, state_url(stateId="alt")).content) == {"via": "form"}


def test_agents_resource_gives_the_person_of_the_agent(xapi):
    assert post(xapi, statement(actor={"mbox": "mailto:ada@acme.test", "name": "Ada Lovelace"})).status_code == 200
    response = get(xapi, url("/xapi/agents", agent=AGENT))
    assert response.status_code == 200
    assert response.json() == {"objectType": "Person", "name": ["Ada Lovelace"], "mbox": ["mailto:ada@acme.test"]}
    assert get(xapi, "/xapi/agents").json()["detail"] == "agent: is required"


def test_activities_resource_merges_the_definitions_statements_gave(xapi):
    first = statement(
        object={"id": ACTIVITY, "definition": {"name": {"en-US": "Quiz"}, "type": "http://x.example/quiz"}}
    )
    second = statement(object={"id": ACTIVITY, "definition": {"name": {"fr-FR": "Questionnaire"}}})
    assert post(xapi, [first, second]).status_code == 200
    response = get(xapi, url("/xapi/activities", activityId=ACTIVITY))
    assert response.json() == {
        "objectType": "Activity",
        "id": ACTIVITY,
        "definition": {"name": {"en-US": "Quiz", "fr-FR": "Questionnaire"}, "type": "http://x.example/quiz"},
    }
    unknown = get(xapi, url("/xapi/activities", activityId="http://x.example/unknown")).json()
    assert unknown == {"objectType": "Activity", "id": "http://x.example/unknown"}


def test_about_needs_neither_credentials_nor_the_version_header(client):
    response = client.get("/xapi/about")
    assert response.status_code == 200
    assert response.json() == {"version": ["1.0.3", "1.0.2", "1.0.1", "1.0.0"], "extensions": {}}


def test_document_resources_need_an_admin_key(workspace, api_key_client):
    learner = api_key_client(workspace, Role.LEARNER)
    assert get(learner, state_url()).status_code == 403


def test_staff_find_documents_activities_and_attachments_in_the_django_admin(xapi, client, django_user_model):
    put(xapi, state_url(stateId="bookmark-admin"), {"v": 1})
    post(xapi, statement(object={"id": ACTIVITY, "definition": {"name": {"en-US": "Quiz"}}}))
    operator = django_user_model.objects.create_superuser("operator@ops.test", "x-operator-pass-1")
    client.force_login(operator)
    assert "bookmark-admin" in client.get("/admin/analytics/xapidocument/").content.decode()
    assert ACTIVITY in client.get("/admin/analytics/xapiactivity/").content.decode()
    assert client.get("/admin/analytics/xapiattachment/").status_code == 200


def test_listing_ids_is_a_fixed_number_of_queries(xapi, django_assert_max_num_queries):
    for n in range(5):
        put(xapi, state_url(stateId=f"s{n}"), {"n": n})
    with django_assert_max_num_queries(2):  # the credential, the ids
        response = get(xapi, state_url())
    assert json.loads(response.content) == [f"s{n}" for n in range(5)]
