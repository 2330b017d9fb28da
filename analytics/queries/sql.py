"""Running a hand-written read statement."""

from django.db import connection


def fetch_dicts(sql, params):
    """The rows of `sql` as dicts keyed by column name."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values)) for values in cursor.fetchall()]
