from django.urls import path

from . import api

urlpatterns = [
    path("api/privacy/erasures", api.ErasureListView.as_view(), name="privacy_erasures"),
    path("api/privacy/erasures/<str:public_id>", api.ErasureDetailView.as_view(), name="privacy_erasure"),
]
