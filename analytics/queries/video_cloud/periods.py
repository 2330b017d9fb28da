"""Metrics selection, time buckets and changes: the rules every VideoCloud endpoint shares.

Periods and their resolution are the definitions' (analytics.definitions: Period,
resolve_period); the views resolve one per request at `utc_now()` and pass it to the queries.
"""

from datetime import datetime, timedelta

from django.db import connection

from analytics.definitions import DATA_PERIODS, UTC, day_start, round_half_up

GROUP_BY_UNITS = ("hour", "day", "week")
MAX_HOUR_BUCKETS = 90 * 24
COMPARE_ON = ("previous", "true", "1")
COMPARE_OFF = ("false", "0")


class VideoCloudQueryError(ValueError):
    """A request parameter the VideoCloud endpoints cannot answer; `field` names it."""

    field = ""

    def __init__(self, message, field=None):
        super().__init__(message)
        if field is not None:
            self.field = field


class InvalidPeriod(VideoCloudQueryError):
    field = "period"


class InvalidMetrics(VideoCloudQueryError):
    field = "metrics"


class InvalidParameter(VideoCloudQueryError):
    pass


class DataUnavailable(LookupError):
    """What the request names (a video) does not exist in the workspace, or the data of the asked
    period is no longer kept; `field` names the parameter at fault when there is one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def utc_now():
    """The current time (UTC). Tests replace this function to pin "today"."""
    return datetime.now(UTC)


def validate_period_name(name, allowed=DATA_PERIODS):
    """The period name, checked against `allowed`; raises InvalidPeriod."""
    if name not in allowed:
        raise InvalidPeriod(f"period must be one of {', '.join(allowed)}; got {name!r}.")
    return name


def parse_metrics(values, allowed):
    """The selected metrics, in `allowed` order, from `metrics` query values.

    Each value may hold several names separated by commas; none at all selects every metric.
    """
    names = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
    if not names:
        return tuple(allowed)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise InvalidMetrics(f"Unknown metrics {', '.join(unknown)}; this endpoint offers {', '.join(allowed)}.")
    return tuple(name for name in allowed if name in names)


def parse_group_by(value):
    value = value or "day"
    if value not in GROUP_BY_UNITS:
        raise InvalidParameter(f"groupBy must be one of {', '.join(GROUP_BY_UNITS)}; got {value!r}.", "groupBy")
    return value


def parse_compare(value):
    """True for compare=previous, true or 1; False when absent, false or 0; anything else is invalid."""
    if value in (None, "") or value in COMPARE_OFF:
        return False
    if value not in COMPARE_ON:
        raise InvalidParameter(
            f"compare must be one of {', '.join(COMPARE_ON + COMPARE_OFF)}; got {value!r}.", "compare"
        )
    return True


def bucket_sql(unit, column):
    """(sql, params): an SQL expression truncating `column` to the start of its UTC hour / day /
    ISO week (Monday), Django's own truncation for this database (TruncHour / TruncDay /
    TruncWeek): a naive UTC datetime on PostgreSQL, its ISO text on SQLite."""
    sql, params = connection.ops.datetime_trunc_sql(unit, column, (), "UTC")
    return sql, tuple(params)


def bucket_starts(period, unit):
    """Every bucket of `unit` that overlaps the period, as UTC datetimes.

    Weeks are ISO weeks starting Monday 00:00Z, so the first week may start before the period;
    only rows inside the period are ever counted in it.
    """
    if unit == "hour":
        step = timedelta(hours=1)
        first = period.start.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        step = timedelta(days=1)
        first = day_start(period.start)
    else:
        step = timedelta(days=7)
        first = day_start(period.start) - timedelta(days=period.start.weekday())
    count = -(-(period.end - first) // step)
    if unit == "hour" and count > MAX_HOUR_BUCKETS:
        raise InvalidParameter(
            f"groupBy=hour covers at most {MAX_HOUR_BUCKETS // 24} days; use day or week.", "groupBy"
        )
    return [first + step * index for index in range(count)]


def bucket_label(moment, unit):
    """`2024-03-24` for days and weeks (the Monday), `2024-03-24T14:00:00Z` for hours."""
    if unit == "hour":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    return moment.astimezone(UTC).date().isoformat()


def fill_buckets(period, unit, rows, empty):
    """[(bucket start, values)] for every bucket: values from `rows` ({bucket start: values}),
    else `empty()`."""
    found = {moment.astimezone(UTC): values for moment, values in rows.items()}
    return [(moment, found.get(moment) or empty()) for moment in bucket_starts(period, unit)]


def change(now, before):
    """(now - before) / before, rounded to 4 places; 0 when before is 0 (the document shows a
    number, never null)."""
    if not before:
        return 0.0
    return round(((now or 0) - before) / before, 4)


def ratio(part, whole, places=4):
    """part / whole rounded to `places`; 0 when whole is 0 (a rate over nothing)."""
    if not part or not whole:
        return 0.0
    return round(part / whole, places)


def whole_number(value):
    """`value` rounded half up to an integer (the document shows these figures as integers); 0 for
    None (an average over nothing)."""
    if value is None:
        return 0
    return round_half_up(float(value))


def average(total, count):
    """total / count rounded half up to an integer; 0 when count is 0."""
    return whole_number(total / count) if total and count else 0


def rounded(value, places=2):
    return None if value is None else round(float(value), places)


def iso_z(moment):
    """`2024-03-24T00:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UNKNOWN = "unknown"
DEVICE_KEYS = ("desktop", "mobile")  # the document's byDevice keys
PLATFORM_KEYS = ("web", "ios", "android")  # byPlatform
SOURCE_KEYS = ("organic", "referral", "social")  # bySource


def breakdown(counts, documented=()):
    """A breakdown object from {value: count} (values None or "" did not say): every documented
    key first, in the document's order, zeros included; then any other value seen, most frequent
    first (ties by name); then "unknown" when some rows did not say. Only documented keys are ever 0.
    """
    merged = {}
    for key, count in counts.items():
        key = key or UNKNOWN
        merged[key] = merged.get(key, 0) + (count or 0)
    unknown = merged.pop(UNKNOWN, 0)
    result = {key: merged.pop(key, 0) for key in documented}
    result.update(sorted(((key, n) for key, n in merged.items() if n), key=lambda item: (-item[1], item[0])))
    if unknown:
        result[UNKNOWN] = unknown
    return result
