from django.urls import path

from analytics.api.xapi.documents import (
    AboutView,
    ActivitiesView,
    ActivityProfileView,
    AgentProfileView,
    AgentsView,
    StateView,
)
from analytics.api.xapi.statements import StatementsView

urlpatterns = [
    path("xapi/statements", StatementsView.as_view(), name="xapi-statements"),
    path("xapi/activities/state", StateView.as_view(), name="xapi-state"),
    path("xapi/activities/profile", ActivityProfileView.as_view(), name="xapi-activity-profile"),
    path("xapi/activities", ActivitiesView.as_view(), name="xapi-activities"),
    path("xapi/agents/profile", AgentProfileView.as_view(), name="xapi-agent-profile"),
    path("xapi/agents", AgentsView.as_view(), name="xapi-agents"),
    path("xapi/about", AboutView.as_view(), name="xapi-about"),
]
