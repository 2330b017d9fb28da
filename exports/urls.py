from django.urls import path

from . import api

urlpatterns = [
    path("analytics/export", api.ExportListView.as_view(), name="export_list"),
    path("analytics/export/<str:export_id>", api.ExportDetailView.as_view(), name="export_detail"),
    path("analytics/export/<str:export_id>/download", api.ExportDownloadView.as_view(), name="export_download"),
]
