"""Definitions every family, dashboard and export shares (issue 20 gathers them here).

- UTC: the one time zone days are counted in; every "day" of a figure is a UTC day, whatever
  Django's TIME_ZONE says.
- utc_day(field): the ORM expression of a datetime field's UTC date (a bare TruncDate would use
  the current time zone, TIME_ZONE, and move activity near midnight to another day).
"""

from datetime import timezone as dt_timezone

from django.db.models.functions import TruncDate

UTC = dt_timezone.utc


def utc_day(field):
    """The UTC date of the datetime `field`, as an ORM expression."""
    return TruncDate(field, tzinfo=UTC)
