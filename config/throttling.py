"""Rate limits per credential and per API family (docs/security.md, "Rate limits").

Every API family has a throttle below whose `scope` is the family and whose rate is a setting,
`<FAMILY>_RATE_LIMIT`, read from the environment (config/rates.py for the syntax; empty: no
limit). Requests are counted per credential: per API key, or per user and workspace for a session
or a bearer token; requests without a credential (the token endpoints) per client IP address.
Throttles run after authentication and permission (DRF's order), so a refused request never uses
up a credential's allowance. The view's own exception handler answers the refusal in its family's
error envelope; DRF adds `Retry-After` (whole seconds until the window ends).

Counting is a fixed window per (family, credential): one cache counter named after the window,
incremented atomically (Redis INCR), O(1) whatever the limit. DRF's SimpleRateThrottle keeps the
time of every request of the window in one cache value (O(limit) per request: 3,000 floats for the
tracking limit) and reads then writes it, so processes overwrite each other's counts. A client
may get up to twice the limit across a window boundary: the limits guard against runaway or
abusive clients, they are no billing meter.

The counters live in Django's default cache: Redis (CACHE_URL) in production, so that every
process and host counts together; the per-process local-memory cache otherwise, where each
process counts on its own. With Redis unreachable, FailSoftRedisCache's `incr` answers 1 and the
throttles let requests through (config/availability.py).
"""

import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from .rates import parse_rate

# Outlives the window, so that no increment of a window's counter meets an expired key (Django's
# Redis `incr` checks the key exists, then increments: a key expiring in between would be
# recreated without a TTL).
COUNTER_GRACE_S = 60


def clock():
    """Epoch seconds; tests move it instead of sleeping."""
    return time.time()


class CredentialRateThrottle(BaseThrottle):
    """`rate_setting` requests per window per credential (per IP without one), counted under
    `scope`. `methods`: the HTTP methods counted (None: all)."""

    scope = ""
    rate_setting = ""
    methods = None

    def __init__(self):
        self.retry_after_s = None

    def applies_to(self, method):
        return self.methods is None or method.upper() in self.methods

    def rate(self):
        return parse_rate(getattr(settings, self.rate_setting, ""))

    def ident(self, request):
        from accounts.credentials import Credential

        credential = request.auth
        if isinstance(credential, Credential):
            if credential.api_key is not None:
                return f"key:{credential.api_key.pk}"
            return f"user:{credential.user.pk}:ws:{credential.workspace.pk}"
        return self.ip_ident(request)

    def ip_ident(self, request):
        # REMOTE_ADDR, or the address the trusted proxies saw (REST_FRAMEWORK NUM_PROXIES); only
        # characters of an address go into the key, and at most 64 of them.
        return "ip:" + re.sub(r"[^0-9A-Za-z:.]", "_", self.get_ident(request) or "unknown")[:64]

    def allow_request(self, request, view):
        rate = self.rate()
        if rate is None or not self.applies_to(request.method):
            return True
        now = clock()
        window = math.floor(now / rate.window_s)
        key = f"throttle:{self.scope}:{self.ident(request)}:{rate.window_s}:{window}"
        count = increment(key, rate.window_s + COUNTER_GRACE_S)
        self.retry_after_s = (window + 1) * rate.window_s - now
        return count <= rate.limit

    def wait(self):
        return self.retry_after_s


def increment(key, timeout_s):
    """The counter after adding one, created at 1 (with its expiry) by the first request."""
    try:
        return cache.incr(key)
    except ValueError:  # no counter yet: the window's first request
        if cache.add(key, 1, timeout_s):
            return 1
        return cache.incr(key)  # another process created it in between


class IpRateThrottle(CredentialRateThrottle):
    """Counted per client IP address whatever the credential."""

    def ident(self, request):
        return self.ip_ident(request)


# --- The families -------------------------------------------------------------------------------


class TrackingRateThrottle(CredentialRateThrottle):
    """/api/track/page-sessions and /api/track/events."""

    scope, rate_setting = "tracking", "TRACKING_RATE_LIMIT"


class ImportRateThrottle(CredentialRateThrottle):
    """/api/import."""

    scope, rate_setting = "import", "IMPORT_RATE_LIMIT"


class XapiRateThrottle(CredentialRateThrottle):
    """/xapi/statements (reads and writes)."""

    scope, rate_setting = "xapi", "XAPI_RATE_LIMIT"


class LearnerAnalyticsRateThrottle(CredentialRateThrottle):
    """/api/user/analytics (SkillRise)."""

    scope, rate_setting = "learner-analytics", "LEARNER_ANALYTICS_RATE_LIMIT"


class CourseInfoRateThrottle(CredentialRateThrottle):
    """/api/v0/courses/... (Open edX)."""

    scope, rate_setting = "course-info", "COURSE_INFO_RATE_LIMIT"


class Learning360RateThrottle(CredentialRateThrottle):
    """/api/v2/courses/stats, /api/v2/users, /api/v1/courses/.../stats/... (360Learning)."""

    scope, rate_setting = "learning360", "LEARNING360_RATE_LIMIT"


class AnalyseRateThrottle(CredentialRateThrottle):
    """/analyse/* (Skillhabit)."""

    scope, rate_setting = "analyse", "ANALYSE_RATE_LIMIT"


class VideoCloudRateThrottle(CredentialRateThrottle):
    """/analytics/videos..., /analytics/users..., /analytics/system/* (VideoCloud)."""

    scope, rate_setting = "videocloud", "VIDEOCLOUD_RATE_LIMIT"


class ExportRateThrottle(CredentialRateThrottle):
    """/analytics/export and /analytics/export/{id}: every method (creating, polling, deleting)."""

    scope, rate_setting = "exports", "EXPORT_RATE_LIMIT"


class ExportCreateRateThrottle(CredentialRateThrottle):
    """POST /analytics/export only: each creation queues work for the export worker."""

    scope, rate_setting = "export-create", "EXPORT_CREATE_RATE_LIMIT"
    methods = frozenset({"POST"})


class AuthTokenRateThrottle(IpRateThrottle):
    """/api/auth/token/ and /api/auth/token/refresh/, per client IP: password guessing."""

    scope, rate_setting = "auth-token", "AUTH_TOKEN_RATE_LIMIT"


class DefaultRateThrottle(CredentialRateThrottle):
    """Every other DRF view (REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES): /api/me/, the health probe."""

    scope, rate_setting = "api", "API_RATE_LIMIT"


# --- OpenAPI: a 429 response on every throttled operation ---------------------------------------

RETRY_AFTER_HEADER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the window ends and requests are counted anew"}
}


def _string(**extra):
    return {"type": "string", **extra}


def _rate_limit_body(view):
    """The JSON schema of the 429 body the view's exception handler answers."""
    from analytics.api.course_stats import learning360_exception_handler
    from analytics.api.envelopes import success_message_exception_handler, videocloud_exception_handler

    handler = view.get_exception_handler()
    if handler is videocloud_exception_handler:
        error = {"type": "object", "properties": {"code": _string(enum=["ANALYTICS_RATE_LIMIT"]), "message": _string()},
                 "required": ["code", "message"]}  # fmt: skip
        return {"type": "object", "properties": {"success": {"type": "boolean"}, "error": error}, "required": ["success", "error"]}
    if handler is success_message_exception_handler:
        return {"type": "object", "properties": {"success": {"type": "boolean"}, "message": _string()}, "required": ["success", "message"]}
    if handler is learning360_exception_handler:
        error = {"type": "object", "properties": {"code": _string(enum=["tooManyRequests"]), "message": _string()},
                 "required": ["code", "message"]}  # fmt: skip
        return {"type": "object", "properties": {"error": error}, "required": ["error"]}
    return {"type": "object", "properties": {"detail": _string()}, "required": ["detail"]}


def document_rate_limits(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation whose view has a CredentialRateThrottle
    for its method gets a 429 response (the family's envelope, Retry-After), unless it documents
    one already. Media types: JSON, plus those of the success response (Open edX CSV: the error
    rendered as CSV)."""
    for path, _, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        if not any(isinstance(t, CredentialRateThrottle) and t.applies_to(method) for t in view.get_throttles()):
            continue
        route = generator.coerce_path(path, method, view)
        operation = result["paths"].get(route if route.startswith("/") else "/" + route, {}).get(method.lower())
        if operation is None or "429" in operation.get("responses", {}):
            continue
        body = _rate_limit_body(view)
        media_types = {"application/json"}
        for code, response in operation.get("responses", {}).items():
            if code.startswith("2"):
                media_types.update(response.get("content", {}))
        content = {media: {"schema": body if "json" in media else {"type": "string"}} for media in sorted(media_types)}
        operation.setdefault("responses", {})["429"] = {
            "description": "Rate limit of the family exceeded for this credential (docs/security.md)",
            "headers": RETRY_AFTER_HEADER,
            "content": content,
        }
    return result
