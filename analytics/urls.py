from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.learner_dashboard, name="learner_dashboard"),
    path("dashboards/", views.workspace_dashboard, name="workspace_dashboard"),
]
