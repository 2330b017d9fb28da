"""Token endpoints: trade an email and password for a bearer token acting in one workspace."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenRefreshView

from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_OR_FIELD_ERRORS_SCHEMA, detail_response

from config.throttling import family_throttle

from .credentials import membership_for_user
from .login_limits import authenticate_with_login_limit
from .models import MIN_RETENTION_DAYS, Workspace
from .permissions import IsAdmin
from .tokens import issue_tokens


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    workspace = serializers.SlugField(required=False, help_text="Workspace slug; default: the user's first")


class TokenObtainView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [family_throttle("auth-token")]  # per client IP: password guessing

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer(
                "TokenPair",
                {
                    "access": serializers.CharField(),
                    "refresh": serializers.CharField(),
                    "workspace": serializers.CharField(),
                },
            ),
            400: OpenApiResponse(DETAIL_OR_FIELD_ERRORS_SCHEMA, description="A malformed body or field"),
            401: detail_response("Wrong email or password, or not a member of that workspace"),
            403: detail_response("The client's IP address cannot be determined (login rate limits need it)"),
        },
    )
    def post(self, request):
        payload = TokenRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = authenticate_with_login_limit(
            request._request, email=payload.validated_data["email"].lower(), password=payload.validated_data["password"]
        )
        if user is None:
            raise AuthenticationFailed("Wrong email or password.")
        membership = membership_for_user(user, workspace_slug=payload.validated_data.get("workspace"))
        if membership is None:
            raise AuthenticationFailed("This user is not a member of that workspace.")
        refresh, access = issue_tokens(user, membership.workspace)
        return Response({"access": str(access), "refresh": str(refresh), "workspace": membership.workspace.slug})


@extend_schema_view(
    post=extend_schema(
        responses={
            200: TokenRefreshSerializer,
            400: OpenApiResponse(DETAIL_OR_FIELD_ERRORS_SCHEMA, description="A malformed body or field"),
            401: detail_response("The refresh token is invalid or expired"),
        }
    )
)
class TokenRefresh(TokenRefreshView):
    """Exchange a refresh token for a new access token (the workspace claim is kept)."""

    throttle_classes = [family_throttle("auth-token")]


class CredentialSerializer(serializers.Serializer):
    workspace = serializers.CharField(source="workspace.slug")
    role = serializers.CharField()
    kind = serializers.CharField()
    email = serializers.SerializerMethodField()

    def get_email(self, credential) -> str | None:
        return credential.user.email if credential.user is not None else None


class WhoAmIView(APIView):
    """The workspace, role and credential type this request acts with."""

    @extend_schema(responses={200: CredentialSerializer, **AUTH_ERROR_RESPONSES})
    def get(self, request):
        return Response(CredentialSerializer(request.auth).data)


class WorkspaceSettingsSerializer(serializers.Serializer):
    rawActivityRetentionDays = serializers.IntegerField(
        source="raw_activity_retention_days",
        allow_null=True,
        required=False,
        min_value=MIN_RETENTION_DAYS,
        max_value=100_000,
        help_text=f"Days of raw activity kept (at least {MIN_RETENTION_DAYS}); null: keep forever",
    )
    pseudonymizeExports = serializers.BooleanField(
        source="pseudonymize_exports", required=False, help_text="New exports pseudonymize learners by default"
    )
    rawActivityPrunedBefore = serializers.DateTimeField(
        source="raw_activity_pruned_before",
        read_only=True,
        allow_null=True,
        help_text="Raw activity before this was deleted; null: nothing pruned yet",
    )


class WorkspaceSettingsView(APIView):
    """The workspace's data lifecycle settings (docs/api/workspace.md); admins only."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={200: WorkspaceSettingsSerializer, **AUTH_ERROR_RESPONSES})
    def get(self, request):
        return Response(WorkspaceSettingsSerializer(request.auth.workspace).data)

    @extend_schema(
        request=WorkspaceSettingsSerializer,
        responses={
            200: WorkspaceSettingsSerializer,
            400: OpenApiResponse(DETAIL_OR_FIELD_ERRORS_SCHEMA, description="A value out of range, naming the field"),
            **AUTH_ERROR_RESPONSES,
        },
    )
    def patch(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "The body must be a JSON object."})
        unknown = sorted(set(request.data) - set(WorkspaceSettingsSerializer().fields))
        if unknown:
            raise ValidationError({name: ["Unknown setting."] for name in unknown})
        workspace = Workspace.objects.get(pk=request.auth.workspace.pk)
        payload = WorkspaceSettingsSerializer(workspace, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        changed = list(payload.validated_data)
        for name, value in payload.validated_data.items():
            setattr(workspace, name, value)
        if changed:
            workspace.save(update_fields=changed)
        return Response(WorkspaceSettingsSerializer(workspace).data)
