"""xAPI 1.0.3 statements resource: `/xapi/statements` (POST, PUT, GET, HEAD), docs/api/xapi.md."""

import json
from urllib.parse import urlencode

from django.core import signing
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from analytics.api.request_limits import BoundedJSONParser
from config.limits import loads_bounded
from analytics.api.xapi.base import ERRORS, VERSION_PARAMETER, ErrorSerializer, XapiView, query_timestamp
from analytics.api.xapi.formats import FORMATS, accepted_languages, activity_ids, formatted
from analytics.api.xapi.multipart import MultipartMixedParser, StatementsWithAttachments, render_statements_response
from analytics.queries.xapi import (
    MAX_PAGE,
    Cursor,
    StatementFilters,
    canonical_definitions,
    statement_by_id,
    statement_page,
)
from analytics.services.xapi.attachments import attachment_contents
from analytics.services.xapi.errors import StatementInvalid
from analytics.services.xapi.identity import agent_key
from analytics.services.xapi.statements import record_statements
from analytics.services.xapi.validation import IRI, UUID_TEXT, parse_timestamp, validate_agent

MORE_SALT = "analytics.api.xapi.more"
MORE_MAX_AGE_S = 24 * 3600
LIST_PARAMS = {
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
}
SINGLE_PARAMS = {"statementId", "voidedStatementId", "format", "attachments"}


class StatementResultSerializer(serializers.Serializer):
    statements = serializers.ListField(child=serializers.DictField(), help_text="Statements, newest stored first")
    more = serializers.CharField(help_text="Relative URL of the next page, or empty")


def _flag(params, name):
    """A boolean parameter: true or false in any case (real clients send True, TRUE...)."""
    value = params.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise StatementInvalid(f"{name}: must be true or false")
    return value in ("true", "1")


def _format(params):
    value = params.get("format", "exact")
    if value not in FORMATS:
        raise StatementInvalid("format: must be ids, exact or canonical")
    return value


def _filters_from_params(params):
    unknown = sorted(set(params) - LIST_PARAMS)
    if unknown:
        raise StatementInvalid(f"{unknown[0]}: is not a parameter of GET /xapi/statements")
    _flag(params, "attachments")
    _format(params)
    key = None
    if "agent" in params:
        try:
            agent = loads_bounded(params["agent"])
        except ValueError:
            raise StatementInvalid("agent: must be an Agent or identified Group as JSON") from None
        validate_statement_agent(agent)
        key = agent_key(agent)
    for name in ("verb", "activity"):
        if name in params and not IRI.match(params[name]):
            raise StatementInvalid(f"{name}: must be an absolute IRI")
    if "registration" in params and not UUID_TEXT.match(params["registration"]):
        raise StatementInvalid("registration: must be a UUID")
    try:
        limit = int(params.get("limit", "0"))
    except ValueError:
        raise StatementInvalid("limit: must be a non-negative integer") from None
    if limit < 0:
        raise StatementInvalid("limit: must be a non-negative integer")
    filters = StatementFilters(
        agent_key=key,
        verb_id=params.get("verb"),
        activity_id=params.get("activity"),
        registration=params.get("registration", "").lower() or None,
        related_agents=_flag(params, "related_agents"),
        related_activities=_flag(params, "related_activities"),
        since=query_timestamp(params, "since") if "since" in params else None,
        until=query_timestamp(params, "until") if "until" in params else None,
        ascending=_flag(params, "ascending"),
    )
    return filters, min(limit or MAX_PAGE, MAX_PAGE)


def validate_statement_agent(agent):
    """Raise StatementInvalid unless agent is an Agent or an identified Group."""
    validate_agent(agent, "agent")
    if agent.get("objectType") == "Group" and not any(
        key in agent for key in ("mbox", "mbox_sha1sum", "openid", "account")
    ):
        raise StatementInvalid("agent: an anonymous Group cannot be used as a filter")


def _encode_more(workspace, filters, limit, cursor, presentation):
    payload = {
        "w": workspace.pk,
        "a": filters.agent_key,
        "v": filters.verb_id,
        "t": filters.activity_id,
        "r": filters.registration,
        "ra": filters.related_agents,
        "rt": filters.related_activities,
        "s": filters.since.isoformat() if filters.since else None,
        "u": filters.until.isoformat() if filters.until else None,
        "o": filters.ascending,
        "l": limit,
        "c": [cursor.stored.isoformat(), cursor.pk],
        "p": presentation,
    }
    return signing.dumps(payload, salt=MORE_SALT, compress=True)


def _decode_more(workspace, token):
    """(filters, limit, cursor, presentation) of a `more` token this LRS issued to workspace."""
    try:
        payload = signing.loads(token, salt=MORE_SALT, max_age=MORE_MAX_AGE_S)
    except signing.BadSignature:
        raise StatementInvalid("more: not a continuation this LRS issued, or older than a day") from None
    if payload.get("w") != workspace.pk:
        raise StatementInvalid("more: not a continuation this LRS issued, or older than a day")
    filters = StatementFilters(
        agent_key=payload["a"],
        verb_id=payload["v"],
        activity_id=payload["t"],
        registration=payload["r"],
        related_agents=payload.get("ra", False),
        related_activities=payload.get("rt", False),
        since=parse_timestamp(payload["s"], "more") if payload["s"] else None,
        until=parse_timestamp(payload["u"], "more") if payload["u"] else None,
        ascending=payload["o"],
    )
    stored, pk = payload["c"]
    return filters, payload["l"], Cursor(stored=parse_timestamp(stored, "more"), pk=pk), payload.get("p", {})


def _presented(request, workspace, statements, format_name):
    """statements in the asked format (canonical: the workspace's activity definitions, one
    language per map as Accept-Language prefers)."""
    if format_name == "exact":
        return statements
    definitions = {}
    if format_name == "canonical":
        definitions = canonical_definitions(
            workspace, {id_ for statement in statements for id_ in activity_ids(statement)}
        )
    languages = accepted_languages(request.headers.get("Accept-Language"))
    return [formatted(statement, format_name, definitions=definitions, languages=languages) for statement in statements]


def _statements_and_parts(request):
    """(statement or list, {sha2: attachment Part}) of a JSON or multipart/mixed request."""
    data = request.data
    if isinstance(data, StatementsWithAttachments):
        return data.statements, data.parts
    return data, {}


def _with_attachments(workspace, document, statements):
    """A multipart/mixed response: document (a StatementResult or a statement), then the bytes
    of the statements' attachments the workspace holds."""
    body, content_type = render_statements_response(document, attachment_contents(workspace, statements))
    return HttpResponse(body, content_type=content_type)


class StatementsView(XapiView):
    """The xAPI statements resource of the credential's workspace."""

    parser_classes = [BoundedJSONParser, MultipartMixedParser]

    def _authority(self, request):
        api_key = request.auth.api_key
        label = api_key.name if api_key and api_key.name else f"API key {api_key.prefix if api_key else ''}".strip()
        return {
            "objectType": "Agent",
            "name": label,
            "account": {
                "homePage": request.build_absolute_uri("/"),
                "name": f"api-key:{api_key.prefix if api_key else ''}",
            },
        }

    @extend_schema(
        operation_id="xapi_statements_get",
        summary="Get one statement (statementId / voidedStatementId) or a page of statements",
        parameters=[
            VERSION_PARAMETER,
            OpenApiParameter("statementId", OpenApiTypes.UUID, description="Return this statement"),
            OpenApiParameter("voidedStatementId", OpenApiTypes.UUID, description="Return this voided statement"),
            OpenApiParameter(
                "agent",
                OpenApiTypes.STR,
                description="Agent or identified Group JSON: statements whose actor or object it is",
            ),
            OpenApiParameter(
                "related_agents",
                OpenApiTypes.BOOL,
                description="agent also matches authority, context and SubStatement agents",
            ),
            OpenApiParameter(
                "related_activities",
                OpenApiTypes.BOOL,
                description="activity also matches context and SubStatement activities",
            ),
            OpenApiParameter("verb", OpenApiTypes.URI),
            OpenApiParameter("activity", OpenApiTypes.URI, description="Object activity id"),
            OpenApiParameter("registration", OpenApiTypes.UUID),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Stored after (exclusive)"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Stored at or before"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"0 (default) = {MAX_PAGE}, the maximum"),
            OpenApiParameter("ascending", OpenApiTypes.BOOL),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["exact", "ids", "canonical"]),
            OpenApiParameter("attachments", OpenApiTypes.BOOL),
            OpenApiParameter("more", OpenApiTypes.STR, description="Continuation from a previous page's `more`"),
        ],
        responses={
            200: OpenApiResponse(StatementResultSerializer, description="A StatementResult, or one statement"),
            404: OpenApiResponse(ErrorSerializer, description="No such statement"),
            **ERRORS,
        },
    )
    def get(self, request):
        params = request.query_params
        workspace = request.auth.workspace
        if "statementId" in params or "voidedStatementId" in params:
            return self._single(request, workspace)
        if "more" in params:
            if len(params) > 1:
                raise StatementInvalid("more: cannot be combined with other parameters")
            filters, limit, cursor, presentation = _decode_more(workspace, params["more"])
        else:
            (filters, limit), cursor = _filters_from_params(params), None
            presentation = {"format": _format(params), "attachments": _flag(params, "attachments")}
        format_name = presentation.get("format", "exact")
        # The exact format (the common read) passes the stored JSON through: decoding and
        # encoding a page of statements again cost more than the query.
        as_text = format_name == "exact" and not presentation.get("attachments")
        statements, next_cursor = statement_page(workspace, filters, limit=limit, cursor=cursor, as_text=as_text)
        more = ""
        if next_cursor is not None:
            token = _encode_more(workspace, filters, limit, next_cursor, presentation)
            more = f"{reverse('xapi-statements')}?{urlencode({'more': token})}"
        if as_text:
            body = '{"statements": [' + ", ".join(statements) + '], "more": ' + json.dumps(more) + "}"
            return HttpResponse(body, content_type="application/json")
        statements = _presented(request, workspace, statements, format_name)
        if presentation.get("attachments"):
            return _with_attachments(workspace, {"statements": statements, "more": more}, statements)
        return Response({"statements": statements, "more": more})

    def _single(self, request, workspace):
        params = request.query_params
        if "statementId" in params and "voidedStatementId" in params:
            raise StatementInvalid("statementId and voidedStatementId cannot be used together")
        extra = sorted(set(params) - SINGLE_PARAMS)
        if extra:
            raise StatementInvalid(f"{extra[0]}: cannot be combined with statementId or voidedStatementId")
        name = "statementId" if "statementId" in params else "voidedStatementId"
        if not UUID_TEXT.match(params[name]):
            raise StatementInvalid(f"{name}: must be a UUID")
        format_name = _format(params)
        with_attachments = _flag(params, "attachments")
        found = statement_by_id(workspace, params[name], voided=name == "voidedStatementId")
        if found is None:
            return Response({"detail": f"No statement with {name} {params[name]}."}, status=status.HTTP_404_NOT_FOUND)
        statement, stored = found
        presented = _presented(request, workspace, [statement], format_name)[0]
        if with_attachments:
            response = _with_attachments(workspace, presented, [statement])
        else:
            response = Response(presented)
        response["Last-Modified"] = http_date(stored.timestamp())
        return response

    @extend_schema(
        operation_id="xapi_statements_post",
        summary="Store one statement or a list of statements (all or nothing)",
        parameters=[VERSION_PARAMETER],
        request=OpenApiTypes.ANY,
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": {"type": "string", "format": "uuid"}},
                description="The statements' ids, in the order sent",
            ),
            409: OpenApiResponse(ErrorSerializer, description="An id is stored with different content"),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "A statement",
                request_only=True,
                value={
                    "actor": {"mbox": "mailto:ada@example.com"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                    "object": {"id": "http://lms.example.com/course/course-v1:Org+X+1/problem/1"},
                },
            )
        ],
    )
    def post(self, request):
        data, parts = _statements_and_parts(request)
        if not isinstance(data, (dict, list)):
            raise StatementInvalid("The body must be a statement or a list of statements (JSON).")
        ids = record_statements(request.auth.workspace, data, authority=self._authority(request), parts=parts)
        return Response(ids, status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="xapi_statements_put",
        summary="Store one statement under statementId",
        parameters=[
            VERSION_PARAMETER,
            OpenApiParameter("statementId", OpenApiTypes.UUID, required=True),
        ],
        request=OpenApiTypes.OBJECT,
        responses={
            204: OpenApiResponse(description="Stored (or already stored with the same content)"),
            409: OpenApiResponse(ErrorSerializer, description="The id is stored with different content"),
            **ERRORS,
        },
    )
    def put(self, request):
        statement_id = request.query_params.get("statementId")
        if not statement_id:
            raise StatementInvalid("statementId: is required")
        if not UUID_TEXT.match(statement_id):
            raise StatementInvalid("statementId: must be a UUID")
        data, parts = _statements_and_parts(request)
        if not isinstance(data, dict):
            raise StatementInvalid("The body must be one statement (a JSON object).")
        record_statements(
            request.auth.workspace, data, authority=self._authority(request), statement_id=statement_id, parts=parts
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
