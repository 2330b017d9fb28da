"""What the service answers while a backing service is down (docs/reliability.md).

- PostgreSQL unreachable (a restart, a failover, a dropped connection): every API family answers
  503 with `Retry-After` in its own error envelope, never a 500, so that clients retry. Each
  family's exception handler first passes the exception through `translate_unavailable`; views
  outside DRF (dashboards, pages) are covered by `DatabaseUnavailableMiddleware`.
- Redis unreachable as the cache: `FailSoftRedisCache` answers misses instead of raising, so reads
  (and the throttles, which then let requests through) keep working.
- The Celery broker unreachable: exports answer 503 (exports/services.py, `QueueUnavailable`).
"""

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
API_PATH_PREFIXES = ("/api/", "/analytics/", "/analyse/", "/xapi/")


class ServiceUnavailable(APIException):
    """503 with `Retry-After` (DRF sets the header from `wait`)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is briefly unavailable; retry after the delay in Retry-After."
    default_code = "service_unavailable"

    def __init__(self, detail=None, retry_after_s=RETRY_AFTER_S):
        super().__init__(detail)
        self.wait = retry_after_s


def is_database_unavailable(exc):
    """OperationalError and InterfaceError: the connection was refused or lost, the server is
    shutting down or starting, a lock or statement timed out. All transient: retrying is right.
    (Integrity and programming errors are other DatabaseError subclasses and stay 4xx/500.)"""
    return isinstance(exc, (OperationalError, InterfaceError))


def translate_unavailable(exc):
    """The exception a family's handler should answer: ServiceUnavailable for a database that
    cannot be reached, the exception itself otherwise. The database's message goes to the log
    only (it names hosts and ports)."""
    if is_database_unavailable(exc):
        logger.warning("Database unavailable, answering 503: %s: %s", type(exc).__name__, exc)
        return ServiceUnavailable("The database is briefly unavailable; retry after the delay in Retry-After.")
    return exc


def exception_handler(exc, context):
    """REST_FRAMEWORK's EXCEPTION_HANDLER for views without a family handler: DRF's, with the
    database's unavailability answered as 503 `{"detail": ...}`."""
    return drf_exception_handler(translate_unavailable(exc), context)


class DatabaseUnavailableMiddleware:
    """503 instead of a 500 page for views outside DRF (dashboards, account pages) whose database
    cannot be reached. Exceptions of DRF views never get here: their handlers answer first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        logger.warning("Database unavailable on %s, answering 503: %s", request.path, exception)
        message = "The service is briefly unavailable. Please retry in a few seconds."
        if request.path.startswith(API_PATH_PREFIXES):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response


class SharedRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, keeping one redis.Redis per connection pool: Django's builds
    a new one, with its table of response callbacks, for every cache operation (tens of µs each,
    two or more a request). A redis.Redis is safe to share between threads; its pool hands each
    command a connection and notices a fork."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients.setdefault(index, self._client(connection_pool=self._pools[index]))
        return client


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache that degrades instead of raising when Redis cannot be reached:
    reads miss, writes are dropped, `add` reports "not added" (so a debounce or a lock never
    fires twice), counters fail open. Every call pays at most the socket timeouts of the
    LOCATION's options, so set them short (settings.py does)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedRedisCacheClient

    def _fail_soft(self, operation, fallback, /, *args, **kwargs):
        import redis

        try:
            return getattr(super(), operation)(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            logger.warning("Cache unavailable (%s): %s", operation, exc)
            return fallback

    def get(self, key, default=None, version=None):
        return self._fail_soft("get", default, key, default=default, version=version)

    def get_many(self, keys, version=None):
        return self._fail_soft("get_many", {}, keys, version=version)

    def set(self, key, value, timeout=None, version=None):
        return self._fail_soft("set", None, key, value, timeout=timeout, version=version)

    def set_many(self, data, timeout=None, version=None):
        return self._fail_soft("set_many", list(data), data, timeout=timeout, version=version)

    def add(self, key, value, timeout=None, version=None):
        return self._fail_soft("add", False, key, value, timeout=timeout, version=version)

    def touch(self, key, timeout=None, version=None):
        return self._fail_soft("touch", False, key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._fail_soft("delete", False, key, version=version)

    def delete_many(self, keys, version=None):
        return self._fail_soft("delete_many", None, keys, version=version)

    def has_key(self, key, version=None):
        return self._fail_soft("has_key", False, key, version=version)

    def incr(self, key, delta=1, version=None):
        return self._fail_soft("incr", delta, key, delta=delta, version=version)

    def clear(self):
        return self._fail_soft("clear", False)
