"""Token endpoints: trade an email and password for a bearer token acting in one workspace."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenRefreshView

from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_OR_FIELD_ERRORS_SCHEMA, detail_response

from config.throttling import family_throttle

from .credentials import membership_for_user
from .login_limits import authenticate_with_login_limit
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
