"""SkillRise-compatible learner analytics: `GET /api/user/analytics`.

The signed-in user's own analytics in the workspace their credential acts in (browser session or
bearer token). Answers `{"success": true, "analytics": {...}}`; errors are
`{"success": false, "message": ...}`. Rules and choices: docs/api/learner.md.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from django.urls import path

from accounts.credentials import Credential
from analytics.queries.learner import learner_analytics
from analytics.timezones import time_zone_named, today_in
from config.throttling import family_throttle

from .envelopes import SuccessMessageErrorsMixin
from .rows import CompiledRows


# Serializers: the document's camelCase names at the edge, the query's Python names inside.
class UserAnalyticsPageStatSerializer(serializers.Serializer):
    page = serializers.CharField()
    path = serializers.CharField(help_text="The most visited path of this page")
    totalDuration = serializers.IntegerField(source="total_duration_s", help_text="Seconds")
    visits = serializers.IntegerField()


class UserAnalyticsDailyStatSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Calendar day in the requested time zone")
    duration = serializers.IntegerField(source="duration_s", help_text="Seconds")


class UserAnalyticsChapterSerializer(serializers.Serializer):
    chapterId = serializers.CharField(source="chapter_key")
    chapterTitle = serializers.CharField(source="chapter_title")
    quizDuration = serializers.IntegerField(source="quiz_duration_s", help_text="Seconds")
    quizSessions = serializers.IntegerField(source="quiz_sessions")


class UserAnalyticsCourseSerializer(serializers.Serializer):
    courseId = serializers.CharField(source="course_key")
    courseTitle = serializers.CharField(source="course_title")
    courseThumbnail = serializers.CharField(
        source="course_thumbnail", allow_null=True, help_text="null for a course the catalog does not know"
    )
    learningDuration = serializers.IntegerField(source="learning_duration_s", help_text="Seconds")
    learningSessions = serializers.IntegerField(source="learning_sessions")
    totalQuizDuration = serializers.IntegerField(source="total_quiz_duration_s", help_text="Seconds")
    chapters = UserAnalyticsChapterSerializer(many=True)


class UserAnalyticsSerializer(serializers.Serializer):
    totalDuration = serializers.IntegerField(source="total_duration_s", help_text="Seconds")
    totalSessions = serializers.IntegerField(source="total_sessions")
    pageStats = UserAnalyticsPageStatSerializer(source="page_stats", many=True)
    dailyStats = UserAnalyticsDailyStatSerializer(source="daily_stats", many=True)
    courseBreakdown = UserAnalyticsCourseSerializer(source="course_breakdown", many=True)


class UserAnalyticsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    analytics = UserAnalyticsSerializer()


class UserAnalyticsErrorSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class UserAnalyticsQuerySerializer(serializers.Serializer):
    tz = serializers.CharField(
        required=False,
        default="UTC",
        help_text="IANA time zone whose calendar days dailyStats uses (default UTC), e.g. Europe/Paris",
    )

    def validate_tz(self, value):
        zone = time_zone_named(value)
        if zone is None:
            raise serializers.ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/Paris).")
        return zone


class IsUserInWorkspace(BasePermission):
    """A person acting in a workspace: a session or bearer credential (an API key has no user)."""

    message = "This endpoint needs a signed-in user."

    def has_permission(self, request, view):
        credential = request.auth
        if not isinstance(credential, Credential):
            self.message = "This user is not a member of any workspace."
            return False
        if credential.user is None:
            self.message = (
                "API keys have no user: this endpoint shows the signed-in user's own analytics "
                "and needs a session or a bearer token."
            )
            return False
        return True


class UserAnalyticsView(SuccessMessageErrorsMixin, APIView):
    """The signed-in user's time per page, per day (7 days) and per course."""

    permission_classes = [IsUserInWorkspace]
    throttle_classes = [family_throttle("learner-analytics")]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'

    @extend_schema(
        operation_id="user_analytics",
        summary="Get User Analytics",
        tags=["Learner analytics (SkillRise)"],
        auth=[{"bearerAuth": []}, {"cookieAuth": []}],
        parameters=[UserAnalyticsQuerySerializer],
        responses={
            200: UserAnalyticsResponseSerializer,
            400: OpenApiResponse(UserAnalyticsErrorSerializer, description="Bad `tz`"),
            401: OpenApiResponse(UserAnalyticsErrorSerializer, description="Missing or invalid credentials"),
            403: OpenApiResponse(UserAnalyticsErrorSerializer, description="An API key, or no workspace"),
            500: OpenApiResponse(UserAnalyticsErrorSerializer, description="Unexpected error"),
        },
    )
    def get(self, request):
        params = UserAnalyticsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        tz = params.validated_data["tz"]
        analytics = learner_analytics(request.auth.workspace, request.auth.user, today=today_in(tz), tz=tz)
        return Response({"success": True, "analytics": CompiledRows(UserAnalyticsSerializer).one(analytics)})


urlpatterns = [
    path("api/user/analytics", UserAnalyticsView.as_view(), name="user_analytics"),
]
