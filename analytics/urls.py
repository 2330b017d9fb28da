from django.urls import include, path

from . import views

urlpatterns = [
    path("dashboard/", views.learner_dashboard, name="learner_dashboard"),
    path("", include("analytics.dashboards.urls")),  # workspace, course, results and video dashboards
    # One module per API family, each with its views, serializers, envelope and URL patterns.
    path("", include("analytics.api.tracking")),
    path("", include("analytics.api.xapi.urls")),
    path("", include("analytics.api.learner")),
    path("", include("analytics.api.course_info")),
    path("", include("analytics.api.edx_status")),
    path("", include("analytics.api.edx_problems")),
    path("", include("analytics.api.course_stats")),
    path("", include("analytics.api.analyse")),
    path("", include("analytics.api.video_cloud")),
]
