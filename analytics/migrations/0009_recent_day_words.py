from django.db import migrations, models


def mark_for_rebuild(apps, schema_editor):
    """The new words, and 0007's and 0008's columns, are sums of the raw rows: where learner-days
    exist they must be recomputed. A migration must not run service code (it follows today's
    models, not this migration's), so this marks the learner_activity rollup and
    analytics.rollups.migrations.rebuild_marked rebuilds it once `migrate` has applied every
    migration. A fresh database has nothing to recompute."""
    LearnerDay = apps.get_model("analytics", "LearnerDay")
    RollupState = apps.get_model("analytics", "RollupState")
    database = schema_editor.connection.alias
    if LearnerDay.objects.using(database).exists():
        RollupState.objects.using(database).get_or_create(name="rebuild:learner_activity")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_video_day_totals"),
    ]

    operations = [
        migrations.AddField(
            model_name="learneractivity",
            name="recent_days_2",
            field=models.BigIntegerField(default=0, help_text="Bit k set: activity on last_day - 63 - k days"),
        ),
        migrations.AddField(
            model_name="learneractivity",
            name="recent_days_3",
            field=models.BigIntegerField(default=0, help_text="Bit k set: activity on last_day - 126 - k days"),
        ),
        migrations.RunPython(mark_for_rebuild, migrations.RunPython.noop),
    ]
