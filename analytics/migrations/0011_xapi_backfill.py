"""Statements stored before 0010 get what 0010 gave new ones: their relation rows (the agent,
activity, verb and registration filters of GET /xapi/statements read them) and the registration
column.

It calls the current services on purpose: the rows must be those the current reads expect. A
later change of what the rows hold brings its own rebuild.
"""

from django.db import migrations
from django.db.models import Exists, OuterRef

CHUNK = 2000


def backfill(apps, schema_editor):
    from accounts.models import Workspace
    from analytics.models import XapiStatement, XapiStatementRelation
    from analytics.services.xapi.relations import store_relations
    from analytics.services.xapi.statements import statement_registration

    workspace_ids = XapiStatement.objects.values_list("workspace_id", flat=True).distinct()
    for workspace_id in sorted(workspace_ids):
        workspace = Workspace.objects.get(pk=workspace_id)
        # Those without any relation row (every statement has at least its actor's and verb's).
        rows = (
            XapiStatement.objects.filter(workspace_id=workspace_id)
            .exclude(Exists(XapiStatementRelation.objects.filter(statement_id=OuterRef("pk"))))
            .only("id", "statement", "stored", "registration")
        )
        chunk = []
        for row in rows.order_by("stored", "id").iterator(chunk_size=CHUNK):
            chunk.append(row)
            if len(chunk) == CHUNK:
                _backfill_chunk(workspace, chunk, store_relations, statement_registration)
                chunk = []
        if chunk:
            _backfill_chunk(workspace, chunk, store_relations, statement_registration)


def _backfill_chunk(workspace, rows, store_relations, statement_registration):
    from analytics.models import XapiStatement

    store_relations(workspace, rows)
    registered = []
    for row in rows:
        row.registration = statement_registration(row.statement)
        if row.registration:
            registered.append(row)
    XapiStatement.objects.bulk_update(registered, ["registration"])


class Migration(migrations.Migration):
    dependencies = [("analytics", "0010_xapi_lrs")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
