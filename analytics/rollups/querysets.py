"""The QuerySet of the rollups' source models: bulk writes tell the registry what they changed.

`update()` and `bulk_update()` read the affected rows' keys (workspace, user, course, day) before
and after the write (one query each, per 5,000 rows), `bulk_create()` takes them from the objects,
and all call changes.rows_changed_for in the same transaction: a
`PageSession.objects.filter(...).update(duration_s=...)` keeps every rollup right. `delete()` goes
through Django's collector, which sends each row's post_delete (signals.py); it runs inside
changes.batched(), so those become one refresh per rollup.

The raw path, deliberately without any of this: `Model._base_manager` (a plain Manager), for the
services that keep the rollups themselves in the same transaction (the record writers, the
problem rollups' difference, bulk loads followed by a rebuild), and `QuerySet._raw_delete`.
"""

from django.db import models, transaction

MAX_KEYS = 5000


class RollupQuerySet(models.QuerySet):
    def _keys(self, pks):
        from .changes import row_fields

        fields = row_fields(self.model)
        rows = []
        pks = list(pks)
        for start in range(0, len(pks), MAX_KEYS):
            rows += self.model._base_manager.using(self.db).filter(pk__in=pks[start : start + MAX_KEYS]).values(*fields)
        return rows

    def update(self, **kwargs):
        from .changes import row_fields, rows_changed_for

        with transaction.atomic(using=self.db, savepoint=False):
            before = list(self.values("pk", *row_fields(self.model)))
            count = super().update(**kwargs)
            rows_changed_for(self.model, [*before, *self._keys(row["pk"] for row in before)])
        return count

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        from .changes import rows_changed_for

        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            before = self._keys(obj.pk for obj in objs)
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            rows_changed_for(self.model, [*before, *self._keys(obj.pk for obj in objs)])
        return count

    bulk_update.alters_data = True

    def bulk_create(self, objs, *args, update_conflicts=False, **kwargs):
        from .changes import row_fields, rows_changed_for

        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            # An upsert may change stored rows: their keys as they were count too.
            before = self._keys(obj.pk for obj in objs if obj.pk is not None) if update_conflicts else []
            created = super().bulk_create(objs, *args, update_conflicts=update_conflicts, **kwargs)
            fields = row_fields(self.model)
            now = [{name: getattr(obj, name) for name in fields} for obj in objs]
            rows_changed_for(self.model, [*before, *now], may_empty=bool(before))
        return created

    bulk_create.alters_data = True

    def delete(self):
        from .changes import batched

        with transaction.atomic(using=self.db, savepoint=False), batched():
            return super().delete()

    delete.alters_data = True
    delete.queryset_only = True


class RollupManager(models.Manager.from_queryset(RollupQuerySet)):
    """The default manager of a source model (see RollupQuerySet); not used in migrations."""

    use_in_migrations = False
