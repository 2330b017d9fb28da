"""Each credential type authenticates and acts in exactly one workspace."""

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role, hash_api_key
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

WHOAMI = "/api/me/"


def test_api_key_acts_in_its_workspace_with_its_role(workspace, api_key_client):
    client = api_key_client(workspace, Role.INSTRUCTOR)

    response = client.get(WHOAMI)

    assert response.status_code == 200
    assert response.json() == {"workspace": "acme", "role": "instructor", "kind": "api_key", "email": None}


def test_api_key_is_stored_only_as_hash(workspace):
    api_key, raw_key = ApiKey.issue(workspace)

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw_key not in (stored.prefix, stored.key_hash)
    assert stored.key_hash == hash_api_key(raw_key)
    assert raw_key.startswith(stored.prefix + ".")


def test_wrong_api_key_secret_is_401(workspace):
    api_key, raw_key = ApiKey.issue(workspace)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.prefix}.not-the-secret")

    response = client.get(WHOAMI)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_revoked_api_key_is_401(workspace, api_key_client):
    client = api_key_client(workspace)
    ApiKey.objects.update(revoked_at=timezone.now())

    assert client.get(WHOAMI).status_code == 401


def test_no_credential_is_401(db):
    assert APIClient().get(WHOAMI).status_code == 401


def test_bearer_token_acts_in_the_workspace_named_in_the_token(workspace, other_workspace, learner, bearer_client):
    MembershipFactory(user=learner, workspace=other_workspace, role=Role.ADMIN)

    as_learner = bearer_client(learner, workspace).get(WHOAMI).json()
    as_admin = bearer_client(learner, other_workspace).get(WHOAMI).json()

    assert as_learner == {"workspace": "acme", "role": "learner", "kind": "jwt", "email": "learner@acme.test"}
    assert as_admin == {"workspace": "globex", "role": "admin", "kind": "jwt", "email": "learner@acme.test"}


def test_bearer_token_of_a_removed_member_is_401(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    learner.memberships.all().delete()

    assert client.get(WHOAMI).status_code == 401


def test_garbage_bearer_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert client.get(WHOAMI).status_code == 401


def test_session_acts_in_the_users_first_workspace(workspace, admin_user, session_client):
    response = session_client(admin_user).get(WHOAMI)

    assert response.json() == {"workspace": "acme", "role": "admin", "kind": "session", "email": "admin@acme.test"}


def test_session_user_without_workspace_is_refused(db, session_client):
    from tests.factories import UserFactory

    response = session_client(UserFactory()).get(WHOAMI)

    assert response.status_code == 403


def test_token_endpoint_trades_password_for_working_bearer(workspace, learner, password):
    response = APIClient().post("/api/auth/token/", {"email": "LEARNER@acme.test", "password": password}, format="json")
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")

    assert client.get(WHOAMI).json()["role"] == "learner"


def test_token_endpoint_refuses_wrong_password(workspace, learner):
    response = APIClient().post("/api/auth/token/", {"email": "learner@acme.test", "password": "wrong"}, format="json")

    assert response.status_code == 401


def test_token_endpoint_names_missing_field(db):
    response = APIClient().post("/api/auth/token/", {"email": "a@b.test"}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()


def test_create_api_key_command_prints_a_working_key_as_last_word(workspace, capsys):
    call_command("create_api_key", "--workspace", "acme", "--role", "instructor")
    raw_key = capsys.readouterr().out.split()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    assert client.get(WHOAMI).json()["role"] == "instructor"


def test_issue_token_command_prints_a_working_token_as_last_word(workspace, learner, capsys):
    call_command("issue_token", "learner@acme.test")
    token = capsys.readouterr().out.split()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.get(WHOAMI).json() == {
        "workspace": "acme",
        "role": "learner",
        "kind": "jwt",
        "email": "learner@acme.test",
    }


def test_create_api_key_for_unknown_workspace_fails_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No workspace with slug 'nope'"):
        call_command("create_api_key", "--workspace", "nope")
