"""The time window of an export's `period`: the VideoCloud rules, with `all` meaning all data."""

from datetime import datetime, timezone as dt_timezone

from analytics.definitions import DATA_PERIODS, resolve_period
from analytics.queries.video_cloud.periods import validate_period_name

EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def export_window(period, now=None):
    """The Period (start, end) an export covers; raises InvalidPeriod for an unknown name."""
    validate_period_name(period, DATA_PERIODS)
    return resolve_period(period, now=now, earliest=lambda: EPOCH)
