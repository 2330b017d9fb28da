"""Credential lookups are cached, and every change to what they resolve to is seen at once."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.credential_cache import GENERATION_KEY, credentials_changed
from accounts.models import ApiKey, Membership, Role, User, Workspace
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

WHOAMI = "/api/me/"


def test_a_known_api_key_costs_no_query_on_later_requests(workspace, api_key_client, django_assert_num_queries):
    client = api_key_client(workspace)
    assert client.get(WHOAMI).status_code == 200  # looks the key up and stamps its last use

    with django_assert_num_queries(0):
        response = client.get(WHOAMI)

    assert response.json() == {"workspace": "acme", "role": "admin", "kind": "api_key", "email": None}


def test_api_key_revoked_by_a_queryset_update_is_refused_on_the_next_request(workspace, api_key_client):
    client = api_key_client(workspace)
    assert client.get(WHOAMI).status_code == 200

    ApiKey.objects.filter(workspace=workspace).update(revoked_at=timezone.now())

    assert client.get(WHOAMI).status_code == 401


def test_api_key_revoked_by_a_save_is_refused_on_the_next_request(workspace, api_key_client):
    client = api_key_client(workspace)
    assert client.get(WHOAMI).status_code == 200
    api_key = ApiKey.objects.get()

    api_key.revoked_at = timezone.now()
    api_key.save()

    assert client.get(WHOAMI).status_code == 401


def test_deleted_api_key_is_refused_on_the_next_request(workspace, api_key_client):
    client = api_key_client(workspace)
    assert client.get(WHOAMI).status_code == 200

    ApiKey.objects.all().delete()

    assert client.get(WHOAMI).status_code == 401


def test_api_key_role_change_is_seen_on_the_next_request(workspace, api_key_client):
    client = api_key_client(workspace, Role.ADMIN)
    assert client.get(WHOAMI).json()["role"] == "admin"

    ApiKey.objects.update(role=Role.INSTRUCTOR)

    assert client.get(WHOAMI).json()["role"] == "instructor"


def test_last_use_stamp_does_not_make_the_cached_key_stale(workspace, api_key_client, django_assert_num_queries):
    client = api_key_client(workspace)
    client.get(WHOAMI)
    generation = cache.get(GENERATION_KEY)

    ApiKey.objects.update(last_used_at=timezone.now())  # what the stamp of another process writes

    with django_assert_num_queries(0):
        assert client.get(WHOAMI).status_code == 200
    assert cache.get(GENERATION_KEY) == generation


def test_a_known_bearer_token_costs_no_query_on_later_requests(
    workspace, learner, bearer_client, django_assert_num_queries
):
    client = bearer_client(learner, workspace)
    assert client.get(WHOAMI).status_code == 200

    with django_assert_num_queries(0):
        response = client.get(WHOAMI)

    assert response.json() == {"workspace": "acme", "role": "learner", "kind": "jwt", "email": "learner@acme.test"}


def test_membership_role_change_is_seen_by_the_next_bearer_request(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    assert client.get(WHOAMI).json()["role"] == "learner"
    membership = Membership.objects.get(user=learner)

    membership.role = Role.ADMIN
    membership.save()

    assert client.get(WHOAMI).json()["role"] == "admin"


def test_role_change_by_bulk_update_is_seen_by_the_next_bearer_request(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    assert client.get(WHOAMI).json()["role"] == "learner"
    membership = Membership.objects.get(user=learner)

    membership.role = Role.INSTRUCTOR
    Membership.objects.bulk_update([membership], ["role"])  # the record import's path

    assert client.get(WHOAMI).json()["role"] == "instructor"


def test_removed_member_is_refused_on_the_next_bearer_request(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    assert client.get(WHOAMI).status_code == 200

    Membership.objects.filter(user=learner).delete()

    assert client.get(WHOAMI).status_code == 401


def test_user_deactivated_by_a_queryset_update_is_refused_as_simplejwt_refuses_it(workspace, learner, bearer_client):
    client = bearer_client(learner, workspace)
    assert client.get(WHOAMI).status_code == 200

    User.objects.filter(pk=learner.pk).update(is_active=False)
    response = client.get(WHOAMI)

    assert response.status_code == 401
    assert response.json()["detail"] == "User is inactive"


def test_renamed_workspace_is_seen_by_the_next_request(workspace, learner, bearer_client, api_key_client):
    token_client = bearer_client(learner, workspace)
    key_client = api_key_client(workspace)
    assert token_client.get(WHOAMI).status_code == 200
    assert key_client.get(WHOAMI).json()["workspace"] == "acme"

    Workspace.objects.filter(pk=workspace.pk).update(slug="acme-renamed")

    assert key_client.get(WHOAMI).json()["workspace"] == "acme-renamed"
    assert token_client.get(WHOAMI).status_code == 401  # its workspace claim names the old slug


def test_session_workspace_switch_is_seen_on_the_next_request(workspace, other_workspace, learner, session_client):
    from accounts.credentials import SESSION_WORKSPACE_KEY

    MembershipFactory(user=learner, workspace=other_workspace, role=Role.ADMIN)
    client = session_client(learner)
    assert client.get(WHOAMI).json()["workspace"] == "acme"
    session = client.session

    session[SESSION_WORKSPACE_KEY] = other_workspace.pk
    session.save()

    assert client.get(WHOAMI).json() == {
        "workspace": "globex",
        "role": "admin",
        "kind": "session",
        "email": "learner@acme.test",
    }


def test_login_stamp_does_not_make_cached_credentials_stale(learner):
    generation = cache.get(GENERATION_KEY)

    learner.last_login = timezone.now()
    learner.save(update_fields=["last_login"])

    assert cache.get(GENERATION_KEY) == generation


def test_a_change_is_marked_at_once_and_again_after_its_commit(django_capture_on_commit_callbacks):
    credentials_changed()
    before_commit = cache.get(GENERATION_KEY)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        credentials_changed()

    assert len(callbacks) == 1
    assert cache.get(GENERATION_KEY) == before_commit + 2


def test_without_the_cache_every_request_looks_the_key_up(
    workspace, api_key_client, settings, django_assert_num_queries
):
    settings.CREDENTIAL_CACHE_S = 0
    client = api_key_client(workspace)
    client.get(WHOAMI)

    with django_assert_num_queries(1):
        assert client.get(WHOAMI).status_code == 200
