from django.db import migrations, models

from analytics.services.learner_activity import rebuild_where_filled


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0008_video_day_totals'),
    ]

    operations = [
        migrations.AddField(
            model_name='learneractivity',
            name='recent_days_2',
            field=models.BigIntegerField(default=0, help_text='Bit k set: activity on last_day - 63 - k days'),
        ),
        migrations.AddField(
            model_name='learneractivity',
            name='recent_days_3',
            field=models.BigIntegerField(default=0, help_text='Bit k set: activity on last_day - 126 - k days'),
        ),
        # The new words, and 0007's and 0008's columns (sums of the raw rows): computed where rows
        # exist. This runs today's code, so only the last migration that changes the rollups may
        # call it.
        migrations.RunPython(rebuild_where_filled, migrations.RunPython.noop),
    ]
