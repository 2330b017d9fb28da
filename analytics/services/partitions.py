"""Monthly partitions of the raw activity tables on PostgreSQL (docs/scaling.md).

Page sessions, learning events and video views (by their start) and xAPI statements (by
`stored`) are declarative RANGE partitioned tables with one partition per UTC month, named
`<table>_pYYYYMM`, and a DEFAULT partition `<table>_default` that catches a row whose month has
no partition yet, so no row is ever refused. Migration analytics 0021 converted the tables;
SQLite keeps plain tables and everything here is a no-op there.

- `ensure_month_partitions` (daily beat task, `manage.py partitions`) creates the current month
  and the next ones ahead, and moves any rows that landed in DEFAULT into partitions of their own
  months (made as standalone tables, filled, then attached: the parent is never locked for long).
- `note_rows(model, attnames, rows)` is called by the bulk writers before an insert: when a
  batch holds a month this process has not seen a partition for, the beat's work is queued at
  once (after the commit), so a back-filled month gets its partition within seconds.
- `drop_partition` detaches and drops a whole month (retention, analytics.services.retention).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone

from analytics.definitions import UTC

logger = logging.getLogger(__name__)

MONTHS_AHEAD = 3

# db_table -> the time column it is partitioned on, by model label (resolved lazily: models import this).
PARTITIONED = {
    "analytics.PageSession": "started_at",
    "analytics.LearningEvent": "occurred_at",
    "analytics.VideoView": "started_at",
    "analytics.XapiStatement": "stored",
}


@dataclass(frozen=True)
class MonthPartition:
    table: str
    month: date  # the first day of the month

    @property
    def name(self):
        return f"{self.table}_p{self.month:%Y%m}"

    @property
    def bounds(self):
        return _month_start(self.month), _month_start(add_months(self.month, 1))


def is_partitioned():
    return connection.vendor == "postgresql"


def partitioned_tables():
    """[(model, time column)] of the partitioned tables."""
    from django.apps import apps

    return [(apps.get_model(label), column) for label, column in PARTITIONED.items()]


def month_of(value):
    value = value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value
    return date(value.year, value.month, 1)


def add_months(month, count):
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _month_start(month):
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def _quote(name):
    return connection.ops.quote_name(name)


def existing_months(table):
    """The months that have a partition of `table` (from its partition bounds' names)."""
    prefix = f"{table}_p"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        names = [name for (name,) in cursor.fetchall()]
    return {date(int(name[-6:-2]), int(name[-2:]), 1) for name in names if name.startswith(prefix)}


def default_months(table, column):
    """The months of the rows waiting in `table`'s DEFAULT partition."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', {_quote(column)} AT TIME ZONE 'UTC')::date "
            f"FROM {_quote(table + '_default')}"
        )
        return {month for (month,) in cursor.fetchall()}


def create_partition(table, column, month):
    """Create `table`'s partition for `month`, moving its rows out of DEFAULT if any landed there.

    The partition is made and filled as a standalone table, then attached: ATTACH takes a SHARE
    UPDATE EXCLUSIVE lock on the parent (reads and writes go on) and, with the CHECK constraint
    in place, does not scan the new partition again. Only the DEFAULT partition is locked while
    its rows of that month move."""
    partition = MonthPartition(table, month)
    low, high = partition.bounds
    quoted, name, default = _quote(table), _quote(partition.name), _quote(table + "_default")
    col = _quote(column)
    check = _quote(f"{partition.name}_bounds")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (LIKE {quoted} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {check} CHECK ({col} >= %s AND {col} < %s)", [low, high])
        cursor.execute(f"LOCK TABLE {default} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"INSERT INTO {name} SELECT * FROM {default} WHERE {col} >= %s AND {col} < %s", [low, high])
        moved = cursor.rowcount
        if moved:
            cursor.execute(f"DELETE FROM {default} WHERE {col} >= %s AND {col} < %s", [low, high])
        cursor.execute(f"ALTER TABLE {quoted} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [low, high])
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {check}")
    if moved:
        logger.info("Partition %s created with %s rows moved from the default partition", partition.name, moved)
    return moved


@dataclass
class PartitionReport:
    table: str
    created: list  # months
    moved_rows: int
    partitions: int
    default_rows: int


def ensure_month_partitions(months_ahead=MONTHS_AHEAD, *, since=None, now=None):
    """Create each table's partitions from the current month (or `since`'s) to `months_ahead`
    months on, and for any month whose rows wait in DEFAULT; [PartitionReport]."""
    if not is_partitioned():
        return []
    current = month_of(now or timezone.now())
    first = min(current, month_of(since)) if since else current
    wanted = set()
    month = first
    while month <= add_months(current, months_ahead):
        wanted.add(month)
        month = add_months(month, 1)
    reports = []
    for model, column in partitioned_tables():
        table = model._meta.db_table
        have = existing_months(table)
        created, moved = [], 0
        for month in sorted((wanted | default_months(table, column)) - have):
            moved += create_partition(table, column, month)
            created.append(month)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {_quote(table + '_default')}")
            default_rows = cursor.fetchone()[0]
        reports.append(PartitionReport(table, created, moved, len(have) + len(created), default_rows))
        _known_months.pop(table, None)
    return reports


def drop_partition(table, month):
    """Detach and drop `table`'s partition of `month` (its rows are gone at once)."""
    name = _quote(MonthPartition(table, month).name)
    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign-key checks still pending in this transaction would forbid the DROP: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {_quote(table)} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    _known_months.pop(table, None)


# --- the writers' check: a month this process has not seen a partition for ---------------------

# table -> the months this process knows to have a partition or has queued: read once per
# process (a month made meanwhile by another process is queued once more, harmlessly).
_known_months = {}


def _months_known(table):
    if table not in _known_months:
        _known_months[table] = existing_months(table)
    return _known_months[table]


def note_rows(model, attnames, rows):
    """Before rows (tuples in attnames order) of `model` are written: see note_times."""
    column = PARTITIONED.get(model._meta.label)
    if column is not None and column in attnames and is_partitioned():
        index = list(attnames).index(column)
        note_times(model, (row[index] for row in rows))


def note_times(model, times):
    """Before rows of `model` with these partition-column values are written: when one of their
    months has no partition, queue `ensure_month_partitions` after the commit (the rows land in
    DEFAULT meanwhile, and the task moves them). A set lookup per row otherwise."""
    if model._meta.label not in PARTITIONED or not is_partitioned():
        return
    months = {month_of(value) for value in times if isinstance(value, datetime)}
    known = _months_known(model._meta.db_table)
    missing = months - known
    if missing:
        logger.info("No partition of %s for %s yet: queued", model._meta.db_table, sorted(missing))
        known |= missing  # queued once per process
        transaction.on_commit(_queue_ensure_partitions)


def _queue_ensure_partitions():
    from analytics.tasks import ensure_partitions

    try:
        ensure_partitions.apply_async(retry=False)
    except Exception:  # the broker is down: the rows wait in DEFAULT for the daily beat
        logger.warning("Could not queue ensure_partitions; the daily beat will move the rows", exc_info=True)


# --- writing rows by id into a partitioned table -------------------------------------------------


def conflict_columns(model):
    """The ON CONFLICT target of `model`'s rows by id: the id, and on PostgreSQL the partition
    column too (a partitioned table's key must hold it)."""
    column = PARTITIONED.get(model._meta.label)
    if column is None or not is_partitioned():
        return ("id",)
    return ("id", model._meta.get_field(column).column)


def forget_moved_rows(model, ids):
    """Delete the stored rows `ids` whose partition column is about to change (before their new
    version is inserted): by id and partition column, an upsert would not meet them. Rollups are
    told by the caller, which already counts the rows as moved. A no-op on SQLite, where the
    upsert's conflict on the id alone updates them in place."""
    if not ids or model._meta.label not in PARTITIONED or not is_partitioned():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_quote(model._meta.db_table)} WHERE id = ANY(%s)", [list(ids)])
