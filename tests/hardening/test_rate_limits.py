"""Rate limits per credential and per API family (config/throttling.py, docs/security.md).

For every family, with a limit of LIMIT requests a minute: the (LIMIT+1)th request of one
credential is a 429 in the family's own error envelope with `Retry-After` (the seconds left in the
window, computed from the pinned clock), another credential of the same workspace is still served,
and the first is served again once the clock has moved into the next window. The clock is moved,
never slept on.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from config import throttling
from config.rates import RATE_LIMIT_SETTINGS, Rate, parse_rate
from tests.factories import CourseFactory

LIMIT = 2
WINDOW_START = 1_800_000_000.0  # a multiple of 60: the start of a one-minute window
INTO_WINDOW_S = 10.25
EXPECTED_RETRY_AFTER = 50  # ceil(60 - 10.25)
THROTTLED = f"Request was throttled. Expected available in {EXPECTED_RETRY_AFTER} seconds."


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    pinned = Clock(WINDOW_START + INTO_WINDOW_S)
    monkeypatch.setattr(throttling, "clock", pinned)
    return pinned


# --- The families: how to call each, and its 429 envelope -----------------------------------------


def session_item():
    return {
        "id": str(uuid.uuid4()),
        "page": "Course Player",
        "path": "/player/x",
        "startedAt": "2026-03-01T09:30:00Z",
        "duration": 30,
    }


def detail_envelope(body):
    return body == {"detail": THROTTLED}


def success_message_envelope(body):
    return body == {"success": False, "message": THROTTLED}


def videocloud_envelope(body):
    return body == {"success": False, "error": {"code": "ANALYTICS_RATE_LIMIT", "message": THROTTLED}}


def learning360_envelope(body):
    return body == {"error": {"code": "tooManyRequests", "message": THROTTLED}}


@dataclass
class Family:
    setting: str
    credential: str  # "api_key" (admin API key) or "learner" (a learner's bearer token)
    call: Callable  # call(client) -> response
    served: int  # the status of a request within the limit
    envelope: Callable  # envelope(body) -> whether the 429 body is the family's


FAMILIES = {
    "tracking": Family(
        "TRACKING_RATE_LIMIT",
        "learner",
        lambda c: c.post("/api/track/page-sessions", [session_item()], format="json"),
        200,
        detail_envelope,
    ),
    "import": Family(
        "IMPORT_RATE_LIMIT",
        "api_key",
        lambda c: c.post(
            "/api/import",
            data=json.dumps({"kind": "user", "email": f"{uuid.uuid4().hex}@acme.test"}),
            content_type="application/x-ndjson",
        ),
        200,
        detail_envelope,
    ),
    "xapi": Family(
        "XAPI_RATE_LIMIT",
        "api_key",
        lambda c: c.get("/xapi/statements", HTTP_X_EXPERIENCE_API_VERSION="1.0.3"),
        200,
        detail_envelope,
    ),
    "learner analytics": Family(
        "LEARNER_ANALYTICS_RATE_LIMIT",
        "learner",
        lambda c: c.get("/api/user/analytics"),
        200,
        success_message_envelope,
    ),
    "course info": Family(
        "COURSE_INFO_RATE_LIMIT",
        "api_key",
        lambda c: c.get("/api/v0/courses/course-v1:Acme+AN101+2026/enrollment/"),
        200,
        detail_envelope,
    ),
    "360 v2": Family("LEARNING360_RATE_LIMIT", "api_key", lambda c: c.get("/api/v2/users"), 200, learning360_envelope),
    "analyse": Family(
        "ANALYSE_RATE_LIMIT", "api_key", lambda c: c.get("/analyse/groups"), 200, success_message_envelope
    ),
    "videocloud": Family(
        "VIDEOCLOUD_RATE_LIMIT",
        "api_key",
        lambda c: c.get("/analytics/videos/summary"),
        200,
        videocloud_envelope,
    ),
    "exports": Family("EXPORT_RATE_LIMIT", "api_key", lambda c: c.get("/analytics/export"), 200, videocloud_envelope),
    "export creation": Family(
        "EXPORT_CREATE_RATE_LIMIT",
        "api_key",
        lambda c: c.post("/analytics/export", {"type": "video", "period": "7d", "format": "csv"}, format="json"),
        202,
        videocloud_envelope,
    ),
    "other endpoints (/api/me/)": Family(
        "API_RATE_LIMIT", "api_key", lambda c: c.get("/api/me/"), 200, detail_envelope
    ),
}


@pytest.fixture
def course(workspace):
    return CourseFactory(workspace=workspace, key="course-v1:Acme+AN101+2026")


@pytest.fixture
def two_credentials(workspace, make_member, api_key_client, bearer_client, course):
    """credentials(kind) -> two clients of the same workspace with distinct credentials."""

    def make(kind):
        if kind == "api_key":
            return api_key_client(workspace, Role.ADMIN), api_key_client(workspace, Role.ADMIN)
        first, second = (make_member(workspace, Role.LEARNER, email=f"{name}@acme.test") for name in ("ann", "bob"))
        return bearer_client(first, workspace), bearer_client(second, workspace)

    return make


@pytest.mark.parametrize("name", FAMILIES)
def test_the_request_over_the_limit_is_429_in_the_family_envelope_for_that_credential_only(
    name, settings, clock, two_credentials
):
    family = FAMILIES[name]
    setattr(settings, family.setting, f"{LIMIT}/min")
    first, second = two_credentials(family.credential)

    within = [family.call(first).status_code for _ in range(LIMIT)]
    over = family.call(first)
    other_credential = family.call(second)

    assert within == [family.served] * LIMIT
    assert over.status_code == 429
    assert over["Retry-After"] == str(EXPECTED_RETRY_AFTER)
    assert family.envelope(over.json()), over.json()
    assert other_credential.status_code == family.served


@pytest.mark.parametrize("name", FAMILIES)
def test_the_limit_resets_when_the_window_ends(name, settings, clock, two_credentials):
    family = FAMILIES[name]
    setattr(settings, family.setting, f"{LIMIT}/min")
    first, _ = two_credentials(family.credential)
    for _ in range(LIMIT):
        family.call(first)

    clock.now = WINDOW_START + 59.9
    still_throttled = family.call(first)
    clock.now = WINDOW_START + 60
    next_window = family.call(first)

    assert still_throttled.status_code == 429
    assert still_throttled["Retry-After"] == "1"  # ceil(0.1)
    assert next_window.status_code == family.served


def test_families_count_apart(settings, clock, workspace, api_key_client):
    settings.VIDEOCLOUD_RATE_LIMIT = "1/min"
    settings.ANALYSE_RATE_LIMIT = "1/min"
    client = api_key_client(workspace)

    statuses = [client.get(path).status_code for path in ("/analytics/videos/summary", "/analyse/groups")]

    assert statuses == [200, 200]
    assert client.get("/analyse/groups").status_code == 429


def test_a_user_counts_apart_in_each_workspace(settings, clock, workspace, other_workspace, learner, bearer_client):
    from accounts.models import Membership

    Membership.objects.create(user=learner, workspace=other_workspace, role=Role.LEARNER)
    settings.LEARNER_ANALYTICS_RATE_LIMIT = "1/min"

    here = bearer_client(learner, workspace)
    there = bearer_client(learner, other_workspace)

    assert [here.get("/api/user/analytics").status_code, there.get("/api/user/analytics").status_code] == [200, 200]
    assert here.get("/api/user/analytics").status_code == 429


def test_a_session_and_a_bearer_token_of_one_user_share_the_count(
    settings, clock, workspace, learner, bearer_client, session_client
):
    settings.LEARNER_ANALYTICS_RATE_LIMIT = "1/min"

    first = session_client(learner).get("/api/user/analytics")
    second = bearer_client(learner, workspace).get("/api/user/analytics")

    assert (first.status_code, second.status_code) == (200, 429)


def test_360_v1_and_v2_share_the_family_count(settings, clock, workspace, learner, course, api_key_client):
    settings.LEARNING360_RATE_LIMIT = "1/min"
    client = api_key_client(workspace)
    v1 = f"/api/v1/courses/{course.key}/stats/{learner.email}?company={workspace.slug}&apiKey={client.raw_api_key}"

    served = APIClient().get(v1)
    over = client.get("/api/v2/users")

    assert served.status_code == 200 and served.json() == {"attempts": []}
    assert over.status_code == 429
    assert learning360_envelope(over.json())


def test_xapi_429_keeps_the_version_header(settings, clock, workspace, api_key_client):
    settings.XAPI_RATE_LIMIT = "1/min"
    client = api_key_client(workspace)
    client.get("/xapi/statements", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")

    over = client.get("/xapi/statements", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")

    assert over.status_code == 429
    assert over["X-Experience-API-Version"] == "1.0.3"


def test_export_creation_is_limited_apart_from_reading(settings, clock, workspace, api_key_client):
    settings.EXPORT_CREATE_RATE_LIMIT = "1/min"
    client = api_key_client(workspace)
    body = {"type": "video", "period": "7d", "format": "csv"}

    created = client.post("/analytics/export", body, format="json")
    refused = client.post("/analytics/export", body, format="json")
    listing = client.get("/analytics/export")

    assert (created.status_code, refused.status_code) == (202, 429)
    assert videocloud_envelope(refused.json())
    assert listing.status_code == 200
    assert [job["exportId"] for job in listing.json()["data"]] == [created.json()["data"]["exportId"]]


def test_a_refused_permission_does_not_use_up_the_allowance(
    settings, clock, workspace, learner, bearer_client, api_key_client
):
    settings.VIDEOCLOUD_RATE_LIMIT = "1/min"
    learner_client = bearer_client(learner, workspace)

    refused = [learner_client.get("/analytics/videos/summary").status_code for _ in range(3)]

    assert refused == [403, 403, 403]


# --- The token endpoints: per client IP address ----------------------------------------------------


def token_request(client, password, ip="10.0.0.1", **headers):
    return client.post(
        reverse("token_obtain"),
        {"email": "admin@acme.test", "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **headers,
    )


def test_token_endpoint_limits_guesses_per_client_address(settings, clock, admin_user, password):
    settings.AUTH_TOKEN_RATE_LIMIT = f"{LIMIT}/min"
    client = APIClient()

    guesses = [token_request(client, "wrong-password").status_code for _ in range(LIMIT)]
    over = token_request(client, password)
    elsewhere = token_request(client, password, ip="10.0.0.2")

    assert guesses == [401] * LIMIT
    assert over.status_code == 429
    assert over["Retry-After"] == str(EXPECTED_RETRY_AFTER)
    assert detail_envelope(over.json())
    assert elsewhere.status_code == 200 and set(elsewhere.json()) == {"access", "refresh", "workspace"}


def test_a_forged_forwarded_for_header_does_not_reset_the_count(settings, clock, admin_user, password):
    settings.AUTH_TOKEN_RATE_LIMIT = "1/min"
    client = APIClient()
    token_request(client, "wrong-password")

    forged = token_request(client, password, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert forged.status_code == 429


def test_the_refresh_endpoint_counts_with_the_token_endpoint(settings, clock, admin_user, password):
    settings.AUTH_TOKEN_RATE_LIMIT = "1/min"
    client = APIClient()
    tokens = token_request(client, password).json()

    refresh = client.post(
        reverse("token_refresh"), {"refresh": tokens["refresh"]}, format="json", REMOTE_ADDR="10.0.0.1"
    )

    assert refresh.status_code == 429
    assert detail_envelope(refresh.json())


def test_the_health_probe_is_never_throttled(db, settings, clock, api_client):
    settings.API_RATE_LIMIT = "1/min"

    assert [api_client.get("/api/health/").status_code for _ in range(3)] == [200, 200, 200]


# --- Defaults, settings, the cache --------------------------------------------------------------


def per_minute(rate: Rate):
    return rate.limit * 60 / rate.window_s


def test_default_tracking_limit_leaves_room_for_the_ingest_benchmark(settings):
    # scripts/bench_ingest.py: 5,000 items/s from one admin API key in batches of 500 = 600 requests
    # a minute; the page-time tracker: one batch every 30 s per browser tab.
    bench_requests_per_minute = 5000 / 500 * 60

    assert per_minute(parse_rate(settings.TRACKING_RATE_LIMIT)) >= 5 * bench_requests_per_minute


def test_defaults_are_stricter_for_creating_exports_and_for_tokens(settings):
    exports = per_minute(parse_rate(settings.EXPORT_RATE_LIMIT))

    assert per_minute(parse_rate(settings.EXPORT_CREATE_RATE_LIMIT)) < exports
    assert per_minute(parse_rate(settings.AUTH_TOKEN_RATE_LIMIT)) <= 20


def test_an_empty_setting_turns_a_family_limit_off(settings, clock, workspace, api_key_client):
    settings.VIDEOCLOUD_RATE_LIMIT = ""
    client = api_key_client(workspace)

    assert {client.get("/analytics/videos/summary").status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/min", Rate(600, 60)),
        ("50/s", Rate(50, 1)),
        ("10/15min", Rate(10, 900)),
        ("3/hours", Rate(3, 3600)),
        ("1/d", Rate(1, 86400)),
        (" 5 / minute ", Rate(5, 60)),
        ("", None),
    ],
)
def test_rates_parse(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["abc", "10", "10/fortnight", "0/min", "5/0min", "-1/min"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError, match="rate|positive"):
        parse_rate(text)


def test_a_bad_rate_in_the_environment_stops_the_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import env_rate

    monkeypatch.setenv("TRACKING_RATE_LIMIT", "lots")
    with pytest.raises(ImproperlyConfigured, match="TRACKING_RATE_LIMIT"):
        env_rate("TRACKING_RATE_LIMIT", "3000/min")


# --- OpenAPI: the 429 is documented in each family's shape -----------------------------------------


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("path", "method", "fields"),
    [
        ("/api/track/page-sessions", "post", {"detail"}),
        ("/xapi/statements", "get", {"detail"}),
        ("/api/user/analytics", "get", {"success", "message"}),
        ("/analyse/results", "post", {"success", "message"}),
        ("/api/v2/courses/stats", "get", {"error"}),
        ("/api/v1/courses/{course_id}/stats/{user_email}", "get", {"error"}),
        ("/analytics/export", "post", {"success", "error"}),
        ("/api/auth/token/", "post", {"detail"}),
    ],
)
def test_schema_documents_each_family_429(schema, path, method, fields):
    response = schema["paths"][path][method]["responses"]["429"]

    assert set(response["content"]["application/json"]["schema"]["properties"]) == fields
    assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_schema_leaves_the_health_probe_without_429(schema):
    assert "429" not in schema["paths"]["/api/health/"]["get"]["responses"]


def test_every_family_setting_is_listed_and_set(settings):
    families = {cls.rate_setting for cls in all_throttles(throttling.CredentialRateThrottle)}

    assert families == set(RATE_LIMIT_SETTINGS)
    assert all(parse_rate(getattr(settings, name)) is not None for name in RATE_LIMIT_SETTINGS)


def all_throttles(base):
    for cls in base.__subclasses__():
        if cls.rate_setting:
            yield cls
        yield from all_throttles(cls)
