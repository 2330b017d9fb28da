"""Date and time formats shared by the API families, the filters of the queries and the
interchange records' validators: the instants data may hold, ISO 8601 parsing and the
millisecond `Z` format. No imports from the layers above (api, queries, services)."""

from datetime import datetime, timezone as dt_timezone

from django.db.models import CharField, Func
from django.utils.dateparse import parse_datetime

# Activity happens between these instants; anything outside is a client's bug (year 1, 9999, an
# epoch in milliseconds read as seconds), and would overflow the day arithmetic of the rollups.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=dt_timezone.utc)
TIME_RANGE_MESSAGE = "must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z"


def in_time_range(value):
    """Whether an aware datetime lies in [EARLIEST_TIME, LATEST_TIME): the instants the API
    accepts as data or as filters (year 1 or 9999 is a client's bug and overflows day arithmetic)."""
    try:
        return EARLIEST_TIME <= value < LATEST_TIME
    except OverflowError:
        return False


def iso_ms_z(value):
    """`2025-06-30T13:23:56.059Z` (UTC, milliseconds), or None; text (IsoMsZText's, written by
    the database) is already that."""
    if value is None or isinstance(value, str):
        return value
    # isoformat truncates to milliseconds as `microsecond // 1000` would, at half strftime's cost
    # (a 500-row 360Learning page formats up to 1,500 of these).
    return value.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class IsoMsZText(Func):
    """iso_ms_z's text written by the database, for a timestamp column: long row lists then
    neither parse nor format a datetime per value. PostgreSQL's to_char truncates to milliseconds
    as iso_ms_z does; on SQLite the column holds Django's text of the UTC time, whose fraction
    (when there is one) gives the milliseconds as written."""

    arity = 1
    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"IsoMsZText has no SQL for {connection.vendor}")

    def as_postgresql(self, compiler, connection, **extra_context):
        template = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # `%%%%`: `%%` after the template's formatting, `%` after the parameter style's.
        template = (
            "strftime('%%%%Y-%%%%m-%%%%dT%%%%H:%%%%M:%%%%S', %(expressions)s) || '.' || "
            "CASE WHEN substr(%(expressions)s, 20, 1) = '.' THEN substr(%(expressions)s, 21, 3) ELSE '000' END || 'Z'"
        )
        return super().as_sql(compiler, connection, template=template, **extra_context)


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
