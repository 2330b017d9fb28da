"""Erasure endpoints: POST /api/privacy/erasures (start erasing one person from the workspace)
and GET /api/privacy/erasures/{id} (the job). Admins only (an admin API key, session or token).
Errors are DRF's `{"detail": ...}` and `{"<field>": [...]}` (config/error_schemas.py)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from analytics.api.envelopes import flatten_validation_errors
from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_OR_FIELD_ERRORS_SCHEMA, detail_response

from . import services, tasks
from .models import ErasureJob, ErasureStatus


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service unavailable."


AGENT_IDENTIFIERS = ("mbox", "mbox_sha1sum", "openid", "account")


class AgentSerializer(serializers.Serializer):
    """An xAPI Agent: exactly one inverse functional identifier."""

    objectType = serializers.ChoiceField(choices=["Agent"], required=False)
    name = serializers.CharField(required=False, max_length=500)
    mbox = serializers.RegexField(r"^mailto:[^@\s]+@[^@\s]+$", required=False, max_length=500)
    mbox_sha1sum = serializers.RegexField(r"^[0-9a-fA-F]{40}$", required=False)
    openid = serializers.URLField(required=False, max_length=500)
    account = inline_serializer(
        "XapiAccount",
        {"homePage": serializers.URLField(max_length=500), "name": serializers.CharField(max_length=500)},
        required=False,
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Not a property of an Agent."]})
        return super().to_internal_value(data)

    def validate(self, attrs):
        named = [key for key in AGENT_IDENTIFIERS if key in attrs]
        if len(named) != 1:
            raise serializers.ValidationError(
                f"An Agent has exactly one of {', '.join(AGENT_IDENTIFIERS)} (found {len(named)})."
            )
        return attrs


class ErasureRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, max_length=254)
    userId = serializers.CharField(required=False, max_length=24, help_text="The user's public id")
    agent = AgentSerializer(required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({unknown[0]: ["Unknown field: give one of email, userId, agent."]})
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of email, userId, agent.")
        return attrs


ERASURE_SCHEMA = inline_serializer(
    "ErasureJob",
    {
        "id": serializers.CharField(),
        "status": serializers.ChoiceField(choices=ErasureStatus.values),
        "counts": serializers.DictField(child=serializers.IntegerField(), help_text="Rows removed per kind"),
        "requestedBy": serializers.CharField(help_text="user:<public id> or api_key:<name>"),
        "tries": serializers.IntegerField(),
        "error": serializers.CharField(allow_blank=True),
        "createdAt": serializers.DateTimeField(),
        "startedAt": serializers.DateTimeField(allow_null=True),
        "finishedAt": serializers.DateTimeField(allow_null=True),
    },
)


def erasure_payload(job):
    def moment(value):
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": job.public_id,
        "status": job.status,
        "counts": job.counts,
        "requestedBy": job.requested_by,
        "tries": job.tries,
        "error": job.error,
        "createdAt": moment(job.created_at),
        "startedAt": moment(job.started_at),
        "finishedAt": moment(job.finished_at),
    }


class ErasureListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=ErasureRequestSerializer,
        responses={
            202: OpenApiResponse(
                ERASURE_SCHEMA, description="The job (Location: its URL); a repeated request answers the running job"
            ),
            400: OpenApiResponse(
                DETAIL_OR_FIELD_ERRORS_SCHEMA, description="A malformed body, or not exactly one of the fields"
            ),
            **AUTH_ERROR_RESPONSES,
            404: detail_response("Nothing of that person is in the workspace: nothing done, no job"),
            503: detail_response("The task broker is unavailable: the job is marked failed, nothing was done"),
        },
    )
    def post(self, request):
        """Erase one person (by email, public user id or xAPI agent) from the workspace."""
        payload = ErasureRequestSerializer(data=request.data)
        if not payload.is_valid():
            # One level: {"agent.mbox": [...]}, as the documented 400 body has it.
            flat = {}
            for name, message in flatten_validation_errors(payload.errors):
                flat.setdefault(name or "non_field_errors", []).append(message)
            raise ValidationError(flat)
        data = payload.validated_data
        workspace = request.auth.workspace
        try:
            subject = services.find_subject(
                workspace, email=data.get("email"), user_public_id=data.get("userId"), agent=data.get("agent")
            )
        except services.PersonNotFound:
            raise NotFound("Nobody by that identifier in this workspace; nothing was done.") from None
        job, created = services.request_erasure(workspace, subject, services.requester_label(request.auth))
        if created:
            try:
                tasks.run_erasure.apply_async(args=[job.pk], retry=True)
            except BrokerError as error:
                services.mark_erasure_failed(job.pk, "Not queued: the task broker is unavailable")
                raise ServiceUnavailable("The erasure could not be queued; nothing was done. Try again.") from error
        location = request.build_absolute_uri(reverse("privacy_erasure", args=[job.public_id]))
        return Response(erasure_payload(job), status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ErasureDetailView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        responses={200: ERASURE_SCHEMA, **AUTH_ERROR_RESPONSES, 404: detail_response("No such job in this workspace")}
    )
    def get(self, request, public_id):
        """An erasure job of the workspace: status and rows removed per kind."""
        job = ErasureJob.objects.filter(workspace=request.auth.workspace, public_id=public_id).first()
        if job is None:
            raise NotFound("No erasure job with that id in this workspace.")
        return Response(erasure_payload(job))
