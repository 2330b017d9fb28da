"""Schemathesis against the OpenAPI schema: every operation, a bounded number of generated
requests each, through the Django WSGI app on the test database.

Checks on every response: no 5xx, the status code is documented for the operation, the content
type is one the operation documents, and the body validates against the documented schema.
Deterministic (hypothesis derandomize=True): CI sees the same requests on every run.

The workspace is the tiny demo (generate_demo_data), so that lookups by course key, video key,
e-mail and export id hit rows; half of the generated cases take path values from those rows.
"""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiKey, Membership, Role
from accounts.tokens import issue_tokens
from courses.models import Course, Video
from courses.services.demo_data import generate_demo_data

# Examples per operation: 41 operations x 15 examples (about 600 requests) keep this test near a
# minute on an idle 2-core machine.
EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    """The WSGI app, keeping the test's database connection open between requests (as Django's
    test client does): the handler would close it at the end of every request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded_workspace(db):
    workspace, _ = generate_demo_data("demo", "tiny", seed=7)
    return workspace


@pytest.fixture
def credentials(seeded_workspace):
    _, raw_key = ApiKey.issue(seeded_workspace, role=Role.ADMIN)
    admin = Membership.objects.filter(workspace=seeded_workspace, role=Role.ADMIN).select_related("user").first()
    if admin is None:
        admin = Membership.objects.filter(workspace=seeded_workspace).select_related("user").first()
        admin.role = Role.ADMIN
        admin.save(update_fields=["role"])
    _, access = issue_tokens(admin.user, seeded_workspace)
    return {"api_key": raw_key, "bearer": str(access), "user": admin.user}


def load_schema(app):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)


def real_path_values(workspace):
    course = Course.objects.filter(workspace=workspace).order_by("key").first()
    video = Video.objects.filter(workspace=workspace).order_by("key").first()
    member = Membership.objects.filter(workspace=workspace, role=Role.LEARNER).select_related("user").first()
    return {
        "course_id": course.key,
        "video_key": video.key,
        "user_email": member.user.email,
    }


def headers_for(operation, credentials):
    """The credential each operation takes: an admin API key, or the admin's bearer token where
    only a user's credential is accepted (SkillRise /api/user/analytics)."""
    if operation.path == "/api/user/analytics":
        return {"Authorization": f"Bearer {credentials['bearer']}"}
    if operation.path.startswith("/api/auth/token"):
        return {}
    return {"Authorization": f"Api-Key {credentials['api_key']}"}


def run_operation(operation, credentials, path_values, workspace):
    headers = headers_for(operation, credentials)
    query = None
    if operation.path.startswith("/api/v1/courses/"):
        # 360Learning v1 takes the key and the workspace in the query string only.
        query = {"apiKey": credentials["api_key"], "company": workspace.slug}
    known = {name: value for name, value in path_values.items() if f"{{{name}}}" in operation.path}
    strategies = [operation.as_strategy()]
    if known or query:
        strategies.append(operation.as_strategy(path_parameters=known or None, query=query))
    if query:
        strategies = strategies[1:]

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def check(case):
        # Rate-limit counters (config/throttling.py) start from zero for every request: this test
        # is about schemas, tests/hardening/test_rate_limits.py about the limits.
        cache.clear()
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


def test_every_operation_conforms_to_the_schema(wsgi_app, seeded_workspace, credentials):
    schema = load_schema(wsgi_app)
    path_values = real_path_values(seeded_workspace)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 39
    failures = []
    for operation in operations:
        try:
            run_operation(operation, credentials, path_values, seeded_workspace)
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure is reported, not the first only
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
