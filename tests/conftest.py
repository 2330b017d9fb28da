import os

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role
from accounts.tokens import issue_tokens
from config.celery import app as celery_app

from .factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory

# Tasks run in-process in tests, except in tests that start a real worker.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


def services_required():
    """In CI (REQUIRE_SERVICES=1) a test whose service is missing fails instead of skipping."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason):
    if services_required():
        pytest.fail(reason + " (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(slug="acme", name="Acme Corp")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(slug="globex", name="Globex")


@pytest.fixture
def make_member(db):
    """make_member(workspace, role="learner", **user_fields) -> User with a membership."""

    def make(workspace, role=Role.LEARNER, **user_fields):
        user = UserFactory(**user_fields)
        MembershipFactory(user=user, workspace=workspace, role=role)
        return user

    return make


@pytest.fixture
def learner(workspace, make_member):
    return make_member(workspace, Role.LEARNER, email="learner@acme.test")


@pytest.fixture
def instructor(workspace, make_member):
    return make_member(workspace, Role.INSTRUCTOR, email="instructor@acme.test")


@pytest.fixture
def admin_user(workspace, make_member):
    return make_member(workspace, Role.ADMIN, email="admin@acme.test")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def bearer_client():
    """bearer_client(user, workspace) -> APIClient sending that user's JWT."""

    def make(user, workspace):
        _, access = issue_tokens(user, workspace)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make


@pytest.fixture
def api_key_client(db):
    """api_key_client(workspace, role="admin") -> APIClient sending a fresh API key."""

    def make(workspace, role=Role.ADMIN):
        _, raw_key = ApiKey.issue(workspace, role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        client.raw_api_key = raw_key
        return client

    return make


@pytest.fixture
def session_client():
    """session_client(user) -> APIClient logged in through the session."""

    def make(user):
        client = APIClient()
        client.force_login(user)
        return client

    return make


from tests.worker import redis_worker  # noqa: E402,F401  (fixture shared by worker tests)


@pytest.fixture(autouse=True)
def _request_metrics_off(monkeypatch):
    """The request-metrics middleware stays off in tests (its background writes would race the
    test's transaction); tests of the middleware turn it on with the `settings` fixture.

    monkeypatch, not pytest-django's `settings` fixture: that one would wrap the settings of every
    test in an override, and Celery loading its configuration lazily inside such a test fails."""
    from django.conf import settings as django_settings

    monkeypatch.setattr(django_settings, "REQUEST_METRICS_ENABLED", False)


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, monkeypatch):
    """Factories and logins hash with MD5 in tests: the production hasher (PBKDF2, 600k rounds)
    was most of the suite's time. Tests marked `production_password_hasher` keep the real one.

    monkeypatch (see _request_metrics_off), so Django's cached hasher list is reset by hand."""
    if request.node.get_closest_marker("production_password_hasher"):
        yield
        return
    from django.conf import settings as django_settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    monkeypatch.setattr(django_settings, "PASSWORD_HASHERS", FAST_PASSWORD_HASHERS)
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()
    yield
    monkeypatch.undo()
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture(autouse=True)
def _credential_cache_on(settings):
    """Credential lookups cached as in a deployment with Redis (CACHE_URL; off by default with the
    tests' single-process local-memory cache), so query counts are those of production."""
    settings.CREDENTIAL_CACHE_S = 30


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache: rate-limit counters (config/throttling.py) and cached
    sections are keyed by ids that a rolled-back test may hand to the next one."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
