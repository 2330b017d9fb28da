"""Rate limits per credential and per API family (docs/security.md, "Rate limits").

Every API family has a scope in the table config/rates.RATE_LIMITS, whose rate is a setting,
`<FAMILY>_RATE_LIMIT`, read from the environment (config/rates.py for the syntax; empty: no
limit); a view names its scope: `throttle_classes = [family_throttle("analyse")]`. Requests are
counted per credential: per API key, or per user and workspace for a session or a bearer token;
requests without a credential, and every request of a `per_ip` scope (the token endpoints), per
client IP address.
Throttles run after authentication and permission (DRF's order), so a refused request never uses
up a credential's allowance. The view's own exception handler answers the refusal in its family's
error envelope; DRF adds `Retry-After` (whole seconds until the window ends).

Counting is a fixed window per (family, credential): one cache counter named after the window,
incremented atomically (Redis: SET NX with its expiry and INCR, one round trip), O(1) whatever the limit. DRF's SimpleRateThrottle keeps the
time of every request of the window in one cache value (O(limit) per request: 3,000 floats for the
tracking limit) and reads then writes it, so processes overwrite each other's counts. A client
may get up to twice the limit across a window boundary: the limits guard against runaway or
abusive clients, they are no billing meter.

The counters live in Django's default cache: Redis (CACHE_URL) in production, so that every
process and host counts together; the per-process local-memory cache otherwise, where each
process counts on its own. With Redis unreachable, FailSoftRedisCache's `incr` answers 1 and the
throttles let requests through (config/availability.py).
"""

import logging
import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCacheClient
from rest_framework.throttling import BaseThrottle

from .rates import RATE_LIMITS, parse_rate

logger = logging.getLogger(__name__)

# Outlives the window, so that no increment of a window's counter meets an expired key (Django's
# Redis `incr` checks the key exists, then increments: a key expiring in between would be
# recreated without a TTL).
COUNTER_GRACE_S = 60


def clock():
    """Epoch seconds; tests move it instead of sleeping."""
    return time.time()


class CredentialRateThrottle(BaseThrottle):
    """`rate_setting` requests per window per credential (per IP without one, or always with
    `per_ip`), counted under `scope`. `methods`: the HTTP methods counted (None: all). Made for
    each scope of RATE_LIMITS by family_throttle."""

    scope = ""
    rate_setting = ""
    methods = None
    per_ip = False

    def __init__(self):
        self.retry_after_s = None

    def applies_to(self, method):
        return self.methods is None or method.upper() in self.methods

    def rate(self):
        return parse_rate(getattr(settings, self.rate_setting, ""))

    def ident(self, request):
        from accounts.credentials import Credential

        credential = request.auth
        if not self.per_ip and isinstance(credential, Credential):
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
    if isinstance(getattr(cache, "_cache", None), RedisCacheClient):
        return _redis_increment(key, timeout_s)
    try:
        return cache.incr(key)
    except ValueError:  # no counter yet: the window's first request
        if cache.add(key, 1, timeout_s):
            return 1
        return cache.incr(key)  # another process created it in between


def _redis_increment(key, timeout_s):
    """One round trip to Redis: SET NX with the expiry, then INCR, in one transaction. (Django's
    `incr` asks EXISTS first, and the first request of a window adds: two or three trips.) The
    counter is the plain integer Django's Redis cache stores ints as. Redis unreachable: 1, as
    FailSoftRedisCache's `incr` answers, so requests go through."""
    import redis

    cache_key = cache.make_and_validate_key(key)
    try:
        pipeline = cache._cache.get_client(cache_key, write=True).pipeline(transaction=True)
        pipeline.set(cache_key, 0, ex=timeout_s, nx=True)
        pipeline.incr(cache_key)
        return pipeline.execute()[1]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        logger.warning("Cache unavailable (throttle increment): %s", exc)
        return 1


def _throttle_class(scope, limit):
    name = "".join(part.title() for part in scope.split("-")) + "RateThrottle"
    attributes = {"scope": scope, "rate_setting": limit.setting, "methods": limit.methods, "per_ip": limit.per_ip}
    return type(name, (CredentialRateThrottle,), attributes)


THROTTLES = {scope: _throttle_class(scope, limit) for scope, limit in RATE_LIMITS.items()}


def family_throttle(scope):
    """The throttle class of a scope of RATE_LIMITS, for a view's `throttle_classes`."""
    return THROTTLES[scope]


# REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES: every DRF view without a family throttle.
DefaultRateThrottle = family_throttle("api")


# --- OpenAPI: a 429 response on every throttled operation ---------------------------------------

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds until the window ends and requests are counted anew",
    }
}


DETAIL_BODY = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}

# The 429 body of each exception handler answering another envelope than DRF's `{"detail"}`,
# registered by the API module that defines the handler: config never imports the HTTP layer.
RATE_LIMIT_BODIES = {}


def rate_limit_body(schema):
    """Decorator of a DRF exception handler: `schema` is the JSON schema of the 429 body it answers."""

    def register(handler):
        RATE_LIMIT_BODIES[handler] = schema
        return handler

    return register


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
        body = RATE_LIMIT_BODIES.get(view.get_exception_handler(), DETAIL_BODY)
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
