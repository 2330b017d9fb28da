"""Rate limits: the table of every scope's limit (RATE_LIMITS) and the rate strings ("600/min"),
parsed here so that settings.py can refuse a bad one at start-up and the throttles
(config/throttling.py) read the same syntax. No Django imports: settings.py and the benchmarks
import this module before Django is set up."""

import re
from dataclasses import dataclass
from functools import lru_cache

UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
RATE_PATTERN = re.compile(r"^(\d+)/(\d*)([a-z]+?)s?$")


@dataclass(frozen=True)
class RateLimit:
    """One scope's limit: the setting holding its rate, and what its requests are counted by."""

    setting: str
    per_ip: bool = False  # counted per client IP address whatever the credential (else per credential)
    methods: frozenset | None = None  # the HTTP methods counted; None: all


# Every rate limit, by scope (the name a view gives config.throttling.family_throttle, and part of
# the counters' cache keys). Read by config/throttling.py; benchmarks turn them all off
# (scripts/benchlib.py).
RATE_LIMITS = {
    "tracking": RateLimit("TRACKING_RATE_LIMIT"),  # /api/track/page-sessions and /api/track/events
    "import": RateLimit("IMPORT_RATE_LIMIT"),  # /api/import
    "xapi": RateLimit("XAPI_RATE_LIMIT"),  # /xapi/statements (reads and writes)
    "learner-analytics": RateLimit("LEARNER_ANALYTICS_RATE_LIMIT"),  # /api/user/analytics (SkillRise)
    "course-info": RateLimit("COURSE_INFO_RATE_LIMIT"),  # /api/v0/... (Open edX)
    # /api/v2/courses/stats, /api/v2/users, /api/v1/courses/.../stats/... (360Learning)
    "learning360": RateLimit("LEARNING360_RATE_LIMIT"),
    "analyse": RateLimit("ANALYSE_RATE_LIMIT"),  # /analyse/* (Skillhabit)
    # /analytics/videos..., /analytics/users..., /analytics/system/* (VideoCloud)
    "videocloud": RateLimit("VIDEOCLOUD_RATE_LIMIT"),
    # /analytics/export and /analytics/export/{id}: every method (creating, polling, deleting)
    "exports": RateLimit("EXPORT_RATE_LIMIT"),
    # POST /analytics/export only: each creation queues work for the export worker
    "export-create": RateLimit("EXPORT_CREATE_RATE_LIMIT", methods=frozenset({"POST"})),
    # /api/auth/token/ and /api/auth/token/refresh/, per client IP: password guessing
    "auth-token": RateLimit("AUTH_TOKEN_RATE_LIMIT", per_ip=True),
    # Every other DRF view (REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES): /api/me/, the health probe
    "api": RateLimit("API_RATE_LIMIT"),
}
RATE_LIMIT_SETTINGS = tuple(limit.setting for limit in RATE_LIMITS.values())


@dataclass(frozen=True)
class Rate:
    limit: int  # requests allowed per window
    window_s: int


@lru_cache(maxsize=64)  # read on every throttled request; a handful of distinct strings
def parse_rate(text):
    """Rate for "N/unit" or "N/<k><unit>" ("3000/min", "50/s", "10/15min"; units s, sec, second,
    m, min, minute, h, hour, d, day, with an optional plural s), or None for "" (no limit).

    Raises ValueError for anything else, and for a zero limit or window: a family is turned off
    with an empty string, never by a limit that refuses everything by accident.
    """
    text = (text or "").strip().lower().replace(" ", "")
    if not text:
        return None
    match = RATE_PATTERN.match(text)
    if match is None or match.group(3) not in UNIT_SECONDS:
        raise ValueError(
            f"{text!r} is not a rate: use N/s, N/min, N/hour or N/day (e.g. 600/min), or empty for no limit"
        )
    limit, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if limit == 0 or multiple == 0:
        raise ValueError(f"{text!r}: the limit and the window must be positive (empty disables the limit)")
    return Rate(limit=limit, window_s=multiple * UNIT_SECONDS[unit])
