"""VideoCloud-compatible analytics: `/analytics/videos/{id}`, `/analytics/videos/summary`,
`/analytics/users`, `/analytics/users/engagement`, `/analytics/system/health`,
`/analytics/system/performance`, and the health probe `/api/health/`.

Rules and choices: docs/api/video_cloud.md. Views parse the query string, check that the
credential is a workspace admin, call one query function of analytics.queries.video_cloud and
serialize its snake_case result into the document's camelCase names.
"""

from django.db import DatabaseError, connection
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from analytics.queries import video_cloud as queries
from config.throttling import family_throttle

from .envelopes import VideoCloudError, VideoCloudErrorsMixin, videocloud_success
from .rows import CompiledRows

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"
ERROR_CODES = {
    queries.InvalidPeriod: "ANALYTICS_INVALID_PERIOD",
    queries.InvalidMetrics: "ANALYTICS_INVALID_METRICS",
    queries.InvalidParameter: "ANALYTICS_INVALID_PARAMETER",
}
TOP_VIDEOS_DEFAULT = 10
TOP_VIDEOS_MAX = 100


# --- Serializers: snake_case query results -> the document's camelCase --------------------------


def _rate(**kwargs):
    """A ratio or rate: a decimal, 0 over nothing (never null)."""
    return serializers.FloatField(**kwargs)


def _whole(**kwargs):
    """A figure the document shows as an integer (averages included: rounded half up; 0 over nothing)."""
    return serializers.IntegerField(**kwargs)


class VideoCloudTimeWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(format=ISO_Z)
    end = serializers.DateTimeField(format=ISO_Z)


class VideoCloudPeriodSerializer(VideoCloudTimeWindowSerializer):
    previous = VideoCloudTimeWindowSerializer(help_text="The previous period: same length, ending at start")


class VideoCloudViewsTimelineSerializer(serializers.Serializer):
    date = serializers.CharField(help_text="2024-03-24 (day, or the Monday of a week); 2024-03-24T14:00:00Z (hour)")
    views = serializers.IntegerField()
    unique = serializers.IntegerField()


class VideoCloudViewCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    unique = serializers.IntegerField()


class VideoCloudViewsSerializer(VideoCloudViewCountsSerializer):
    change = _rate(help_text="(views - previous views) / previous views; 0 when previous is 0")
    byCountry = serializers.DictField(source="by_country", child=serializers.IntegerField())
    byDevice = serializers.DictField(source="by_device", child=serializers.IntegerField())
    byPlatform = serializers.DictField(source="by_platform", child=serializers.IntegerField())
    timeline = VideoCloudViewsTimelineSerializer(many=True)
    previous = VideoCloudViewCountsSerializer(required=False, help_text="With compare=previous")


class VideoCloudEngagementFiguresSerializer(serializers.Serializer):
    averageWatchTime = _whole(source="average_watch_time", help_text="Mean seconds watched per view")
    completionRate = _rate(source="completion_rate")
    likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    shares = serializers.IntegerField()


class VideoCloudEngagementTimelineSerializer(serializers.Serializer):
    date = serializers.CharField()
    watchTime = serializers.IntegerField(source="watch_time", help_text="Seconds watched")
    completionRate = _rate(source="completion_rate")


class VideoCloudVideoEngagementSerializer(VideoCloudEngagementFiguresSerializer):
    timeline = VideoCloudEngagementTimelineSerializer(many=True)
    previous = VideoCloudEngagementFiguresSerializer(required=False, help_text="With compare=previous")


class VideoCloudQualityFiguresSerializer(serializers.Serializer):
    bufferingRate = _rate(source="buffering_rate", help_text="Buffering seconds / seconds watched")
    averageBitrate = serializers.CharField(
        source="average_bitrate", help_text='"2500k"; "0k" when no view reported one'
    )
    errorRate = _rate(source="error_rate", help_text="Player errors per view")


class VideoCloudQualityTimelineSerializer(serializers.Serializer):
    date = serializers.CharField()
    bufferingRate = _rate(source="buffering_rate")
    errorRate = _rate(source="error_rate")


class VideoCloudPerformanceSerializer(VideoCloudQualityFiguresSerializer):
    timeline = VideoCloudQualityTimelineSerializer(many=True)
    previous = VideoCloudQualityFiguresSerializer(required=False, help_text="With compare=previous")


class VideoCloudVideoAnalyticsSerializer(serializers.Serializer):
    period = VideoCloudPeriodSerializer()
    views = VideoCloudViewsSerializer(required=False)
    engagement = VideoCloudVideoEngagementSerializer(required=False)
    performance = VideoCloudPerformanceSerializer(required=False)


class VideoCloudAverageEngagementSerializer(serializers.Serializer):
    watchTime = _whole(source="watch_time", help_text="Mean seconds watched per view")
    completionRate = _rate(source="completion_rate")
    likes = _whole(help_text="Likes in the period per video of the catalog")
    comments = _whole(help_text="Comments in the period per video of the catalog")


class VideoCloudTopVideoSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The video key")
    title = serializers.CharField()
    views = serializers.IntegerField()
    watchTime = serializers.IntegerField(source="watch_time")
    engagement = _rate(help_text="Completion rate")


class VideoCloudTrendsSerializer(serializers.Serializer):
    views = _rate()
    watchTime = _rate(source="watch_time")
    engagement = _rate()


class VideoCloudSummaryPreviousSerializer(serializers.Serializer):
    totalViews = serializers.IntegerField(source="total_views")
    totalWatchTime = serializers.IntegerField(source="total_watch_time")
    completionRate = _rate(source="completion_rate")


class VideoCloudVideoSummarySerializer(serializers.Serializer):
    totalVideos = serializers.IntegerField(source="total_videos", required=False)
    totalViews = serializers.IntegerField(source="total_views", required=False)
    totalWatchTime = serializers.IntegerField(source="total_watch_time", required=False)
    averageEngagement = VideoCloudAverageEngagementSerializer(source="average_engagement", required=False)
    topVideos = VideoCloudTopVideoSerializer(source="top_videos", many=True, required=False)
    trends = VideoCloudTrendsSerializer(required=False)
    period = VideoCloudPeriodSerializer(required=False, help_text="With compare=previous")
    previous = VideoCloudSummaryPreviousSerializer(required=False, help_text="With compare=previous")


class VideoCloudActiveUsersSerializer(serializers.Serializer):
    daily = serializers.IntegerField()
    weekly = serializers.IntegerField()
    monthly = serializers.IntegerField()


class VideoCloudSessionsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    averageDuration = _whole(source="average_duration", help_text="Seconds")
    byDevice = serializers.DictField(source="by_device", child=serializers.IntegerField())


class VideoCloudActionsSerializer(serializers.Serializer):
    uploads = serializers.IntegerField()
    comments = serializers.IntegerField()
    likes = serializers.IntegerField()
    shares = serializers.IntegerField()


class VideoCloudActivitySerializer(serializers.Serializer):
    activeUsers = VideoCloudActiveUsersSerializer(source="active_users")
    sessions = VideoCloudSessionsSerializer()
    actions = VideoCloudActionsSerializer()


class VideoCloudGrowthSerializer(serializers.Serializer):
    newUsers = serializers.IntegerField(source="new_users")
    returningUsers = serializers.IntegerField(source="returning_users")
    churnRate = _rate(source="churn_rate")
    bySource = serializers.DictField(source="by_source", child=serializers.IntegerField())


class VideoCloudRetentionRatesSerializer(serializers.Serializer):
    day1 = _rate()
    day7 = _rate()
    day30 = _rate()


class VideoCloudCohortSerializer(serializers.Serializer):
    date = serializers.CharField(help_text="Monday of the ISO week of the learners' first activity")
    users = serializers.IntegerField(help_text="Learners in the cohort")
    day1 = _rate()
    day7 = _rate()
    day30 = _rate()


class VideoCloudRetentionSerializer(VideoCloudRetentionRatesSerializer):
    cohorts = VideoCloudCohortSerializer(many=True)


class VideoCloudUserAnalyticsSerializer(serializers.Serializer):
    activity = VideoCloudActivitySerializer(required=False)
    growth = VideoCloudGrowthSerializer(required=False)
    retention = VideoCloudRetentionSerializer(required=False)


class VideoCloudUserTypeSerializer(serializers.Serializer):
    sessionDuration = _whole(source="session_duration")
    pagesPerSession = _whole(source="pages_per_session")


class VideoCloudUserTypesSerializer(serializers.Serializer):
    new = VideoCloudUserTypeSerializer()
    returning = VideoCloudUserTypeSerializer()


class VideoCloudHourSerializer(serializers.Serializer):
    hour = serializers.IntegerField()
    users = serializers.IntegerField()
    engagement = _rate(help_text="Learners active in this hour / learners with a page session in the period")


class VideoCloudEngagementSerializer(serializers.Serializer):
    averageSessionDuration = _whole(source="average_session_duration")
    pagesPerSession = _whole(source="pages_per_session")
    bounceRate = _rate(source="bounce_rate")
    byUserType = VideoCloudUserTypesSerializer(source="by_user_type")
    byTimeOfDay = VideoCloudHourSerializer(source="by_time_of_day", many=True)


class VideoCloudUserEngagementSerializer(serializers.Serializer):
    engagement = VideoCloudEngagementSerializer(required=False)


class VideoCloudResponseTimeSerializer(serializers.Serializer):
    average = _whole(help_text="Milliseconds")
    p95 = _whole()
    p99 = _whole()


class VideoCloudErrorTypesSerializer(serializers.Serializer):
    api = _rate()
    processing = _rate()
    storage = _rate()


class VideoCloudErrorsSerializer(serializers.Serializer):
    rate = _rate()
    byType = VideoCloudErrorTypesSerializer(source="by_type")


class VideoCloudCpuSerializer(serializers.Serializer):
    usage = serializers.FloatField()
    load = serializers.ListField(child=serializers.FloatField())


class VideoCloudUsageSerializer(serializers.Serializer):
    usage = serializers.FloatField()
    available = serializers.CharField()


class VideoCloudDatabaseSizeSerializer(serializers.Serializer):
    size = serializers.CharField(allow_null=True)
    bytes = serializers.IntegerField(allow_null=True)


class VideoCloudResourcesSerializer(serializers.Serializer):
    cpu = VideoCloudCpuSerializer()
    memory = VideoCloudUsageSerializer()
    storage = VideoCloudUsageSerializer()
    database = VideoCloudDatabaseSizeSerializer()


class VideoCloudSystemHealthSerializer(serializers.Serializer):
    uptime = _rate(required=False, help_text="Minutes with a successful health check / minutes since checks began")
    responseTime = VideoCloudResponseTimeSerializer(source="response_time", required=False)
    errors = VideoCloudErrorsSerializer(required=False)
    resources = VideoCloudResourcesSerializer(required=False)


class VideoCloudRequestsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    perSecond = _rate(source="per_second")
    byEndpoint = serializers.DictField(
        source="by_endpoint",
        child=serializers.IntegerField(),
        help_text="Path template (`/analytics/videos/{id}`) -> requests",
    )


class VideoCloudEndpointTimesSerializer(serializers.Serializer):
    average = _whole(help_text="Milliseconds")
    byEndpoint = serializers.DictField(source="by_endpoint", child=serializers.IntegerField())


class VideoCloudApiTrafficSerializer(serializers.Serializer):
    requests = VideoCloudRequestsSerializer()
    responseTime = VideoCloudEndpointTimesSerializer(source="response_time")


class VideoCloudQueueSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    processing = serializers.IntegerField()
    averageTime = _whole(source="average_time", help_text="Seconds")


class VideoCloudProcessingSerializer(serializers.Serializer):
    """The document's queues, then this service's own (and any registered later)."""

    videos = VideoCloudQueueSerializer(help_text="Transcoding: this service transcodes nothing, always 0")
    thumbnails = VideoCloudQueueSerializer(help_text="Thumbnails: none are made here, always 0")
    exports = VideoCloudQueueSerializer(help_text="Export jobs (added)")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data.update(
            {name: VideoCloudQueueSerializer(queue).data for name, queue in instance.items() if name not in data}
        )
        return data


class VideoCloudStorageOperationsSerializer(serializers.Serializer):
    reads = serializers.IntegerField()
    writes = serializers.IntegerField()
    errors = serializers.IntegerField()


# `in` is a Python keyword: declare the fields through type().
VideoCloudBandwidthSerializer = type(
    "VideoCloudBandwidthSerializer",
    (serializers.Serializer,),
    {"in": serializers.CharField(), "out": serializers.CharField()},
)


class VideoCloudStorageSerializer(serializers.Serializer):
    operations = VideoCloudStorageOperationsSerializer()
    bandwidth = VideoCloudBandwidthSerializer()


class VideoCloudSystemPerformanceSerializer(serializers.Serializer):
    api = VideoCloudApiTrafficSerializer(required=False)
    processing = VideoCloudProcessingSerializer(required=False)
    storage = VideoCloudStorageSerializer(required=False)


ERROR_ENVELOPE = inline_serializer(
    "VideoCloudError",
    {
        "success": serializers.BooleanField(default=False),
        "error": inline_serializer(
            "VideoCloudErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "field": serializers.CharField(required=False),
            },
        ),
    },
)


def _envelope(name, serializer):
    return inline_serializer(name, {"success": serializers.BooleanField(default=True), "data": serializer()})


# --- Views ----------------------------------------------------------------------------------------

PERIOD_PARAMETER = OpenApiParameter("period", OpenApiTypes.STR, description="1d, 7d, 30d, 90d or all")
METRICS_PARAMETER = OpenApiParameter(
    "metrics", OpenApiTypes.STR, description="Comma-separated (or repeated) sections to include; default all"
)
GROUP_BY_PARAMETER = OpenApiParameter(
    "groupBy", OpenApiTypes.STR, enum=["hour", "day", "week"], description="Timeline buckets"
)
COMPARE_PARAMETER = OpenApiParameter(
    "compare",
    OpenApiTypes.STR,
    enum=["previous", "true", "1", "false", "0"],
    description="Add the previous period's figures",
)
ERROR_RESPONSES = {code: ERROR_ENVELOPE for code in (400, 401, 403, 404, 429)}


class VideoCloudView(VideoCloudErrorsMixin, APIView):
    """One VideoCloud endpoint: its periods, default period, metrics (document name -> section of
    the query result) and serializer; `resolve_period()` resolves the period once, at the
    VideoCloud clock's now (`periods.utc_now`), and `query()` calls its query function with it."""

    permission_classes = [IsAdmin]
    throttle_classes = [family_throttle("videocloud")]
    periods = queries.DATA_PERIODS
    default_period = "7d"
    metrics: dict = {}
    serializer_class = None

    def resolve_period(self, workspace, name, now, **kwargs):
        raise NotImplementedError

    def query(self, workspace, period, sections, params, **kwargs):
        raise NotImplementedError

    def get(self, request, **kwargs):
        params = request.query_params
        workspace = request.auth.workspace
        try:
            name = queries.validate_period_name(params.get("period") or self.default_period, self.periods)
            chosen = queries.parse_metrics(params.getlist("metrics") + params.getlist("metrics[]"), tuple(self.metrics))
            period = self.resolve_period(workspace, name, queries.periods.utc_now(), **kwargs)
            data = self.query(workspace, period, tuple(self.metrics[name] for name in chosen), params, **kwargs)
        except queries.VideoCloudQueryError as exc:
            raise VideoCloudError(ERROR_CODES[type(exc)], str(exc), field=exc.field) from exc
        except queries.DataUnavailable as exc:
            raise VideoCloudError(
                "ANALYTICS_DATA_UNAVAILABLE", str(exc), status.HTTP_404_NOT_FOUND, field=exc.field
            ) from exc
        return videocloud_success(CompiledRows(self.serializer_class).one(data))


def _top_limit(params):
    raw = params.get("limit")
    if raw in (None, ""):
        return TOP_VIDEOS_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= TOP_VIDEOS_MAX:
        raise queries.InvalidParameter(f"limit must be an integer from 1 to {TOP_VIDEOS_MAX}; got {raw!r}.", "limit")
    return int(raw)


@extend_schema_view(
    get=extend_schema(
        summary="Analytics of one video",
        parameters=[PERIOD_PARAMETER, METRICS_PARAMETER, GROUP_BY_PARAMETER, COMPARE_PARAMETER],
        responses={
            200: _envelope("VideoCloudVideoAnalyticsResponse", VideoCloudVideoAnalyticsSerializer),
            **ERROR_RESPONSES,
        },
    )
)
class VideoAnalyticsView(VideoCloudView):
    """Views, engagement and playback quality of one video (`{id}` is the video key)."""

    default_period = "7d"
    metrics = {"views": "views", "engagement": "engagement", "performance": "performance"}
    serializer_class = VideoCloudVideoAnalyticsSerializer

    def resolve_period(self, workspace, name, now, id):
        return queries.video_period(workspace, name, now, video_key=id)

    def query(self, workspace, period, sections, params, id):
        return queries.video_analytics(
            workspace,
            id,
            period,
            sections=sections,
            group_by=queries.parse_group_by(params.get("groupBy")),
            compare=queries.parse_compare(params.get("compare")),
        )


@extend_schema_view(
    get=extend_schema(
        summary="Summary of the workspace's videos",
        parameters=[
            PERIOD_PARAMETER,
            METRICS_PARAMETER,
            COMPARE_PARAMETER,
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Top videos, 1-{TOP_VIDEOS_MAX} (default {TOP_VIDEOS_DEFAULT})"
            ),
        ],
        responses={
            200: _envelope("VideoCloudVideoSummaryResponse", VideoCloudVideoSummarySerializer),
            **ERROR_RESPONSES,
        },
    )
)
class VideoSummaryView(VideoCloudView):
    """Totals, averages, top videos and trends of the workspace's videos."""

    default_period = "30d"
    metrics = {
        "totalVideos": "total_videos",
        "totalViews": "total_views",
        "totalWatchTime": "total_watch_time",
        "averageEngagement": "average_engagement",
        "topVideos": "top_videos",
        "trends": "trends",
    }
    serializer_class = VideoCloudVideoSummarySerializer

    def resolve_period(self, workspace, name, now):
        return queries.video_period(workspace, name, now)

    def query(self, workspace, period, sections, params):
        return queries.video_summary(
            workspace,
            period,
            sections=sections,
            compare=queries.parse_compare(params.get("compare")),
            top_limit=_top_limit(params),
        )


@extend_schema_view(
    get=extend_schema(
        summary="Activity, growth and retention of the workspace's learners",
        parameters=[PERIOD_PARAMETER, METRICS_PARAMETER],
        responses={
            200: _envelope("VideoCloudUserAnalyticsResponse", VideoCloudUserAnalyticsSerializer),
            **ERROR_RESPONSES,
        },
    )
)
class UserAnalyticsView(VideoCloudView):
    """Activity, growth and retention of the workspace's learners."""

    default_period = "30d"
    metrics = {"activity": "activity", "growth": "growth", "retention": "retention"}
    serializer_class = VideoCloudUserAnalyticsSerializer

    def resolve_period(self, workspace, name, now):
        return queries.user_period(workspace, name, now)

    def query(self, workspace, period, sections, params):
        return queries.user_analytics(workspace, period, sections=sections)


@extend_schema_view(
    get=extend_schema(
        summary="Page-session engagement of the workspace's learners",
        parameters=[PERIOD_PARAMETER, METRICS_PARAMETER],
        responses={
            200: _envelope("VideoCloudUserEngagementResponse", VideoCloudUserEngagementSerializer),
            **ERROR_RESPONSES,
        },
    )
)
class UserEngagementView(VideoCloudView):
    """Session duration, pages per session, bounce rate, by user type and by hour of day."""

    default_period = "7d"
    metrics = {"engagement": "engagement"}
    serializer_class = VideoCloudUserEngagementSerializer

    def resolve_period(self, workspace, name, now):
        return queries.user_period(workspace, name, now)

    def query(self, workspace, period, sections, params):
        return {"engagement": queries.user_engagement(workspace, period)} if "engagement" in sections else {}


SYSTEM_PERIOD_PARAMETER = OpenApiParameter("period", OpenApiTypes.STR, description="1h, 24h, 1d, 7d, 30d, 90d or all")


@extend_schema_view(
    get=extend_schema(
        summary="Health of the service",
        parameters=[SYSTEM_PERIOD_PARAMETER, METRICS_PARAMETER],
        responses={
            200: _envelope("VideoCloudSystemHealthResponse", VideoCloudSystemHealthSerializer),
            **ERROR_RESPONSES,
        },
    )
)
class SystemHealthView(VideoCloudView):
    """Uptime, response times and error rates seen by the workspace; machine resources."""

    periods = queries.SYSTEM_PERIODS
    default_period = "24h"
    metrics = {"uptime": "uptime", "responseTime": "response_time", "errors": "errors", "resources": "resources"}
    serializer_class = VideoCloudSystemHealthSerializer

    def resolve_period(self, workspace, name, now):
        return queries.system_period(workspace, name, now)

    def query(self, workspace, period, sections, params):
        return queries.system_health(workspace, period, sections=sections)


@extend_schema_view(
    get=extend_schema(
        summary="API traffic and processing queues",
        parameters=[SYSTEM_PERIOD_PARAMETER, METRICS_PARAMETER],
        responses={
            200: _envelope("VideoCloudSystemPerformanceResponse", VideoCloudSystemPerformanceSerializer),
            **ERROR_RESPONSES,
        },
    )
)
class SystemPerformanceView(VideoCloudView):
    """The workspace's API traffic by endpoint, the processing queues, storage operations."""

    periods = queries.SYSTEM_PERIODS
    default_period = "1h"
    metrics = {"api": "api", "processing": "processing", "storage": "storage"}
    serializer_class = VideoCloudSystemPerformanceSerializer

    def resolve_period(self, workspace, name, now):
        return queries.system_period(workspace, name, now)

    def query(self, workspace, period, sections, params):
        return queries.system_performance(workspace, period, sections=sections)


class HealthProbeView(VideoCloudErrorsMixin, APIView):
    """Liveness probe for load balancers: 200 when the database answers, else 503. Public.

    The once-a-minute health check (analytics.tasks.check_health) asks it whether the web process
    answers; the uptime of /analytics/system/health is the share of minutes it did.
    """

    authentication_classes = []
    permission_classes = []
    # Never throttled: a 429 would make a load balancer take the instance out of service, and
    # behind a proxy every anonymous caller shares one address (docs/security.md, "Rate limits").
    throttle_classes = []

    @extend_schema(
        summary="Health probe",
        responses={
            200: _envelope(
                "VideoCloudHealthProbeResponse",
                lambda: inline_serializer("VideoCloudHealthProbe", {"status": serializers.CharField()}),
            ),
            503: ERROR_ENVELOPE,
        },
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            raise VideoCloudError(
                "ANALYTICS_SERVICE_UNAVAILABLE", "The database does not answer.", status.HTTP_503_SERVICE_UNAVAILABLE
            ) from None
        return videocloud_success({"status": "ok"})


urlpatterns = [
    path("analytics/videos/summary", VideoSummaryView.as_view(), name="videocloud_video_summary"),
    path("analytics/videos/<str:id>", VideoAnalyticsView.as_view(), name="videocloud_video"),
    path("analytics/users", UserAnalyticsView.as_view(), name="videocloud_users"),
    path("analytics/users/engagement", UserEngagementView.as_view(), name="videocloud_user_engagement"),
    path("analytics/system/health", SystemHealthView.as_view(), name="videocloud_system_health"),
    path("analytics/system/performance", SystemPerformanceView.as_view(), name="videocloud_system_performance"),
    path(queries.HEALTH_PROBE_ENDPOINT.strip("/") + "/", HealthProbeView.as_view(), name="health_probe"),
]
