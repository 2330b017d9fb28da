"""Every family's error `message` is a plain sentence, whatever shape DRF's detail had: a bad or
expired bearer token (simplejwt's detail is a dict) must not come back as a Python repr."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role
from accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db

# (method, path, how to read the message from the body)
ENDPOINTS = [
    ("get", "/api/user/analytics", lambda body: body["message"]),
    ("post", "/analyse/results", lambda body: body["message"]),
    ("get", "/analytics/videos/summary", lambda body: body["error"]["message"]),
]
SIMPLEJWT_INVALID = "Given token not valid for any token type"


def _call(client, method, path):
    if method == "post":
        return client.post(path, {}, format="json")
    return client.get(path)


@pytest.mark.parametrize("method,path,message_of", ENDPOINTS)
def test_a_malformed_bearer_token_is_refused_with_a_sentence(method, path, message_of):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = _call(client, method, path)
    assert response.status_code == 401
    assert message_of(response.json()) == SIMPLEJWT_INVALID


@pytest.mark.parametrize("method,path,message_of", ENDPOINTS)
def test_an_expired_bearer_token_is_refused_with_a_sentence(method, path, message_of, workspace, make_member):
    admin = make_member(workspace, Role.ADMIN, password="x")
    _, access = issue_tokens(admin, workspace)
    token = AccessToken(str(access))
    token.set_exp(lifetime=-timedelta(minutes=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = _call(client, method, path)
    assert response.status_code == 401
    message = message_of(response.json())
    assert message == SIMPLEJWT_INVALID
    assert "ErrorDetail" not in response.content.decode()
