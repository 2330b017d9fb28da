from django.urls import include, path

from . import views

urlpatterns = [
    path("dashboard/", views.learner_dashboard, name="learner_dashboard"),
    path("dashboards/", views.workspace_dashboard, name="workspace_dashboard"),
    # One module per API family, each with its views, serializers, envelope and URL patterns.
    path("", include("analytics.api.tracking")),
    path("", include("analytics.api.xapi")),
    path("", include("analytics.api.learner")),
    path("", include("analytics.api.course_info")),
    path("", include("analytics.api.course_stats")),
    path("", include("analytics.api.analyse")),
    path("", include("analytics.api.video_cloud")),
]
