"""manage.py rollups check|rebuild [--workspace ID] [--name NAME ...]: compare the derived tables
with a recount of the raw rows (changing nothing; exit status 1 on any difference), or rebuild
them (analytics.rollups)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from analytics.rollups.check import check_rollups, rebuild_rollups
from analytics.rollups.registry import NAMES

SHOWN = 10  # differences printed per table


def _shown(row):
    return ", ".join(f"{name}={value}" for name, value in row.items())


def _changed_values(stored, rebuilt):
    """Only the columns that differ: `name stored -> recomputed`."""
    return ", ".join(f"{name} {stored[name]} -> {rebuilt[name]}" for name in stored if stored[name] != rebuilt[name])


class Command(BaseCommand):
    help = (
        "check: recompute every rollup from the raw rows inside a transaction that is rolled back and "
        "report each row missing, extra or different (exit status 1 when any, unless the rollup is "
        "marked stale). rebuild: recompute and store them."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("check", "rebuild"))
        parser.add_argument("--workspace", help="Workspace id or slug (default: every workspace)")
        parser.add_argument("--name", action="append", choices=NAMES, help="A rollup (repeatable; default: all)")

    def handle(self, *args, action, workspace=None, name=None, **options):
        workspace_id = self._workspace_id(workspace)
        if action == "rebuild":
            for rollup_name, written in rebuild_rollups(workspace_id, name).items():
                self.stdout.write(f"{rollup_name}: rebuilt" + (f" ({written})" if written is not None else ""))
            return
        result = check_rollups(workspace_id, name)
        for each in result.rollups:
            if not each.differences:
                self.stdout.write(f"{each.name}: ok ({each.rows:,} rows)")
                continue
            state = "stale, readers use the raw rows until its refresh" if each.is_stale else "DIFFERS"
            self.stdout.write(f"{each.name}: {state}: {each.differences:,} differences ({each.rows:,} rows recomputed)")
            for table in each.tables:
                self.stdout.write(
                    f"  {table.label}: {len(table.missing)} missing, {len(table.extra)} extra, "
                    f"{len(table.changed)} different"
                )
                lines = (
                    [f"    missing {_shown(row)}" for row in table.missing]
                    + [f"    extra {_shown(row)}" for row in table.extra]
                    + [
                        f"    different {_shown(key)}: {_changed_values(stored, rebuilt)}"
                        for key, stored, rebuilt in table.changed
                    ]
                )
                for line in lines[:SHOWN]:
                    self.stdout.write(line)
                if len(lines) > SHOWN:
                    self.stdout.write(f"    ... and {len(lines) - SHOWN} more")
        if not result.ok:
            failed = ", ".join(each.name for each in result.rollups if not each.ok)
            raise CommandError(f"Rollups differ from the raw rows: {failed}", returncode=1)

    def _workspace_id(self, workspace):
        if workspace is None:
            return None
        lookup = {"pk": int(workspace)} if workspace.isdigit() else {"slug": workspace}
        found = Workspace.objects.filter(**lookup).values_list("pk", flat=True).first()
        if found is None:
            raise CommandError(f"No workspace {workspace!r}.")
        return found
