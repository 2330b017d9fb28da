from django.urls import path, register_converter

from .views.course import course_dashboard
from .views.courses import courses_dashboard
from .views.results import results_dashboard
from .views.video import video_dashboard
from .views.workspace import workspace_dashboard


class AnyKeyConverter:
    """A course or video key as it is stored: may hold `:`, `+`, `/`, `@` (edX keys); never empty."""

    regex = r".+?"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyKeyConverter, "dashboard_key")

urlpatterns = [
    path("dashboards/", workspace_dashboard, name="workspace_dashboard"),
    path("dashboards/courses/", courses_dashboard, name="dashboard_courses"),
    path("dashboards/courses/<dashboard_key:key>/", course_dashboard, name="dashboard_course"),
    path("dashboards/results/", results_dashboard, name="dashboard_results"),
    path("dashboards/videos/<dashboard_key:key>/", video_dashboard, name="dashboard_video"),
]
