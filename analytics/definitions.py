"""Definitions every family, dashboard and export shares (issue 20 gathers them here).

- UTC: the one time zone days are counted in; every "day" of a figure is a UTC day, whatever
  Django's TIME_ZONE says.
- round_half_up(value): the one rounding rule of whole-number figures and imported scores
  (49.5 -> 50, unlike Python's round()).
- utc_day(field): the ORM expression of a datetime field's UTC date (a bare TruncDate would use
  the current time zone, TIME_ZONE, and move activity near midnight to another day).
"""

from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal

from django.db.models.functions import TruncDate

UTC = dt_timezone.utc


def utc_day(field):
    """The UTC date of the datetime `field`, as an ORM expression."""
    return TruncDate(field, tzinfo=UTC)


def round_half_up(value):
    """Whole number nearest to value (an int or a float), halves rounded up."""
    if isinstance(value, int):
        return value
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
