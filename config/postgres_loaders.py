"""psycopg's compiled timestamptz parser for Django's PostgreSQL connections.

Django registers its own timestamptz loader on every connection (a subclass of psycopg's
pure-Python TimestamptzLoader that replaces the parsed value's tzinfo with the connection's time
zone), so every timestamp a query reads is parsed by a regular expression in Python: about 5 us a
value, a third of the web CPU of a 500-row 360Learning page (three timestamps a row). The loader
here gives the same datetimes (same instant, tzinfo the connection's `timezone` object) from
psycopg's optimised loader (C with psycopg[binary], about 1 us), and carries the `timezone`
attribute Django compares on each cursor, so Django keeps it.
"""

from psycopg import adapters
from psycopg.adapt import Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
# The registry's class: psycopg's C loader when the binary implementation is installed.
OPTIMISED_TIMESTAMPTZ_LOADER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class TimestamptzLoader(Loader):
    timezone = None  # set per connection time zone, as Django's register_tzloader does

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._parse = OPTIMISED_TIMESTAMPTZ_LOADER(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


def _loader_for(timezone):
    return type("TimestamptzLoaderIn", (TimestamptzLoader,), {"timezone": timezone})


_LOADERS = {}


def use_optimised_timestamptz_loader(sender, connection, **kwargs):
    """connection_created receiver: replace Django's timestamptz loader on a new PostgreSQL
    connection (only where Django's would give aware datetimes: USE_TZ)."""
    if connection.vendor != "postgresql" or connection.timezone is None:
        return
    loader = _LOADERS.get(connection.timezone)
    if loader is None:
        loader = _LOADERS[connection.timezone] = _loader_for(connection.timezone)
    connection.connection.adapters.register_loader("timestamptz", loader)
