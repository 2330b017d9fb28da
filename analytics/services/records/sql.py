"""Multi-row INSERT ... ON CONFLICT for PostgreSQL and SQLite (both speak the same upsert SQL).

Django's bulk_create cannot say "keep the larger duration" on conflict, and on SQLite it splits a
batch into many statements (it assumes 999 parameters at most). Here one statement carries a
whole chunk of rows on either database:

- PostgreSQL: `INSERT INTO t (...) SELECT * FROM unnest(%s::type[], ...)`, one array parameter per
  column, so the SQL text is short and the same for every batch size (psycopg converts and
  caches it once; a VALUES list of thousands of placeholders costs more to build than to run).
- SQLite: `INSERT INTO t (...) VALUES (...), (...)`, as many rows per statement as its
  parameter limit allows (up to ROWS_PER_STATEMENT).
"""

import sqlite3
from itertools import islice

from django.db import connection
from django.db.models import JSONField

from analytics.services.partitions import note_rows

ROWS_PER_STATEMENT = 1000
PG_ROWS_PER_STATEMENT = 10_000


def _parameter_limit():
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return 999
    return 65535


def _chunks(rows, size):
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _cursor():
    """A cursor of Django's connection (logged, errors wrapped as usual). On PostgreSQL it binds
    parameters on the server: Django's default client-side binding would quote every array
    element into the SQL text, which costs more than the insert itself."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))


server_cursor = _cursor  # for other hand-written bulk statements (course_info_rollups)


def _pg_array_type(field):
    return f"{field.db_type(connection)}[]"


def rows_source(model, attnames, rows, alias="v"):
    """(with_sql, from_sql, params): the rows (tuples in attnames order) as a relation `alias`
    with the columns' names, for `{with_sql} INSERT ... SELECT ... FROM {from_sql} ...`: one
    array parameter per column on PostgreSQL (unnest), a VALUES list in a WITH clause on SQLite.
    Values are passed as the ORM would store them; run it on server_cursor()."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in attnames]
    columns = ", ".join(quote(field.column) for field in fields)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{_pg_array_type(field)}" for field in fields)
        return "", f"unnest({arrays}) AS {alias} ({columns})", [list(values) for values in zip(*rows)]
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [field.get_db_prep_save(value, connection) for row in rows for field, value in zip(fields, row)]
    return f"WITH {alias} ({columns}) AS (VALUES {', '.join([placeholder] * len(rows))})", alias, params


def insert_rows(model, attnames, rows, conflict_sql, returning=None):
    """INSERT rows (tuples of values in attnames order) into model's table, then conflict_sql.

    conflict_sql is the `ON CONFLICT ...` clause; it may refer to the table by its db_table name
    and to the proposed row as `excluded`. Values are stored as the ORM would store them (each
    field's get_db_prep_save; on PostgreSQL only JSON needs it, psycopg adapts the rest).
    The caller must not repeat a conflict key within rows when conflict_sql is DO UPDATE.
    returning: an attname; then the values of that column for the rows actually inserted or
    updated are returned as a list (a row skipped by DO NOTHING or by a DO UPDATE ... WHERE is
    not returned). Without it, returns the number of statements run.
    """
    if not rows:
        return [] if returning else 0
    note_rows(model, attnames, rows)
    if returning:
        returning_field = model._meta.get_field(returning)
        conflict_sql = f"{conflict_sql} RETURNING {connection.ops.quote_name(returning_field.column)}"
    returned = []
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in attnames]
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(model._meta.db_table)
    statements = 0
    with _cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%b::{_pg_array_type(field)}" for field in fields)
            sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict_sql}"
            json_columns = [index for index, field in enumerate(fields) if isinstance(field, JSONField)]
            for chunk in _chunks(rows, PG_ROWS_PER_STATEMENT):
                params = [list(values) for values in zip(*chunk)]
                for index in json_columns:
                    field = fields[index]
                    params[index] = [field.get_db_prep_save(value, connection) for value in params[index]]
                cursor.execute(sql, params)
                statements += 1
                if returning:
                    returned.extend(value for (value,) in cursor.fetchall())
            return returned if returning else statements
        placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
        per_statement = max(1, min(ROWS_PER_STATEMENT, _parameter_limit() // len(fields)))
        for chunk in _chunks(rows, per_statement):
            params = [field.get_db_prep_save(value, connection) for row in chunk for field, value in zip(fields, row)]
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(chunk))} {conflict_sql}"
            cursor.execute(sql, params)
            statements += 1
            if returning:
                returned.extend(returning_field.to_python(value) for (value,) in cursor.fetchall())
    return returned if returning else statements


def select_rows(model, attnames, key_attname, keys):
    """[tuple of attnames values] of the rows of model whose key_attname is one of keys.

    One query whatever the number of keys (on PostgreSQL `= ANY(array)`, bound on the server).
    Values come back as the ORM would give them.
    """
    keys = list(keys)
    if not keys:
        return []
    if connection.vendor != "postgresql":
        return list(model.objects.filter(**{f"{key_attname}__in": keys}).values_list(*attnames))
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in attnames]
    key_field = model._meta.get_field(key_attname)
    sql = (
        f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(model._meta.db_table)} "
        f"WHERE {quote(key_field.column)} = ANY(%b::{_pg_array_type(key_field)})"
    )
    converters = [(index, field) for index, field in enumerate(fields) if hasattr(field, "from_db_value")]
    with _cursor() as cursor:
        cursor.execute(sql, [[key_field.get_db_prep_value(key, connection) for key in keys]])
        rows = cursor.fetchall()
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, field in converters:
                row[index] = field.from_db_value(row[index], None, connection)
        rows = [tuple(row) for row in rows]
    return rows


def column(model, attname):
    """The quoted column of model.attname, qualified by its table (for conflict clauses)."""
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(attname).column)}"


def name(model, attname):
    """The quoted column of model.attname, unqualified (for SET and conflict targets)."""
    return connection.ops.quote_name(model._meta.get_field(attname).column)


def excluded(model, attname):
    return f"excluded.{connection.ops.quote_name(model._meta.get_field(attname).column)}"
