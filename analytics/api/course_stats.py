"""360Learning-compatible course statistics: API v2 `GET /api/v2/courses/stats` and
`GET /api/v2/users`, and API v1 `GET /api/v1/courses/:course_id/stats/:user_email`.

v2 lists are bare JSON arrays of at most 500 rows; the next page's absolute URL comes in a
`Link: <...>; rel="next"` header (absent on the last page) carrying the filters and an opaque,
signed keyset cursor in `next`. Errors use 360Learning's shapes: `{"error": "invalid_token"}`
for 401, `{"error": {"code": ..., "message": ...}}` otherwise. Only admin credentials are
accepted. The choices made where 360Learning's documents are silent: docs/api/course_stats.md.
"""

import hashlib
import json
import logging
from functools import partial
from urllib.parse import urlencode

from django.core import signing
from django.urls import path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.authentication import (
    ApiKeyAuthentication,
    ApiKeyQueryParamAuthentication,
    WorkspaceJWTAuthentication,
    authenticate_raw_api_key,
)
from accounts.permissions import IsAdmin
from analytics.formats import iso_ms_z
from analytics.api.envelopes import error_message
from analytics.queries import course_stats as queries
from analytics.queries.bracket_filters import FilterError, parse_bracket_filters
from config.throttling import family_throttle, rate_limit_body
from config.availability import translate_unavailable

from .rows import CompiledRows

logger = logging.getLogger(__name__)

API_VERSION_HEADER = "360-api-version"
API_VERSION = "v2.0"
CURSOR_PARAM = "next"
CURSOR_SALT = "analytics.course_stats.cursor"


# --- Errors ---------------------------------------------------------------------------------


class Learning360Error(exceptions.APIException):
    """An error answered as `{"error": {"code": code, "message": message}}`."""

    def __init__(self, status_code, code, message):
        self.status_code = status_code
        self.error_code = code
        super().__init__(detail=message, code=code)


def bad_request(code, message):
    return Learning360Error(status.HTTP_400_BAD_REQUEST, code, message)


DEFAULT_ERROR_CODES = {
    400: "badRequest",
    403: "invalid_scope",
    404: "notFound",
    405: "methodNotAllowed",
    406: "notAcceptable",
    429: "tooManyRequests",
    503: "serviceUnavailable",
}


@rate_limit_body(
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string", "enum": ["tooManyRequests"]}, "message": {"type": "string"}},
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    }
)
def learning360_exception_handler(exc, context):
    """DRF exception handler answering in 360Learning's error shapes.

    401: `{"error": "invalid_token"}` (360Learning's body for a missing or bad token); every
    other error `{"error": {"code", "message"}}`. Anything unexpected is a 500 whose details go
    to the log, never to the client.
    """
    exc = translate_unavailable(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {"error": {"code": "internalError", "message": "An unexpected error occurred."}},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data = {"error": "invalid_token"}
        return response
    code = getattr(exc, "error_code", None) or DEFAULT_ERROR_CODES.get(response.status_code, "error")
    response.data = {"error": {"code": code, "message": error_message(exc)}}
    return response


# --- Authentication -------------------------------------------------------------------------


class BearerApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <API key>`: 360Learning clients put their token in a Bearer header.

    An API key (`prefix.secret`, one dot) is checked here; anything else (a JWT has two dots)
    is left to WorkspaceJWTAuthentication.
    """

    def authenticate(self, request):
        header = get_authorization_header(request).decode("latin-1")
        scheme, _, raw_key = header.partition(" ")
        raw_key = raw_key.strip()
        if scheme.lower() != "bearer" or raw_key.count(".") != 1:
            return None
        return authenticate_raw_api_key(raw_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class CompanyApiKeyAuthentication(ApiKeyQueryParamAuthentication):
    """API v1: `?apiKey=<key>&company=<workspace slug>`; a key of another company is a 401."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        company = request.query_params.get("company", "").strip()
        if not company:
            raise exceptions.AuthenticationFailed("The company parameter is required.")
        if result[1].workspace.slug != company:
            raise exceptions.AuthenticationFailed("This API key does not belong to that company.")
        return result


class BearerApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.api.course_stats.BearerApiKeyAuthentication"
    name = "bearerApiKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer", bearer_format="API key"
        )


class CompanyApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.api.course_stats.CompanyApiKeyAuthentication"
    name = "apiKeyQueryWithCompany"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "apiKey",
            "description": "An admin API key, with `company` set to its workspace slug.",
        }


# --- Cursor ---------------------------------------------------------------------------------


def filters_digest(endpoint, workspace, params):
    """A short hash of the endpoint, workspace and every query parameter but the cursor.

    Stored in the cursor so that a cursor only continues the listing that produced it.
    """
    pairs = sorted((key, sorted(values)) for key, values in params.lists() if key != CURSOR_PARAM)
    text = json.dumps([endpoint, workspace.pk, pairs], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(endpoint, after, digest):
    """An opaque, signed token meaning "continue after key `after`" (django.core.signing)."""
    return signing.dumps({"a": after, "d": digest}, salt=f"{CURSOR_SALT}.{endpoint}")


def decode_cursor(endpoint, token, digest):
    """The key a cursor continues after; a 400 for a token that is forged, altered or foreign."""
    try:
        data = signing.loads(token, salt=f"{CURSOR_SALT}.{endpoint}")
    except signing.BadSignature:
        raise bad_request("invalidCursor", "next: the pagination cursor is invalid or was altered.") from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or isinstance(data.get("a"), bool):
        raise bad_request("invalidCursor", "next: the pagination cursor is invalid.")
    if data.get("d") != digest:
        raise bad_request("invalidCursor", "next: the pagination cursor belongs to a listing with other filters.")
    return data["a"]


# --- Serializers (the one place where internal names become 360Learning's names) -----------


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoMsZField(serializers.Field):
    """A datetime written as `2025-06-30T13:23:56.059Z` (`row_converter`: the same for the fast
    path, analytics/api/rows.py); the queries give it that text already written by the database
    (`<name>_text` keys, analytics.formats.IsoMsZText)."""

    row_converter = staticmethod(iso_ms_z)

    def to_representation(self, value):
        return iso_ms_z(value)


def learning360_rows(serializer_class, rows):
    """The rows in 360Learning's names (the serializer's declared fields: their `source` keys in
    the row, IsoMsZField datetimes), through the shared fast path (analytics/api/rows.py). Fields
    whose value is None are left out: 360Learning omits absent optional fields (its schemas do not
    allow null), so a strict client sees the same shape as from 360Learning."""
    return CompiledRows(serializer_class, omit_none=True).many(rows)


class CourseStatSerializer(serializers.Serializer):
    _id = serializers.CharField(source="public_id")
    versionNumber = serializers.IntegerField(source="version_number")
    lang = serializers.CharField(source="lang_code")
    firstActivityAt = IsoMsZField(source="first_activity_at_text", required=False)
    lastActivityAt = IsoMsZField(source="last_activity_at_text", required=False)
    timeSpent = serializers.IntegerField(source="time_spent_ms", help_text="Milliseconds")
    progress = serializers.IntegerField()
    score = serializers.IntegerField(required=False)
    completedAt = IsoMsZField(source="completed_at_text", required=False)
    pathId = serializers.CharField(source="path_public_id", required=False)
    pathSessionId = serializers.CharField(source="path_session_public_id", required=False)
    courseId = serializers.CharField(source="course_key")
    userId = serializers.CharField(source="user_public_id")


class UserSerializer(serializers.Serializer):
    _id = serializers.CharField(source="public_id")
    mail = serializers.CharField(source="email")
    status = serializers.CharField()
    lang = serializers.CharField()
    firstName = serializers.CharField(source="first_name", required=False)
    lastName = serializers.CharField(source="last_name", required=False)
    lastLoginDate = IsoMsZField(source="last_login_text", required=False)


class V1AttemptSerializer(serializers.Serializer):
    _id = serializers.CharField(source="public_id")
    progress = serializers.IntegerField()
    score = serializers.IntegerField(required=False)
    completedAt = IsoMsZField(source="completed_at_text", required=False)
    firstActivity = IsoMsZField(source="first_activity_at_text", required=False)
    globalTime = serializers.IntegerField(source="time_spent_ms", help_text="Milliseconds")
    lastActivity = IsoMsZField(source="last_activity_at_text", required=False)


# --- Views ----------------------------------------------------------------------------------

VERSION_HEADER_PARAMETER = OpenApiParameter(
    name=API_VERSION_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    enum=[API_VERSION],
    description="The API version. Optional here (v2.0 is assumed); any other value is a 400.",
)
CURSOR_PARAMETER = OpenApiParameter(
    name=CURSOR_PARAM,
    type=str,
    location=OpenApiParameter.QUERY,
    required=False,
    description="Opaque cursor; only ever use the URL of the previous page's Link header.",
)
LINK_HEADER = OpenApiParameter(
    name="Link",
    type=str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description='`<absolute URL of the next page>; rel="next"`, only when there is a next page.',
)
ECHO_VERSION_HEADER = OpenApiParameter(
    name=API_VERSION_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    response=True,
    description="Always v2.0.",
)
ERROR_RESPONSE = inline_serializer(
    "Learning360Error",
    {
        "error": inline_serializer(
            "Learning360ErrorBody", {"code": serializers.CharField(), "message": serializers.CharField()}
        )
    },
)
INVALID_TOKEN_RESPONSE = inline_serializer("Learning360InvalidToken", {"error": serializers.CharField()})


def filter_parameters(fields):
    """One deepObject query parameter per filterable field, as 360Learning documents them."""
    return [
        OpenApiParameter(
            name=name,
            type=OpenApiTypes.OBJECT,
            location=OpenApiParameter.QUERY,
            required=False,
            style="deepObject",
            explode=True,
            description=f"Filter on {name} with LHS bracket notation: {name}[op]=value, op one of "
            f"{', '.join(spec.operators)} ({spec.kind}); in/nin take a comma-separated list.",
        )
        for name, spec in fields.items()
    ]


class Learning360V2ListView(APIView):
    """A 360Learning API v2 list: bracket filters, 500-row keyset pages, Link header.

    Subclasses name the endpoint (for the cursor), the filter table, the page query and the
    row serializer.
    """

    authentication_classes = [ApiKeyAuthentication, BearerApiKeyAuthentication, WorkspaceJWTAuthentication]
    permission_classes = [IsAdmin]
    throttle_classes = [family_throttle("learning360")]
    endpoint = ""
    filter_fields = {}
    page_query = None
    serializer_class = None

    def get_exception_handler(self):
        return learning360_exception_handler

    def get_authenticate_header(self, request):
        return 'Api-Key, Bearer realm="api"'

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        version = request.headers.get(API_VERSION_HEADER)
        if version is not None and version.strip() != API_VERSION:
            raise bad_request(
                "invalidApiVersion",
                f"{API_VERSION_HEADER}: unsupported version {version.strip()!r}; this server supports {API_VERSION}.",
            )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[API_VERSION_HEADER] = API_VERSION
        return response

    def get(self, request):
        params = request.query_params
        try:
            conditions = parse_bracket_filters(params, self.filter_fields, reserved=(CURSOR_PARAM,))
        except FilterError as error:
            raise bad_request("invalidFilter", str(error)) from None
        workspace = request.auth.workspace
        digest = filters_digest(self.endpoint, workspace, params)
        cursors = params.getlist(CURSOR_PARAM)
        if len(cursors) > 1:
            raise bad_request("invalidCursor", "next: given more than once.")
        after = decode_cursor(self.endpoint, cursors[0], digest) if cursors else None
        page = self.page_query(workspace, conditions, after=after)
        response = Response(learning360_rows(self.serializer_class, page.rows))
        if page.next_after is not None:
            pairs = [(key, value) for key, values in params.lists() if key != CURSOR_PARAM for value in values]
            pairs.append((CURSOR_PARAM, encode_cursor(self.endpoint, page.next_after, digest)))
            url = request.build_absolute_uri(f"{request.path}?{urlencode(pairs)}")
            response["Link"] = f'<{url}>; rel="next"'
        return response


def v2_list_schema(fields, serializer, description):
    return extend_schema(
        parameters=[
            VERSION_HEADER_PARAMETER,
            CURSOR_PARAMETER,
            *filter_parameters(fields),
            LINK_HEADER,
            ECHO_VERSION_HEADER,
        ],
        responses={
            200: serializer(many=True),
            400: ERROR_RESPONSE,
            401: INVALID_TOKEN_RESPONSE,
            403: ERROR_RESPONSE,
        },
        description=description,
    )


class CourseStatsV2View(Learning360V2ListView):
    endpoint = "courses-stats"
    filter_fields = queries.ATTEMPT_FILTERS
    page_query = staticmethod(partial(queries.attempts_page, timestamps_as_text=True))
    serializer_class = CourseStatSerializer

    @v2_list_schema(
        queries.ATTEMPT_FILTERS,
        CourseStatSerializer,
        "List all courses statistics: every attempt of the workspace, 500 a page, in a stable order.",
    )
    def get(self, request):
        return super().get(request)


class UsersV2View(Learning360V2ListView):
    endpoint = "users"
    filter_fields = queries.USER_FILTERS
    page_query = staticmethod(partial(queries.users_page, timestamps_as_text=True))
    serializer_class = UserSerializer

    @v2_list_schema(
        queries.USER_FILTERS,
        UserSerializer,
        "List all users: the workspace's members, 500 a page; `_id` is the `userId` of course statistics.",
    )
    def get(self, request):
        return super().get(request)


class UserCourseStatsV1View(APIView):
    """API v1 getUserCourseStats: one user's attempts at one course."""

    authentication_classes = [CompanyApiKeyAuthentication]
    permission_classes = [IsAdmin]
    throttle_classes = [family_throttle("learning360")]

    def get_exception_handler(self):
        return learning360_exception_handler

    @extend_schema(
        parameters=[
            OpenApiParameter("company", str, OpenApiParameter.QUERY, required=True, description="Workspace slug"),
            OpenApiParameter("apiKey", str, OpenApiParameter.QUERY, required=True, description="Admin API key"),
        ],
        responses={
            200: inline_serializer("UserCourseStatsV1", {"attempts": V1AttemptSerializer(many=True)}),
            401: INVALID_TOKEN_RESPONSE,
            403: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
        },
        description="The attempts of the user with that email at the course with that key.",
    )
    def get(self, request, course_id, user_email):
        try:
            rows = queries.user_course_attempts(request.auth.workspace, course_id, user_email, timestamps_as_text=True)
        except queries.CourseNotFound:
            raise Learning360Error(404, "courseNotFound", f"No course {course_id!r} in this company.") from None
        except queries.UserNotFound:
            raise Learning360Error(404, "userNotFound", f"No user {user_email!r} in this company.") from None
        return Response({"attempts": learning360_rows(V1AttemptSerializer, rows)})


urlpatterns = [
    path("api/v2/courses/stats", CourseStatsV2View.as_view(), name="learning360_courses_stats"),
    path("api/v2/users", UsersV2View.as_view(), name="learning360_users"),
    path(
        "api/v1/courses/<path:course_id>/stats/<str:user_email>",
        UserCourseStatsV1View.as_view(),
        name="learning360_v1_user_course_stats",
    ),
]
