"""VideoCloud export endpoints: POST/GET /analytics/export, GET/DELETE /analytics/export/{id},
and the signed download link."""

from datetime import timezone as dt_timezone

from django.core.files.storage import default_storage
from django.http import FileResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.views import APIView

from analytics.api.envelopes import VideoCloudError, VideoCloudErrorsMixin, videocloud_success
from analytics.api.video_cloud import ERROR_RESPONSES as VIDEOCLOUD_ERROR_RESPONSES
from analytics.queries.video_cloud.periods import InvalidPeriod
from config.throttling import family_throttle
from config.availability import RETRY_AFTER_S

from . import services
from .models import ExportStatus
from .writers import WRITERS


class ExportRequestSerializer(serializers.Serializer):
    type = serializers.CharField()
    period = serializers.CharField(default="30d")
    metrics = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    format = serializers.CharField(default="csv")
    filters = serializers.DictField(required=False, default=dict)
    pseudonymize = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Replace learners' emails and names by a keyed hash; default: the workspace's setting",
    )


ISO_Z = "%Y-%m-%dT%H:%M:%SZ"  # the document's `2024-04-01T12:00:00Z`
# The document's word for a job not finished yet is "processing": a queued job is shown so.
DOCUMENT_STATUS = {ExportStatus.QUEUED: ExportStatus.PROCESSING}
SHOWN_STATUSES = [value for value in ExportStatus.values if value not in DOCUMENT_STATUS]


def iso_z(moment):
    return moment.astimezone(dt_timezone.utc).strftime(ISO_Z)


def download_url(job, request):
    """The signed link where the job's file is (or will be) until expiresAt."""
    path = reverse("export_download", args=[job.public_id])
    return request.build_absolute_uri(f"{path}?token={services.download_token(job)}")


def export_payload(job, request):
    """The VideoCloud export object, as the document shows it from the start: status, the
    downloadUrl (which answers 202 with Retry-After until the file is written) and expiresAt."""
    payload = {
        "exportId": job.public_id,
        "type": job.type,
        "format": job.format,
        "period": job.period,
        "metrics": job.metrics,
        "pseudonymize": job.pseudonymize,
        "status": DOCUMENT_STATUS.get(job.status, job.status),
        "progress": job.progress,
        "rowCount": job.row_count,
        "createdAt": iso_z(job.created_at),
        "downloadUrl": download_url(job, request),
        "expiresAt": iso_z(services.link_expires_at(job)),
    }
    if job.status == ExportStatus.FAILED:
        payload["error"] = {"code": services.EXPORT_FAILED, "message": job.error}
    return payload


EXPORT_DATA = inline_serializer(
    "ExportJobData",
    {
        "exportId": serializers.CharField(),
        "type": serializers.CharField(),
        "format": serializers.CharField(),
        "period": serializers.CharField(),
        "metrics": serializers.ListField(child=serializers.CharField()),
        "pseudonymize": serializers.BooleanField(help_text="Emails and names replaced by a keyed hash"),
        "status": serializers.ChoiceField(
            choices=SHOWN_STATUSES, help_text="processing (queued or running), completed, failed, cancelled, expired"
        ),
        "progress": serializers.IntegerField(),
        "rowCount": serializers.IntegerField(allow_null=True),
        "createdAt": serializers.DateTimeField(help_text="2024-04-01T12:00:00Z"),
        "downloadUrl": serializers.URLField(
            help_text="Signed link: 202 with Retry-After until the file is written, then the file"
        ),
        "expiresAt": serializers.DateTimeField(help_text="When the link and the file expire; 2024-04-01T12:00:00Z"),
        "error": inline_serializer(
            "ExportJobFailure",
            {"code": serializers.CharField(help_text="ANALYTICS_EXPORT_FAILED"), "message": serializers.CharField()},
            required=False,
            help_text="Failed exports: why",
        ),
    },
)
EXPORT_SCHEMA = inline_serializer("ExportJob", {"success": serializers.BooleanField(), "data": EXPORT_DATA})
EXPORT_LIST_SCHEMA = inline_serializer(
    "ExportJobList", {"success": serializers.BooleanField(), "data": EXPORT_DATA.__class__(many=True)}
)
EXPORT_DELETED_SCHEMA = inline_serializer(
    "ExportJobDeleted",
    {
        "success": serializers.BooleanField(),
        "data": inline_serializer(
            "ExportJobDeletedData", {"exportId": serializers.CharField(), "status": serializers.CharField()}
        ),
    },
)
EXPORT_ERRORS = {
    **{code: VIDEOCLOUD_ERROR_RESPONSES[code] for code in (401, 403, 404)},
}


class ExportListView(VideoCloudErrorsMixin, APIView):
    """Start an export (admins: the workspace; instructors: their courses; learners: type=user
    for themselves), or list the caller's exports."""

    # Creating is limited twice: with every export request, and on its own, more strictly.
    throttle_classes = [family_throttle("exports"), family_throttle("export-create")]

    @extend_schema(
        operation_id="analytics_export_create",
        request=ExportRequestSerializer,
        responses={
            202: EXPORT_SCHEMA,
            400: VIDEOCLOUD_ERROR_RESPONSES[400],
            401: VIDEOCLOUD_ERROR_RESPONSES[401],
            403: VIDEOCLOUD_ERROR_RESPONSES[403],
            503: OpenApiResponse(
                VIDEOCLOUD_ERROR_RESPONSES[400], description="The task queue is unreachable; nothing was created"
            ),
        },
    )
    def post(self, request):
        payload = ExportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            metrics = services.validate_export_request(
                request.auth, data["type"], data["period"], data["metrics"], data["format"], data["filters"]
            )
        except InvalidPeriod as exc:
            raise VideoCloudError("ANALYTICS_INVALID_PERIOD", str(exc), field="period") from exc
        except services.ExportRequestError as exc:
            raise VideoCloudError(exc.code, str(exc), field=exc.field) from exc
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        try:
            job = services.create_export_job(
                request.auth,
                data["type"],
                data["period"],
                metrics,
                data["format"],
                data["filters"],
                pseudonymize=data["pseudonymize"],
            )
        except services.QueueUnavailable as exc:
            error = VideoCloudError(
                "ANALYTICS_SERVICE_UNAVAILABLE",
                "Exports cannot be queued right now (the task queue is unreachable); nothing was created. "
                "Retry after the delay in Retry-After.",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
            error.wait = RETRY_AFTER_S  # DRF's handler turns it into the Retry-After header
            raise error from exc
        return videocloud_success(export_payload(job, request), status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="analytics_export_list",
        responses={200: EXPORT_LIST_SCHEMA, 401: VIDEOCLOUD_ERROR_RESPONSES[401], 403: VIDEOCLOUD_ERROR_RESPONSES[403]},
    )
    def get(self, request):
        jobs = services.jobs_visible_to(request.auth)[:100]
        return videocloud_success([export_payload(job, request) for job in jobs])


class ExportDetailView(VideoCloudErrorsMixin, APIView):
    throttle_classes = [family_throttle("exports")]

    def get_job(self, request, export_id):
        job = services.jobs_visible_to(request.auth).filter(public_id=export_id).first()
        if job is None:
            raise NotFound(f"No export {export_id!r}.")
        return job

    @extend_schema(operation_id="analytics_export_retrieve", responses={200: EXPORT_SCHEMA, **EXPORT_ERRORS})
    def get(self, request, export_id):
        return videocloud_success(export_payload(self.get_job(request, export_id), request))

    @extend_schema(
        responses={200: OpenApiResponse(EXPORT_DELETED_SCHEMA, description="Cancelled or deleted"), **EXPORT_ERRORS}
    )
    def delete(self, request, export_id):
        outcome = services.cancel_or_delete_export(self.get_job(request, export_id))
        return videocloud_success({"exportId": export_id, "status": outcome})


DOWNLOAD_PENDING = inline_serializer(
    "ExportDownloadPending",
    {
        "success": serializers.BooleanField(),
        "data": inline_serializer(
            "ExportDownloadPendingData",
            {
                "exportId": serializers.CharField(),
                "status": serializers.CharField(),
                "progress": serializers.IntegerField(),
            },
        ),
    },
)
DOWNLOAD_ERROR = inline_serializer(
    "ExportDownloadError",
    {
        "success": serializers.BooleanField(),
        "error": inline_serializer(
            "ExportDownloadErrorDetail", {"code": serializers.CharField(), "message": serializers.CharField()}
        ),
    },
)


class ExportDownloadView(APIView):
    """The signed download link: no credential, the token in the URL is the permission."""

    authentication_classes = []
    permission_classes = []

    def perform_content_negotiation(self, request, force=False):
        # The file's type is the export's: any Accept header gets it (never a 406).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="analytics_export_download",
        parameters=[OpenApiParameter("token", str, required=True, description="The signed token of downloadUrl")],
        responses={
            (200, writer.content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"The {name} file")
            for name, writer in WRITERS.items()
        }
        | {
            202: OpenApiResponse(
                DOWNLOAD_PENDING, description="The file is not written yet: retry after Retry-After seconds"
            ),
            403: OpenApiResponse(DOWNLOAD_ERROR, description="The token is not valid for this export"),
            410: OpenApiResponse(
                DOWNLOAD_ERROR,
                description="ANALYTICS_EXPORT_EXPIRED: the link or the export has expired (or was cancelled); "
                "ANALYTICS_EXPORT_FAILED: the export failed",
            ),
        },
    )
    def get(self, request, export_id):
        return download_export(request._request, export_id)


def download_export(request, export_id):
    """The export file, for anyone holding the signed link until it expires; 202 with Retry-After
    while it is being written."""
    try:
        job = services.job_for_download(export_id, request.GET.get("token"))
    except services.DownloadPending as pending:
        response = JsonResponse(
            {
                "success": True,
                "data": {"exportId": export_id, "status": ExportStatus.PROCESSING, "progress": pending.job.progress},
            },
            status=status.HTTP_202_ACCEPTED,
        )
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
    except services.DownloadRefused as exc:
        return JsonResponse({"success": False, "error": {"code": exc.code, "message": str(exc)}}, status=exc.status)
    writer = WRITERS[job.format]
    return FileResponse(
        default_storage.open(job.file_name, "rb"),
        as_attachment=True,
        filename=f"{job.type}-{job.period}-{job.public_id}.{writer.extension}",
        content_type=writer.content_type,
    )
