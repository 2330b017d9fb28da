"""IANA time zones named by clients (`?tz=Europe/Paris`), and "today" in a zone."""

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone

UTC = ZoneInfo("UTC")


@lru_cache(maxsize=1)
def _known_zone_names():
    # Checked against the list rather than by trying ZoneInfo(name): ZoneInfo also opens
    # paths such as "Europe" (a folder) or "../x", and case-folded names on some systems.
    return frozenset(available_timezones())


def time_zone_named(name):
    """The ZoneInfo for an IANA zone name (`Europe/Paris`, `UTC`), or None if there is none."""
    if not isinstance(name, str) or name not in _known_zone_names():
        return None
    return ZoneInfo(name)


def today_in(tz):
    """Today's calendar date in `tz`, from django.utils.timezone.now() (so tests can freeze it)."""
    return timezone.now().astimezone(tz).date()
