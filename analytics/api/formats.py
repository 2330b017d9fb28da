"""Date and time formats shared by the API families."""

from datetime import datetime, timezone as dt_timezone

from django.utils.dateparse import parse_datetime

from analytics.services.records.fields import EARLIEST_TIME, LATEST_TIME, TIME_RANGE_MESSAGE

__all__ = ["EARLIEST_TIME", "LATEST_TIME", "TIME_RANGE_MESSAGE", "in_time_range", "iso_ms_z", "parse_iso_datetime"]


def in_time_range(value):
    """Whether an aware datetime lies in [EARLIEST_TIME, LATEST_TIME): the instants the API
    accepts as data or as filters (year 1 or 9999 is a client's bug and overflows day arithmetic)."""
    try:
        return EARLIEST_TIME <= value < LATEST_TIME
    except OverflowError:
        return False


def iso_ms_z(value):
    """`2025-06-30T13:23:56.059Z` (UTC, milliseconds), or None."""
    if value is None:
        return None
    value = value.astimezone(dt_timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso_datetime(text):
    """An aware datetime from ISO 8601 text; a time without an offset is UTC. None if invalid."""
    if not isinstance(text, str):
        return None
    try:
        value = parse_datetime(text.strip())
    except ValueError:
        return None
    if value is None:
        try:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value
