"""Open edX Analytics Data API v0 service probes, as edx-analytics-data-api-client's `Status`
calls them (docs/api/course_info.md): `/api/v0/status` (alive, no credential),
`/api/v0/authenticated` (200 for a valid credential, 401 otherwise) and `/api/v0/health`
(the database answers: 200 OK, else 503 UNAVAILABLE). Each with and without the trailing slash.
"""

from django.db import DatabaseError, connection
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from analytics.api.course_info import EdxTokenAuthentication
from config.error_schemas import AUTH_ERROR_RESPONSES

OK, UNAVAILABLE = "OK", "UNAVAILABLE"


class StatusView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="edx_status",
        summary="The service is alive (no credential, empty body)",
        auth=[],
        responses={200: OpenApiResponse(description="Alive")},
    )
    def get(self, request):
        return Response()


class AuthenticatedView(APIView):
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, EdxTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="edx_authenticated",
        summary="The credential is valid (empty body)",
        responses={200: OpenApiResponse(description="Authenticated"), **AUTH_ERROR_RESPONSES},
    )
    def get(self, request):
        return Response()


def database_answers():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


HEALTH = inline_serializer(
    "EdxHealth",
    {
        "overall_status": serializers.CharField(help_text="OK or UNAVAILABLE"),
        "detailed_status": inline_serializer(
            "EdxHealthDetail", {"database_connection": serializers.CharField(help_text="OK or UNAVAILABLE")}
        ),
    },
)


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="edx_health",
        summary="The service and its database answer",
        auth=[],
        responses={200: HEALTH, 503: HEALTH},
    )
    def get(self, request):
        state = OK if database_answers() else UNAVAILABLE
        return Response(
            {"overall_status": state, "detailed_status": {"database_connection": state}},
            status=status.HTTP_200_OK if state == OK else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


def _without_slash(view):
    """The same view for the path without its trailing slash, left out of the OpenAPI schema
    (one operation per probe)."""
    return extend_schema_view(get=extend_schema(exclude=True))(type(f"{view.__name__}WithoutSlash", (view,), {}))


PROBES = (("status", StatusView), ("authenticated", AuthenticatedView), ("health", HealthView))
urlpatterns = [
    *(path(f"api/v0/{name}/", view.as_view(), name=f"edx_{name}") for name, view in PROBES),
    *(path(f"api/v0/{name}", _without_slash(view).as_view()) for name, view in PROBES),
]
