"""Monthly RANGE partitions of the raw activity tables on PostgreSQL (docs/scaling.md).

Each table is rebuilt as a partitioned table with the same columns, defaults, checks, indexes and
foreign keys: one partition per month that holds rows, the current month and MONTHS_AHEAD more,
and a DEFAULT partition; the rows are copied, the old table dropped. The primary key becomes
(id, time column), as PostgreSQL requires of a partitioned table; Django's model state keeps `id`
as the primary key. Statement ids stay unique through XapiStatementKey and two triggers.
Everything runs in the migration's transaction: on a big database, plan for the copy (about a
minute per 5 million rows on 2 cores). SQLite: nothing changes.
"""

from datetime import date, datetime, timezone

import django.db.models.deletion
from django.db import migrations, models

MONTHS_AHEAD = 3
TABLES = (
    ("analytics_pagesession", "started_at"),
    ("analytics_learningevent", "occurred_at"),
    ("analytics_videoview", "started_at"),
    ("analytics_xapistatement", "stored"),
)


def _add_months(month, count):
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _month(value):
    value = value.astimezone(timezone.utc)
    return date(value.year, value.month, 1)


def _at(month):
    return datetime(month.year, month.month, 1, tzinfo=timezone.utc).isoformat()


def _convert(cursor, table, column):
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = %s::regclass AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint c WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid"
        "  AND c.contype IN ('p', 'u', 'x'))",
        [table],
    )
    indexes = [definition for (definition,) in cursor.fetchall()]
    cursor.execute(f'SELECT min("{column}"), max("{column}") FROM "{table}"')
    low, high = cursor.fetchone()
    current = _month(datetime.now(timezone.utc))
    first = min(current, _month(low)) if low else current
    last = max(_add_months(current, MONTHS_AHEAD), _month(high) if high else current)

    old = f"{table}_unpartitioned"
    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    cursor.execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
        f'PARTITION BY RANGE ("{column}")'
    )
    month = first
    while month <= last:
        following = _add_months(month, 1)
        cursor.execute(
            f'CREATE TABLE "{table}_p{month:%Y%m}" PARTITION OF "{table}" '
            f"FOR VALUES FROM ('{_at(month)}') TO ('{_at(following)}')"
        )
        month = following
    cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    cursor.execute(f'DROP TABLE "{old}"')
    for name, kind, definition in constraints:
        if kind == "p":
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" PRIMARY KEY (id, "{column}")')
        elif kind == "u":
            raise RuntimeError(f"{table} has a unique constraint {name}: it would need the partition column")
    for definition in indexes:
        cursor.execute(definition)
    for name, kind, definition in constraints:
        if kind == "f":
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(f'ANALYZE "{table}"')


STATEMENT_KEY_TRIGGERS = """
CREATE FUNCTION analytics_xapistatement_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_xapistatementkey (id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE FUNCTION analytics_xapistatement_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analytics_xapistatementkey WHERE id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER xapi_statement_key_insert BEFORE INSERT ON analytics_xapistatement
    FOR EACH ROW EXECUTE FUNCTION analytics_xapistatement_key_insert();
CREATE TRIGGER xapi_statement_key_delete AFTER DELETE ON analytics_xapistatement
    FOR EACH ROW EXECUTE FUNCTION analytics_xapistatement_key_delete();
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, column in TABLES:
            _convert(cursor, table, column)
        cursor.execute("INSERT INTO analytics_xapistatementkey (id) SELECT id FROM analytics_xapistatement")
        cursor.execute(STATEMENT_KEY_TRIGGERS)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0020_course_info_presence"),
    ]

    operations = [
        migrations.CreateModel(
            name="XapiStatementKey",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
            ],
            options={
                "verbose_name": "xAPI statement key",
            },
        ),
        migrations.AlterField(
            model_name="xapistatementrelation",
            name="statement",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="relations",
                to="analytics.xapistatement",
            ),
        ),
        # Irreversible in the database: going back leaves the tables partitioned (still correct).
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
