"""Multi-row INSERT ... ON CONFLICT for PostgreSQL and SQLite (both speak the same upsert SQL).

Django's bulk_create cannot say "keep the larger duration" on conflict, and on SQLite it splits a
batch into many statements (it assumes 999 parameters at most). Here one statement carries up to
ROWS_PER_STATEMENT rows, so a tracking batch of 1,000 items is one INSERT on either database.
"""

import sqlite3
from itertools import islice

from django.db import connection

ROWS_PER_STATEMENT = 1000


def _parameter_limit():
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return 999
    return 65535  # PostgreSQL's wire protocol limit


def _chunks(rows, size):
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def insert_rows(model, attnames, rows, conflict_sql):
    """INSERT rows (tuples of values in attnames order) into model's table, then conflict_sql.

    conflict_sql is the `ON CONFLICT ...` clause; it may refer to the table by its db_table name
    and to the proposed row as `excluded`. Values go through each field's get_db_prep_save, so
    UUIDs, times and JSON are stored exactly as the ORM would store them. Returns the number of
    statements run.
    """
    if not rows:
        return 0
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in attnames]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, min(ROWS_PER_STATEMENT, _parameter_limit() // len(fields)))
    statements = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, per_statement):
            params = [
                field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row)
            ]
            sql = (
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
                f"VALUES {', '.join([placeholder] * len(chunk))} {conflict_sql}"
            )
            cursor.execute(sql, params)
            statements += 1
    return statements


def column(model, attname):
    """The quoted column of model.attname, qualified by its table (for conflict clauses)."""
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(attname).column)}"


def name(model, attname):
    """The quoted column of model.attname, unqualified (for SET and conflict targets)."""
    return connection.ops.quote_name(model._meta.get_field(attname).column)


def excluded(model, attname):
    return f"excluded.{connection.ops.quote_name(model._meta.get_field(attname).column)}"
