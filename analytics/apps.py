from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Behaviour data and analytics"

    def ready(self):
        from .services import learner_activity, problem_rollups
        from .services.course_info_rollups import connect_signals

        connect_signals()
        learner_activity.connect_signals()
        problem_rollups.connect_signals()
