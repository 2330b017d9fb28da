"""The compiled timestamptz loader gives the datetimes Django's own loader gives (config/postgres_loaders.py)."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from analytics.formats import iso_ms_z
from config.postgres_loaders import TimestamptzLoader

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's loaders")

TEXTS = [
    "2025-06-30 13:23:56.059123+00",
    "2025-06-30 13:23:56+00",
    "2025-06-30 15:23:56.5+02",
    "1970-01-01 00:00:00+00",
    "2099-12-31 23:59:59.999999-05:30",
]


@on_postgresql
@pytest.mark.django_db
def test_connection_reads_timestamps_with_the_compiled_loader_as_django_would():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)
    assert issubclass(loader, TimestamptzLoader) and loader.timezone is connection.timezone

    class DjangoLoader(BaseTzLoader):
        timezone = connection.timezone

    ours, django_s = loader(1184, connection.connection), DjangoLoader(1184, connection.connection)
    for text in TEXTS:
        value = ours.load(text.encode())
        assert value == django_s.load(text.encode())
        assert value.tzinfo is connection.timezone


@on_postgresql
@pytest.mark.django_db
def test_queries_return_aware_datetimes_in_the_connection_time_zone():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", ["2025-06-30 15:23:56.059123+02"])
        (value,) = cursor.fetchone()
    assert value == datetime(2025, 6, 30, 13, 23, 56, 59123, tzinfo=timezone.utc)
    assert value.tzinfo is connection.timezone


def test_iso_ms_z_truncates_to_milliseconds_in_utc():
    paris = ZoneInfo("Europe/Paris")
    assert iso_ms_z(datetime(2025, 6, 30, 13, 23, 56, 59999, tzinfo=timezone.utc)) == "2025-06-30T13:23:56.059Z"
    assert iso_ms_z(datetime(2025, 6, 30, 13, 23, 56, tzinfo=timezone.utc)) == "2025-06-30T13:23:56.000Z"
    assert iso_ms_z(datetime(2025, 6, 30, 15, 23, 56, 999999, tzinfo=paris)) == "2025-06-30T13:23:56.999Z"
    assert iso_ms_z(datetime(1970, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == (
        "1970-01-01T00:00:00.000Z"
    )
    assert iso_ms_z(None) is None
