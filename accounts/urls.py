from django.urls import include, path

from . import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("api/auth/token/", api.TokenObtainView.as_view(), name="token_obtain"),
    path("api/auth/token/refresh/", api.TokenRefresh.as_view(), name="token_refresh"),
    path("api/me/", api.WhoAmIView.as_view(), name="whoami"),
    path("api/workspace/settings", api.WorkspaceSettingsView.as_view(), name="workspace_settings"),
]
