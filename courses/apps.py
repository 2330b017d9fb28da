from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses and learning record"

    def ready(self):
        from . import signals  # noqa: F401  (connects the Result maintenance receivers)
