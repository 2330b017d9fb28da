"""What every xAPI resource shares (docs/api/xapi.md): credentials, the version header, the
headers every response carries, HEAD, and the error body.

Authentication: HTTP Basic whose password is a workspace API key (the username is ignored), or
`Authorization: Api-Key <key>`; the key must have the admin role. Every request but the About
resource's must carry `X-Experience-API-Version: 1.0.x`; every response carries
`X-Experience-API-Version: 1.0.3`. Errors are `{"detail": "<what is wrong, naming the field>"}`
(DRF's shape; xAPI defines none).
"""

import base64
import binascii
import re

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.authentication import ApiKeyAuthentication, authenticate_raw_api_key
from accounts.permissions import IsAdmin
from analytics.services.xapi.errors import XAPI_VERSION, XapiError, check_version_header
from analytics.services.xapi.validation import parse_timestamp
from config.availability import translate_unavailable
from config.throttling import family_throttle

VERSION_HEADER = "X-Experience-API-Version"


class XapiBasicAuthentication(BaseAuthentication):
    """`Authorization: Basic base64(anything:<API key>)`: the password is a workspace API key."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Basic header: expected `Basic base64(user:key)`.")
        try:
            decoded = base64.b64decode(header[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Invalid Basic header: the credentials are not base64.") from None
        _, separator, raw_key = decoded.partition(":")
        if not separator or not raw_key:
            raise exceptions.AuthenticationFailed("Invalid Basic header: the password must be a workspace API key.")
        return authenticate_raw_api_key(raw_key)

    def authenticate_header(self, request):
        return 'Basic realm="xAPI"'


class XapiBasicScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.api.xapi.base.XapiBasicAuthentication"
    name = "xapiBasic"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Any username; the password is a workspace API key with the admin role.",
        }


def xapi_exception_handler(exc, context):
    if isinstance(exc, XapiError):
        return Response({"detail": exc.message}, status=exc.status)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # xAPI answers a body it cannot take with 400 (Communication 1.5), not HTTP's 415.
        return Response(
            {"detail": f"Content-Type: {exc.detail} (send application/json or multipart/mixed)"}, status=400
        )
    return drf_exception_handler(translate_unavailable(exc), context)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VERSION_PARAMETER = OpenApiParameter(
    VERSION_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="1.0.0 to 1.0.3"
)
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid statement, parameter or version header"),
    401: OpenApiResponse(ErrorSerializer, description="Missing or wrong API key"),
    403: OpenApiResponse(ErrorSerializer, description="The API key is not an admin key"),
}


def query_timestamp(params, name):
    """A timestamp parameter (since, until) as RFC 3339 in any of its forms; an offset whose `+`
    arrived as a space (a client that did not encode the query) is read as the `+` it was."""
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", params[name].strip())
    return parse_timestamp(value, name)


class JsonOnly(DefaultContentNegotiation):
    """xAPI answers JSON whatever the Accept header, and its `format` parameter is the
    statement format (ids / exact / canonical), not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class XapiView(APIView):
    """An xAPI resource of the credential's workspace: admin API key, version header checked,
    version and consistency headers on every response (errors too), HEAD answered as GET
    without a body."""

    authentication_classes = [XapiBasicAuthentication, ApiKeyAuthentication]
    permission_classes = [IsAdmin]
    throttle_classes = [family_throttle("xapi")]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    requires_version_header = True

    def get_exception_handler(self):
        return xapi_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.requires_version_header:
            check_version_header(request.headers.get(VERSION_HEADER))

    def head(self, request, *args, **kwargs):
        return self.get(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[VERSION_HEADER] = XAPI_VERSION
        response["X-Experience-API-Consistent-Through"] = timezone.now().isoformat().replace("+00:00", "Z")
        if request.method == "HEAD":
            length = len(response.rendered_content) if hasattr(response, "rendered_content") else len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response
