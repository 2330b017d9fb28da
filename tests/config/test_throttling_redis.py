"""The throttle counter on Redis: one round trip a request, the window's expiry set once."""

import socket

import pytest
from django.core.cache import caches

from config import throttling
from tests.conftest import skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_cache(settings):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    settings.CACHES = {
        "default": {
            "BACKEND": "config.availability.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"test-throttle-{socket.gethostname()}",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    cache = caches["default"]
    cache.delete("throttle:test:window")
    yield cache
    cache.delete("throttle:test:window")


def test_counts_up_from_one_and_sets_the_expiry_once(redis_cache):
    client = redis_cache._cache.get_client()
    raw_key = redis_cache.make_and_validate_key("throttle:test:window")

    counts = [throttling.increment("throttle:test:window", 120) for _ in range(3)]
    client.expire(raw_key, 90)  # a later increment must not push the window's end back
    counts.append(throttling.increment("throttle:test:window", 120))

    assert counts == [1, 2, 3, 4]
    assert redis_cache.get("throttle:test:window") == 4  # the integer Django's cache reads
    assert 0 < client.ttl(raw_key) <= 90


def test_one_round_trip_a_request(redis_cache, monkeypatch):
    import redis

    executed = []
    original = redis.client.Pipeline.execute

    def counting(pipeline, *args, **kwargs):
        executed.append(len(pipeline.command_stack))
        return original(pipeline, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting)
    monkeypatch.setattr(redis.Redis, "exists", lambda *a, **k: pytest.fail("no EXISTS round trip"))

    throttling.increment("throttle:test:window", 120)
    throttling.increment("throttle:test:window", 120)

    assert executed == [2, 2]  # SET NX EX and INCR, sent together


def test_unreachable_redis_lets_the_request_through(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "config.availability.FailSoftRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    assert throttling.increment("throttle:test:window", 120) == 1


def test_the_cache_keeps_one_redis_client_for_every_call(redis_cache):
    redis_cache.set("throttle:test:window", 7)

    assert redis_cache._cache.get_client() is redis_cache._cache.get_client(write=True)
    assert redis_cache.get("throttle:test:window") == 7
