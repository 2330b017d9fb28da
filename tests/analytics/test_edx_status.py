"""Open edX Analytics Data API v0 service probes: status, authenticated, health."""

import pytest
from django.db import OperationalError

from accounts.models import ApiKey, Role
from analytics.api import edx_status

pytestmark = pytest.mark.django_db

SLASHES = ("", "/")


@pytest.mark.parametrize("slash", SLASHES)
def test_status_is_200_with_an_empty_body_and_no_credential(client, slash):
    response = client.get(f"/api/v0/status{slash}")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("slash", SLASHES)
def test_authenticated_is_200_for_an_edx_token_and_401_otherwise(client, workspace, slash):
    _, raw_key = ApiKey.issue(workspace, role=Role.INSTRUCTOR)
    url = f"/api/v0/authenticated{slash}"
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {raw_key}").status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION=f"Api-Key {raw_key}").status_code == 200
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    wrong = client.get(url, HTTP_AUTHORIZATION="Token not-a-key")
    assert wrong.status_code == 401


@pytest.mark.parametrize("slash", SLASHES)
def test_health_reports_the_database(client, slash):
    response = client.get(f"/api/v0/health{slash}")
    assert response.status_code == 200
    assert response.json() == {"overall_status": "OK", "detailed_status": {"database_connection": "OK"}}


def test_health_is_503_unavailable_when_the_database_does_not_answer(client, monkeypatch):
    class DownCursor:
        def __enter__(self):
            raise OperationalError("connection refused")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(edx_status.connection, "cursor", lambda: DownCursor())
    response = client.get("/api/v0/health/")
    assert response.status_code == 503
    assert response.json() == {
        "overall_status": "UNAVAILABLE",
        "detailed_status": {"database_connection": "UNAVAILABLE"},
    }
