from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses and learning record"
    # courses.Result is kept by the rollup registry (analytics.rollups): its save and delete
    # receivers are wired in analytics.apps.
