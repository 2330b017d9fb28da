"""The time window of an export's `period`, by the VideoCloud rules.

TODO(lead): switch to the VideoCloud query module's period parser once it lands, so that the
rule lives in one place.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.utils import timezone

PERIOD_DAYS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}
ALL_START = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


class InvalidPeriod(ValueError):
    pass


def export_window(period, now=None):
    """N whole UTC days ending today (today included); `all` from the beginning."""
    now = now or timezone.now()
    end = datetime.combine(now.astimezone(dt_timezone.utc).date() + timedelta(days=1), time.min, dt_timezone.utc)
    if period == "all":
        return Window(ALL_START, end)
    if period not in PERIOD_DAYS:
        raise InvalidPeriod(f"Unknown period {period!r}; expected one of {[*PERIOD_DAYS, 'all']}.")
    return Window(end - timedelta(days=PERIOD_DAYS[period]), end)
