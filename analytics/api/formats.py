"""Date and time formats shared by the API families."""

from datetime import datetime, timezone as dt_timezone

from django.utils.dateparse import parse_datetime


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
