from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Behaviour data and analytics"

    def ready(self):
        from .rollups import migrations, signals
        from .services import problem_rollups
        from .services.course_info_rollups import connect_signals

        connect_signals()
        signals.connect_signals()
        problem_rollups.connect_signals()
        post_migrate.connect(migrations.rebuild_marked, sender=self, dispatch_uid="rollups-rebuild-marked")
