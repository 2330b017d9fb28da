"""Skillhabit-compatible Analyse API.

POST /analyse/results      a filtered, ordered page of learner results
POST /analyse/statistics   totals over the same filters
GET  /analyse/groups | /analyse/custom-fields | /analyse/contents | /analyse/users
                           the ids a client filters by (limit, skip, search)

Admins (any credential, API keys included) see the whole workspace; instructors (JWT or session)
see only the courses they teach; learners and instructor API keys get 403. Errors answer
`{"success": false, "message": ...}`. Rules and choices: docs/api/analyse.md.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.credentials import Credential
from analytics.definitions import course_scope
from analytics.queries.analyse import (
    CONTENT_TYPE_COURSE,
    ENROLLMENT_TYPES,
    ORDER_FIELDS,
    RESULT_STATES,
    ResultFilters,
    ResultOrder,
    analyse_contents,
    analyse_custom_fields,
    analyse_groups,
    analyse_results_page,
    analyse_statistics,
    analyse_users,
)
from analytics.queries.analyse_filters import AnalyseFiltersSerializer, IsoDateTimeField, StrictSerializer

from config.throttling import family_throttle

from .envelopes import SuccessMessageErrorsMixin

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
# Aliases a client may send for the order fields (the document names only updatedAt).
ORDER_FIELD_ALIASES = {"user.name": "userName", "content.name": "contentName"}
ORDER_DIRECTIONS = ("ASC", "DESC")


# Permission ------------------------------------------------------------------------------------


class CanAnalyse(BasePermission):
    """Admins with any credential; instructors with a personal one (their courses need a user)."""

    message = "The Analyse API needs an admin credential or an instructor's own token."

    def has_permission(self, request, view):
        credential = request.auth
        if not isinstance(credential, Credential):
            return False
        if credential.is_admin:
            return True
        return credential.is_instructor and credential.user is not None


class AnalyseApiEnabled(BasePermission):
    """The workspace's switch (Django admin, on by default): "API access must be enabled"."""

    message = "API access is not enabled for this workspace: an admin of the workspace can enable it."

    def has_permission(self, request, view):
        return request.auth.workspace.is_analyse_api_enabled


# Request serializers ---------------------------------------------------------------------------


class AnalyseOrderSerializer(StrictSerializer):
    field = serializers.CharField(required=False, default="updatedAt")
    direction = serializers.CharField(required=False, default="DESC")

    def validate_field(self, value):
        value = ORDER_FIELD_ALIASES.get(value, value)
        if value not in ORDER_FIELDS:
            raise serializers.ValidationError(f"Must be one of: {', '.join(ORDER_FIELDS)}.")
        return value

    def validate_direction(self, value):
        if value.upper() not in ORDER_DIRECTIONS:
            raise serializers.ValidationError("Must be ASC or DESC.")
        return value.upper()

    def validate(self, attrs):
        return ResultOrder(field=attrs["field"], descending=attrs["direction"] == "DESC")


# Far past any row count; bounds the OFFSET (a 64-bit overflow in SQLite, a wasted scan elsewhere).
MAX_SKIP = 10**9


class AnalyseOptionsSerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    order = AnalyseOrderSerializer(required=False, allow_null=True)


class AnalyseRequestSerializer(StrictSerializer):
    filters = AnalyseFiltersSerializer(required=False, allow_null=True)
    options = AnalyseOptionsSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        options = attrs.get("options") or {}
        return {
            "filters": attrs.get("filters") or ResultFilters(),
            "limit": options.get("limit", DEFAULT_LIMIT),
            "skip": options.get("skip", 0),
            "order": options.get("order") or ResultOrder(),
        }


class AnalyseLookupQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    search = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


# Response serializers (rows come from analytics.queries.analyse as dicts) ----------------------


class AvatarField(serializers.CharField):
    def to_representation(self, value):
        return value or None


class AnalyseResultUserSerializer(serializers.Serializer):
    id = serializers.CharField(source="user_public_id")
    name = serializers.CharField(source="user_name")
    email = serializers.EmailField(source="user_email")
    avatar = AvatarField(source="user_avatar", allow_null=True)


class AnalyseResultContentSerializer(serializers.Serializer):
    id = serializers.CharField(source="course_key")
    name = serializers.CharField(source="course_title")
    type = serializers.SerializerMethodField()

    def get_type(self, row) -> str:
        return CONTENT_TYPE_COURSE


class AnalyseResultSerializer(serializers.Serializer):
    id = serializers.CharField(source="result_id")
    state = serializers.CharField(source="effective_state", help_text=" | ".join(RESULT_STATES))
    progress = serializers.IntegerField(source="progress_pct")
    score = serializers.IntegerField(source="score_pct", allow_null=True)
    enrollmentType = serializers.CharField(source="enrollment_type", help_text=" | ".join(ENROLLMENT_TYPES))
    updatedAt = IsoDateTimeField(source="activity_at", allow_null=True)
    startedAt = IsoDateTimeField(source="started_at", allow_null=True)
    completedAt = IsoDateTimeField(source="finished_at", allow_null=True)
    certificateIssuedAt = IsoDateTimeField(source="certificate_at", allow_null=True)
    expiryDate = IsoDateTimeField(source="expiry_at", allow_null=True)
    timeSpent = serializers.IntegerField(source="time_spent", help_text="Seconds")
    content = AnalyseResultContentSerializer(source="*")
    user = AnalyseResultUserSerializer(source="*")


def success_field():
    return serializers.BooleanField(default=True, help_text="Always true in a successful answer")


class AnalyseResultsPageSerializer(serializers.Serializer):
    success = success_field()
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    skip = serializers.IntegerField()
    results = AnalyseResultSerializer(many=True)


def counts_by(names, help_text):
    return inline_serializer(name=help_text, fields={name: serializers.IntegerField() for name in names})


class AnalyseContentStatisticsSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    total = serializers.IntegerField()
    byState = counts_by(RESULT_STATES, "AnalyseContentByState")

    def to_representation(self, row):
        return {"id": row["id"], "name": row["name"], "total": row["total"], "byState": row["by_state"]}


class AnalyseStatisticsSerializer(serializers.Serializer):
    success = success_field()
    total = serializers.IntegerField()
    byState = counts_by(RESULT_STATES, "AnalyseByState")
    byEnrollmentType = counts_by(ENROLLMENT_TYPES, "AnalyseByEnrollmentType")
    averageProgress = serializers.FloatField()
    averageScore = serializers.FloatField(allow_null=True)
    completionRate = serializers.FloatField(help_text="APPROVED / total, 0 to 1; 0 when total is 0")
    certificatesIssued = serializers.IntegerField()
    totalTimeSpent = serializers.IntegerField(help_text="Seconds")
    byContent = AnalyseContentStatisticsSerializer(many=True)

    def to_representation(self, stats):
        return {
            "success": True,
            "total": stats["total"],
            "byState": stats["by_state"],
            "byEnrollmentType": stats["by_enrollment_type"],
            "averageProgress": stats["average_progress"],
            "averageScore": stats["average_score"],
            "completionRate": stats["completion_rate"],
            "certificatesIssued": stats["certificates_issued"],
            "totalTimeSpent": stats["total_time_spent"],
            "byContent": AnalyseContentStatisticsSerializer(stats["by_content"], many=True).data,
        }


class AnalyseGroupSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    membersCount = serializers.IntegerField(source="members_count")


class AnalyseCustomFieldSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())


class AnalyseContentSerializer(serializers.Serializer):
    id = serializers.CharField(source="key")
    name = serializers.CharField(source="title")
    type = serializers.SerializerMethodField()

    def get_type(self, row) -> str:
        return CONTENT_TYPE_COURSE


class AnalyseUserSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.SerializerMethodField()
    email = serializers.EmailField()
    avatar = AvatarField(source="avatar_url", allow_null=True)

    def get_name(self, row) -> str:
        return row["full_name_text"] or row["email"]


def lookup_page_serializer(name, item_serializer):
    return inline_serializer(
        name=name,
        fields={
            "success": success_field(),
            "total": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "skip": serializers.IntegerField(),
            "results": item_serializer(many=True),
        },
    )


# Views -----------------------------------------------------------------------------------------

ERROR_RESPONSES = {
    code: inline_serializer(
        name=f"AnalyseError{code}",
        fields={"success": serializers.BooleanField(), "message": serializers.CharField()},
    )
    for code in (400, 401, 403)
}


class AnalyseView(SuccessMessageErrorsMixin, APIView):
    permission_classes = [CanAnalyse, AnalyseApiEnabled]
    throttle_classes = [family_throttle("analyse")]

    def parse_body(self, request):
        serializer = AnalyseRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class AnalyseResultsView(AnalyseView):
    @extend_schema(
        operation_id="analyse_results",
        request=AnalyseRequestSerializer,
        responses={200: AnalyseResultsPageSerializer, **ERROR_RESPONSES},
        summary="A filtered, ordered page of learner results (one row per learner and content)",
    )
    def post(self, request):
        body = self.parse_body(request)
        page = analyse_results_page(
            request.auth.workspace,
            body["filters"],
            body["order"],
            limit=body["limit"],
            skip=body["skip"],
            course_ids=course_scope(request.auth),
        )
        return Response(
            {
                "success": True,
                "total": page.total,
                "limit": body["limit"],
                "skip": body["skip"],
                "results": AnalyseResultSerializer(page.rows, many=True).data,
            }
        )


class AnalyseStatisticsView(AnalyseView):
    @extend_schema(
        operation_id="analyse_statistics",
        request=AnalyseRequestSerializer,
        responses={200: AnalyseStatisticsSerializer, **ERROR_RESPONSES},
        summary="Totals over the results matching the filters (options are validated, not used)",
    )
    def post(self, request):
        body = self.parse_body(request)
        stats = analyse_statistics(request.auth.workspace, body["filters"], course_ids=course_scope(request.auth))
        return Response(AnalyseStatisticsSerializer(stats).data)


# One view serves the four lookups: (query function, item serializer, limited to the course scope?).
LOOKUPS = {
    "groups": (analyse_groups, AnalyseGroupSerializer, False),
    "custom-fields": (analyse_custom_fields, AnalyseCustomFieldSerializer, False),
    "contents": (analyse_contents, AnalyseContentSerializer, True),
    "users": (analyse_users, AnalyseUserSerializer, True),
}


class AnalyseLookupView(SuccessMessageErrorsMixin, APIView):
    permission_classes = [CanAnalyse, AnalyseApiEnabled]
    throttle_classes = [family_throttle("analyse")]
    lookup = None  # a key of LOOKUPS, set by as_view()

    def get(self, request):
        query = AnalyseLookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        query_function, item_serializer, is_scoped = LOOKUPS[self.lookup]
        scope = {"course_ids": course_scope(request.auth)} if is_scoped else {}
        page = query_function(
            request.auth.workspace, search=params["search"], limit=params["limit"], skip=params["skip"], **scope
        )
        return Response(
            {
                "success": True,
                "total": page.total,
                "limit": params["limit"],
                "skip": params["skip"],
                "results": item_serializer(page.rows, many=True).data,
            }
        )


def lookup_view(lookup):
    _, item_serializer, _ = LOOKUPS[lookup]
    name = "Analyse" + "".join(part.title() for part in lookup.split("-")) + "Page"
    decorated = extend_schema(
        operation_id=f"analyse_{lookup.replace('-', '_')}",
        parameters=[
            OpenApiParameter("limit", int, description=f"1-{MAX_LIMIT}, default {DEFAULT_LIMIT}"),
            OpenApiParameter("skip", int, description=">= 0, default 0"),
            OpenApiParameter("search", str, description="Case-insensitive substring"),
        ],
        responses={200: lookup_page_serializer(name, item_serializer), **ERROR_RESPONSES},
    )

    def get(self, request):
        return AnalyseLookupView.get(self, request)

    view_class = type(name.replace("Page", "View"), (AnalyseLookupView,), {"lookup": lookup, "get": decorated(get)})
    return view_class.as_view()


urlpatterns = [
    path("analyse/results", AnalyseResultsView.as_view(), name="analyse_results"),
    path("analyse/statistics", AnalyseStatisticsView.as_view(), name="analyse_statistics"),
    *[path(f"analyse/{lookup}", lookup_view(lookup), name=f"analyse_{lookup}") for lookup in LOOKUPS],
]
