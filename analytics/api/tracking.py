"""Data-in API family: the tracking API (page sessions, events, video views and reactions) and
the bulk import endpoint. Rules and choices: docs/api/tracking.md and docs/import.md.

Views only parse the body, check who may send for whom, and call ingest_records; validation,
bulk upserts and the retry of a batch the database refuses live in analytics/services/records/.
"""

from django.conf import settings
from django.urls import path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication, WorkspaceJWTAuthentication, WorkspaceSessionAuthentication
from accounts.credentials import Credential
from accounts.models import Role
from analytics.api.request_limits import BoundedJSONParser, PayloadTooLarge
from config.error_schemas import AUTH_ERROR_RESPONSES, DetailErrorSerializer, detail_response
from analytics.models import Device, EventSource, Platform
from analytics.services.records import Kind
from analytics.services.records.files import records_from_lines
from analytics.services.records.pipeline import Actor, ingest_records
from config.limits import human_bytes, loads_bounded
from config.throttling import family_throttle

MAX_ITEMS = 1000
CSRF_QUERY_PARAM = "csrfmiddlewaretoken"


# Authentication and permissions


class TrackerSessionAuthentication(WorkspaceSessionAuthentication):
    """Browser session for the tracking endpoints; the CSRF token may also come in the URL.

    navigator.sendBeacon cannot set headers, so the page-time tracker puts the (masked) CSRF
    token in `?csrfmiddlewaretoken=`. The token is then checked exactly as Django checks the
    X-CSRFToken header (Origin / Referer checks, cookie match): only where it is read from
    differs, and only on these endpoints. A header, when sent, wins over the query parameter.
    """

    def enforce_csrf(self, request):
        token = request.query_params.get(CSRF_QUERY_PARAM)
        meta = request._request.META
        if token and settings.CSRF_HEADER_NAME not in meta:
            meta[settings.CSRF_HEADER_NAME] = token
        super().enforce_csrf(request)


class TrackerSessionScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.api.tracking.TrackerSessionAuthentication"
    name = "cookieAuthTracker"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Browser session; the CSRF token in the X-CSRFToken header or ?csrfmiddlewaretoken=.",
        }


AUTHENTICATION = [ApiKeyAuthentication, WorkspaceJWTAuthentication, TrackerSessionAuthentication]


class CanSendActivity(BasePermission):
    """A member's session or bearer token (for themselves), or an admin API key (for anyone)."""

    message = "Send with a learner's session or bearer token, or an admin API key."

    def has_permission(self, request, view):
        credential = request.auth
        if not isinstance(credential, Credential):
            return False
        if credential.kind == "api_key":
            return credential.role == Role.ADMIN
        return credential.user is not None


class IsAdminApiKey(BasePermission):
    message = "This endpoint needs an admin API key."

    def has_permission(self, request, view):
        credential = request.auth
        return isinstance(credential, Credential) and credential.kind == "api_key" and credential.role == Role.ADMIN


# Parsers


class TextJSONParser(BoundedJSONParser):
    """JSON sent as text/plain: what navigator.sendBeacon sends without a CORS preflight."""

    media_type = "text/plain"


class RawTextParser(BaseParser):
    """The body as text, for the import (JSON lines or a JSON list), of bounded size."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return ""
        limit = settings.IMPORT_MAX_BODY_BYTES
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The body is larger than {limit} bytes ({human_bytes(limit)}): use manage.py import_data."
            )
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("The body must be UTF-8 text.") from exc


# Serializers (for the schema and the docs; items are validated by the records service)


class PageSessionItemSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Made by the client; re-sending it updates the session")
    page = serializers.CharField(max_length=100, help_text="Page name, e.g. Course Player")
    path = serializers.CharField(
        max_length=500, help_text="/player/:courseId and /quiz/:courseId/:chapterId link a course"
    )
    startedAt = serializers.DateTimeField()
    duration = serializers.IntegerField(min_value=0, help_text="Visible seconds so far; only grows")
    device = serializers.ChoiceField(Device.choices, required=False)
    user = serializers.EmailField(required=False, help_text="Admin API key only: whose session this is")


class EventItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        [Kind.EVENT, Kind.VIDEO_VIEW, Kind.VIDEO_REACTION], required=False, help_text="Default: event"
    )
    id = serializers.UUIDField(required=False, help_text="Required for events and video views")
    type = serializers.CharField(required=False, help_text="Event type (played_video, viewed...) or reaction type")
    occurredAt = serializers.DateTimeField(required=False)
    course = serializers.CharField(required=False)
    object = serializers.CharField(required=False)
    data = serializers.DictField(required=False)
    video = serializers.CharField(required=False, help_text="video_view / video_reaction: the video key")
    startedAt = serializers.DateTimeField(required=False)
    watchedSeconds = serializers.IntegerField(required=False)
    position = serializers.IntegerField(required=False)
    completed = serializers.BooleanField(required=False)
    segments = serializers.ListField(child=serializers.IntegerField(), required=False)
    device = serializers.ChoiceField(Device.choices, required=False)
    platform = serializers.ChoiceField(Platform.choices, required=False)
    country = serializers.CharField(required=False)
    bufferingSeconds = serializers.FloatField(required=False)
    bitrateKbps = serializers.IntegerField(required=False)
    errors = serializers.IntegerField(required=False)
    at = serializers.DateTimeField(required=False, help_text="video_reaction: when")
    user = serializers.EmailField(required=False, help_text="Admin API key only: whose activity this is")


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    field = serializers.CharField()
    reason = serializers.CharField()


class TrackingResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = ItemErrorSerializer(many=True)


class LineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField()
    reason = serializers.CharField()


class KindCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ImportResultSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    summary = serializers.DictField(child=KindCountsSerializer())
    errors = LineErrorSerializer(many=True)


def status_for(report):
    """200 when every item was stored, 207 when some were, 400 when none was."""
    if report.rejected == 0:
        return status.HTTP_200_OK
    if report.accepted == 0:
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_207_MULTI_STATUS


# Tracking


class TrackingView(APIView):
    """POST one item or a list of up to 1,000; see docs/api/tracking.md."""

    authentication_classes = AUTHENTICATION
    permission_classes = [CanSendActivity]
    throttle_classes = [family_throttle("tracking")]
    parser_classes = [BoundedJSONParser, TextJSONParser]
    default_kind = None
    allowed_kinds = frozenset()

    def post(self, request):
        items = request.data
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ParseError("The body must be a JSON object or a list of objects.")
        if not items:
            raise ParseError("The list is empty.")
        if len(items) > MAX_ITEMS:
            raise ParseError(f"At most {MAX_ITEMS} items per request, got {len(items)}.")
        credential = request.auth
        actor = None
        if credential.kind != "api_key":
            actor = Actor(user_id=credential.user.pk, email=credential.user.email.lower())
        # At most MAX_ITEMS, one chunk (pipeline.CHUNK_SIZE): written in one transaction, retried
        # item by item if the database refuses it; an unreachable database is a 503.
        report = ingest_records(
            credential.workspace,
            list(enumerate(items)),
            source=EventSource.TRACKER,
            actor=actor,
            allowed_kinds=self.allowed_kinds,
            default_kind=self.default_kind,
        )
        totals = {"created": 0, "updated": 0, "unchanged": 0}
        for result in report.counts.values():
            for name in totals:
                totals[name] += getattr(result, name)
        body = {
            "accepted": report.accepted,
            "rejected": report.rejected,
            **totals,
            "errors": [{"index": e.ref, "field": e.field, "reason": e.reason} for e in report.errors],
        }
        return Response(body, status=status_for(report))


def rejected_or_malformed(name, result_serializer):
    """400: the per-item report when every item was refused, `{"detail"}` for a malformed body."""
    return OpenApiResponse(
        PolymorphicProxySerializer(
            component_name=name, serializers=[result_serializer, DetailErrorSerializer], resource_type_field_name=None
        ),
        description='Nothing stored: every item refused (the report), or a malformed body (`{"detail": ...}`)',
    )


TRACKING_RESPONSES = {
    200: OpenApiResponse(TrackingResultSerializer, description="Every item stored"),
    207: OpenApiResponse(TrackingResultSerializer, description="Some items stored; the others listed in errors"),
    400: rejected_or_malformed("TrackingRejected", TrackingResultSerializer),
    **AUTH_ERROR_RESPONSES,
    413: detail_response("The body is larger than the limit (docs/api/limits.md)"),
}


class PageSessionTrackingView(TrackingView):
    default_kind = Kind.PAGE_SESSION
    allowed_kinds = frozenset({Kind.PAGE_SESSION})

    @extend_schema(
        summary="Record page sessions (page-time tracker)",
        request=PageSessionItemSerializer(many=True),
        responses=TRACKING_RESPONSES,
        examples=[
            OpenApiExample(
                "A heartbeat",
                request_only=True,
                value=[
                    {
                        "id": "6f1c5f8e-8a51-4c1b-9d1e-0a3b7c2d4e5f",
                        "page": "Course Player",
                        "path": "/player/course-v1:Acme+AN101+2026",
                        "startedAt": "2026-03-01T09:30:00Z",
                        "duration": 30,
                    }
                ],
            )
        ],
        tags=["tracking"],
    )
    def post(self, request):
        return super().post(request)


class EventTrackingView(TrackingView):
    default_kind = Kind.EVENT
    allowed_kinds = frozenset({Kind.EVENT, Kind.VIDEO_VIEW, Kind.VIDEO_REACTION})

    @extend_schema(
        summary="Record learning events, video views and video reactions",
        request=EventItemSerializer(many=True),
        responses=TRACKING_RESPONSES,
        tags=["tracking"],
    )
    def post(self, request):
        return super().post(request)


# Import


class ImportView(APIView):
    """POST interchange records (JSON lines, or a JSON list) with an admin API key."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAdminApiKey]
    throttle_classes = [family_throttle("import")]
    parser_classes = [RawTextParser]

    @extend_schema(
        summary="Import interchange records (docs/import.md)",
        request={
            "application/x-ndjson": {"type": "string"},
            "application/json": {"type": "array", "items": {"type": "object"}},
        },
        responses={
            200: OpenApiResponse(ImportResultSerializer, description="Every line imported"),
            207: OpenApiResponse(
                ImportResultSerializer, description="Some lines imported; the others listed in errors"
            ),
            400: rejected_or_malformed("ImportRejected", ImportResultSerializer),
            **AUTH_ERROR_RESPONSES,
            413: detail_response("The body is larger than IMPORT_MAX_BODY_BYTES (50 MiB by default)"),
        },
        tags=["import"],
    )
    def post(self, request):
        text = request.data if isinstance(request.data, str) else ""
        if text.lstrip().startswith("["):
            try:
                items = loads_bounded(text)
            except ValueError as exc:
                raise ParseError(f"JSON parse error - {exc}") from exc
            records = [(number, item) for number, item in enumerate(items, start=1)]
        else:
            records = [(ref.line, item) for ref, item in records_from_lines(text.splitlines())]
        if not records:
            raise ParseError("The body holds no record.")
        report = ingest_records(request.auth.workspace, records, source=EventSource.IMPORT)
        body = {
            "total": report.total,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "summary": report.summary(),
            "errors": [{"line": e.ref, "field": e.field, "reason": e.reason} for e in report.errors],
        }
        return Response(body, status=status_for(report))


urlpatterns = [
    path("api/track/page-sessions", PageSessionTrackingView.as_view(), name="track-page-sessions"),
    path("api/track/events", EventTrackingView.as_view(), name="track-events"),
    path("api/import", ImportView.as_view(), name="import-records"),
]
