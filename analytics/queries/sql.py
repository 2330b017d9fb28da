"""Hand-written SQL: quoting a model's table and columns, running a read statement."""

from datetime import datetime, timezone

from django.db import connection

from config.replicas import read_connection


def read_cursor():
    """A cursor for hand-written read SQL: on the replica this request or task reads from, else
    the primary (config/replicas.py: the same choice as the ORM's reads)."""
    return read_connection().cursor()


def fetch_dicts(sql, params):
    """The rows of `sql` as dicts keyed by column name."""
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values)) for values in cursor.fetchall()]


def quoted_table(model):
    """The model's table name, quoted for this database."""
    return connection.ops.quote_name(model._meta.db_table)


def quoted_column(model, field):
    """The column of the model's field `field` (its name), quoted for this database."""
    return connection.ops.quote_name(model._meta.get_field(field).column)


def db_datetime(value):
    """A moment as a bind parameter of hand-written SQL: as the ORM writes it for this database
    (UTC text on SQLite, whose stored text it must compare with)."""
    return connection.ops.adapt_datetimefield_value(value)


def utc_datetime(value):
    """An aware UTC datetime from a timestamp of hand-written SQL: a naive UTC datetime
    (PostgreSQL, `DATE_TRUNC(.. AT TIME ZONE 'UTC')`) or ISO text (SQLite: an aggregate or a
    truncation of a column comes back as its text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
