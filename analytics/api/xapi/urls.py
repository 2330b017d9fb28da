from django.urls import path

from analytics.api.xapi.statements import StatementsView

urlpatterns = [
    path("xapi/statements", StatementsView.as_view(), name="xapi-statements"),
]
