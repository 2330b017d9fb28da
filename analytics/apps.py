from django.apps import AppConfig
from django.db.backends.signals import connection_created
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
        # Framework-wide, connected here because config is not an app.
        from config.postgres_loaders import use_optimised_timestamptz_loader

        connection_created.connect(use_optimised_timestamptz_loader, dispatch_uid="optimised-timestamptz-loader")
        post_migrate.connect(migrations.rebuild_marked, sender=self, dispatch_uid="rollups-rebuild-marked")
