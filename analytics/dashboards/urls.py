from django.urls import path, register_converter

from . import views


class AnyKeyConverter:
    """A course or video key as it is stored: may hold `:`, `+`, `/`, `@` (edX keys); never empty."""

    regex = r".+?"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyKeyConverter, "dashboard_key")

urlpatterns = [
    path("dashboards/", views.workspace_dashboard, name="workspace_dashboard"),
    path("dashboards/courses/", views.courses_dashboard, name="dashboard_courses"),
    path("dashboards/courses/<dashboard_key:key>/", views.course_dashboard, name="dashboard_course"),
    path("dashboards/results/", views.results_dashboard, name="dashboard_results"),
    path("dashboards/videos/<dashboard_key:key>/", views.video_dashboard, name="dashboard_video"),
]
