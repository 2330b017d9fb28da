"""Checking the rollups against the raw rows, and rebuilding them.

`check_rollups` recomputes each rollup inside a transaction it rolls back: it reads the stored
rows (by their natural key, never the surrogate id), runs the rollup's rebuild, reads again and
compares, so the stored rows are never changed. A rebuild locks its tables as it does when run
for real (writers wait; on PostgreSQL a whole-table check also blocks readers of those tables
for its duration).

A rollup that is stale (readers use the raw rows until its refresh) may differ by design: its
differences are reported but do not make the check fail.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, models, transaction

from .registry import ROLLUPS, rollup


@dataclass
class TableDifference:
    """One derived table's rows that differ: missing (the raw rows give them, not stored), extra
    (stored, not given) and changed ((key, stored values, recomputed values)); values as dicts."""

    label: str
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    changed: list = field(default_factory=list)

    @property
    def count(self):
        return len(self.missing) + len(self.extra) + len(self.changed)


@dataclass
class RollupCheck:
    name: str
    rows: int = 0
    is_stale: bool = False
    tables: list = field(default_factory=list)  # TableDifference with at least one difference

    @property
    def differences(self):
        return sum(table.count for table in self.tables)

    @property
    def ok(self):
        return self.differences == 0 or self.is_stale


@dataclass
class CheckResult:
    rollups: list

    @property
    def ok(self):
        return all(each.ok for each in self.rollups)


def selected(names=None):
    """The registered rollups named (all when None); KeyError for an unknown name."""
    return list(ROLLUPS) if not names else [rollup(name) for name in names]


def _workspace_filter(model, workspace_id):
    names = {f.name for f in model._meta.get_fields()}
    for path in ("workspace", "course", "video"):
        if path in names:
            return {"workspace_id" if path == "workspace" else f"{path}__workspace_id": workspace_id}
    raise ValueError(f"{model._meta.label}: no workspace to filter by")


def _compared_fields(model, ignored):
    return [
        f.attname
        for f in model._meta.concrete_fields
        if not isinstance(f, models.AutoField) and f.name not in ignored and not getattr(f, "auto_now", False)
    ]


def _key_fields(model, fields):
    """The natural key: a non-surrogate primary key, else the first unique constraint."""
    if not isinstance(model._meta.pk, models.AutoField):
        return [model._meta.pk.attname]
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None:
            return [model._meta.get_field(name).attname for name in constraint.fields]
    return fields  # no key: a row is its values


def _snapshot(model, fields, workspace_id, drop_zeros, keys):
    rows = model._base_manager.all()
    if workspace_id is not None:
        rows = rows.filter(**_workspace_filter(model, workspace_id))
    values = Counter(rows.values_list(*fields))
    if drop_zeros:  # kept by difference: a row of zeros is no row
        positions = [i for i, name in enumerate(fields) if name not in keys]
        values = Counter({row: n for row, n in values.items() if any(row[i] for i in positions)})
    return values


def _difference(model, fields, keys, stored, rebuilt):
    found = TableDifference(model._meta.label)
    key_at = [fields.index(name) for name in keys]
    only_stored = {tuple(row[i] for i in key_at): row for row in (stored - rebuilt).elements()}
    for row in (rebuilt - stored).elements():
        key = tuple(row[i] for i in key_at)
        if key in only_stored:
            found.changed.append(
                (dict(zip(keys, key)), dict(zip(fields, only_stored.pop(key))), dict(zip(fields, row)))
            )
        else:
            found.missing.append(dict(zip(fields, row)))
    found.extra = [dict(zip(fields, row)) for row in only_stored.values()]
    return found


def check_rollup(entry, workspace_id=None):
    """Recompute one rollup (in a transaction rolled back) and compare; a RollupCheck."""
    result = RollupCheck(entry.name)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A rebuild may TRUNCATE, which refuses tables with deferred foreign-key checks
            # pending in the transaction (rows written earlier in it): run them now.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        result.is_stale = bool(entry.is_stale and entry.is_stale(workspace_id))
        tables = []
        for model in entry.derived_models():
            fields = _compared_fields(model, entry.ignored)
            keys = _key_fields(model, fields)
            drop_zeros = model._meta.label in entry.zero_rows
            tables.append((model, fields, keys, drop_zeros, _snapshot(model, fields, workspace_id, drop_zeros, keys)))
        entry.rebuild(None if entry.global_rebuild else workspace_id)
        for model, fields, keys, drop_zeros, stored in tables:
            rebuilt = _snapshot(model, fields, workspace_id, drop_zeros, keys)
            result.rows += sum(rebuilt.values())
            difference = _difference(model, fields, keys, stored, rebuilt)
            if difference.count:
                result.tables.append(difference)
        transaction.set_rollback(True)
    return result


def check_rollups(workspace_id=None, names=None):
    """Recompute the rollups (named, or all) of one workspace (or all) from the raw rows and
    compare with the stored rows, changing nothing; a CheckResult."""
    return CheckResult([check_rollup(entry, workspace_id) for entry in selected(names)])


def rebuild_rollups(workspace_id=None, names=None):
    """Rebuild the rollups (named, or all) of one workspace (or all), each in its own
    transaction; {name: what its rebuild returned}. Course information is rebuilt for every
    workspace whatever the one named."""
    done = {}
    for entry in selected(names):
        with transaction.atomic():
            done[entry.name] = entry.rebuild(None if entry.global_rebuild else workspace_id)
    return done
