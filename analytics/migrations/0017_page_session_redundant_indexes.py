"""Drops the single-column indexes of PageSession.workspace and PageSession.course (issue 21).

The composite indexes (workspace, user, started_at), (workspace, started_at) and (course,
started_at) lead with the same columns, so every query and cascade on either column keeps an
index; the two dropped ones only cost every page-session write. Only the indexes are dropped
(SeparateDatabaseAndState): altering the fields through Django would also drop and re-add their
foreign keys, re-validating every row of a large table under a lock.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "analytics_pagesession_course_id_f6a3aef8": "course_id",
    "analytics_pagesession_workspace_id_e7303c83": "workspace_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_workspace_analyse_api_switch"),
        ("analytics", "0016_course_staleness"),
        ("courses", "0008_heavy_rollups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "analytics_pagesession" ("{column}")',
                )
                for name, column in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="pagesession",
                    name="course",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="courses.course",
                    ),
                ),
                migrations.AlterField(
                    model_name="pagesession",
                    name="workspace",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.workspace",
                    ),
                ),
            ],
        )
    ]
