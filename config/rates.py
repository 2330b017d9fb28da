"""Rate-limit strings ("600/min"): parsed here, so that settings.py can refuse a bad one at start-up
and the throttles (config/throttling.py) read the same syntax. No Django imports: settings.py
imports this module before Django is set up."""

import re
from dataclasses import dataclass
from functools import lru_cache

UNIT_SECONDS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}  # fmt: skip
RATE_PATTERN = re.compile(r"^(\d+)/(\d*)([a-z]+?)s?$")

# Every family's setting (config/throttling.py); benchmarks turn them all off (scripts/benchlib.py).
RATE_LIMIT_SETTINGS = (
    "TRACKING_RATE_LIMIT", "IMPORT_RATE_LIMIT", "XAPI_RATE_LIMIT", "LEARNER_ANALYTICS_RATE_LIMIT",
    "COURSE_INFO_RATE_LIMIT", "LEARNING360_RATE_LIMIT", "ANALYSE_RATE_LIMIT", "VIDEOCLOUD_RATE_LIMIT",
    "EXPORT_RATE_LIMIT", "EXPORT_CREATE_RATE_LIMIT", "AUTH_TOKEN_RATE_LIMIT", "API_RATE_LIMIT",
)  # fmt: skip


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
        raise ValueError(f"{text!r} is not a rate: use N/s, N/min, N/hour or N/day (e.g. 600/min), or empty for no limit")
    limit, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if limit == 0 or multiple == 0:
        raise ValueError(f"{text!r}: the limit and the window must be positive (empty disables the limit)")
    return Rate(limit=limit, window_s=multiple * UNIT_SECONDS[unit])
