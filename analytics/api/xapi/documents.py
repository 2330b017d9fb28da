"""xAPI document resources (Communication 2.2-2.7, docs/api/xapi.md): `/xapi/activities/state`,
`/xapi/activities/profile`, `/xapi/agents/profile`; and the About, Agents and Activities
resources."""

from django.http import HttpResponse
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from config.limits import loads_bounded
from analytics.api.xapi.base import ERRORS, VERSION_PARAMETER, ErrorSerializer, XapiView, query_timestamp
from analytics.models import XapiDocumentKind
from analytics.queries.xapi_documents import activity, document, document_ids, person
from analytics.services.xapi.documents import DocumentScope, Preconditions, delete_documents, save_document
from analytics.services.xapi.errors import ABOUT_VERSIONS, DocumentNotFound, StatementInvalid
from analytics.services.xapi.identity import agent_key
from analytics.services.xapi.validation import IRI, UUID_TEXT, validate_agent


class AnyBody(BaseParser):
    """Documents are any bytes: the views read request.body themselves."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream else b""


MAX_ID_LENGTH = 1000  # XapiDocument.activity_id and document_id
MAX_AGENT_KEY_LENGTH = 500  # XapiDocument.agent_key
MAX_CONTENT_TYPE_LENGTH = 255  # XapiDocument.content_type


def _bounded(value, name, limit):
    if len(value) > limit:
        raise StatementInvalid(f"{name}: at most {limit} characters")
    return value


def parse_agent(params, required=True):
    """The `agent` parameter as (Agent JSON, its key); StatementInvalid naming it when wrong."""
    if "agent" not in params:
        if required:
            raise StatementInvalid("agent: is required")
        return None, ""
    try:
        agent = loads_bounded(params["agent"])
    except ValueError:
        raise StatementInvalid("agent: must be an Agent as JSON") from None
    validate_agent(agent, "agent")
    return agent, _bounded(agent_key(agent), "agent", MAX_AGENT_KEY_LENGTH)


def _activity_id(params):
    if "activityId" not in params:
        raise StatementInvalid("activityId: is required")
    if not IRI.match(params["activityId"]):
        raise StatementInvalid("activityId: must be an absolute IRI")
    return _bounded(params["activityId"], "activityId", MAX_ID_LENGTH)


def _check_params(params, allowed):
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise StatementInvalid(f"{unknown[0]}: is not a parameter of this resource")


class DocumentView(XapiView):
    """One document resource: which parameters name its documents (scope) and the id parameter.
    GET with the id: the document (ETag, Last-Modified); without: the ids, `since` filtering.
    PUT replaces, POST merges JSON objects, DELETE with the id: one document, without: all."""

    parser_classes = [AnyBody]
    kind = None
    id_param = None
    scope_params = set()
    delete_all = True  # DELETE without the id deletes every document of the scope
    precondition_required = True  # a PUT over an existing document needs If-Match / If-None-Match

    def scope(self, params):
        raise NotImplementedError

    def _request_parts(self, request, *, listing=False):
        params = request.query_params
        _check_params(params, self.scope_params | {self.id_param} | ({"since"} if listing else set()))
        scope, agent = self.scope(params)
        return params, scope, agent

    def _document_id(self, params, required=True):
        value = params.get(self.id_param)
        if value is None:
            if required:
                raise StatementInvalid(f"{self.id_param}: is required")
            return None
        return _bounded(value, self.id_param, MAX_ID_LENGTH)

    def get(self, request):
        params, scope, _ = self._request_parts(request, listing=True)
        workspace = request.auth.workspace
        document_id = self._document_id(params, required=False)
        if document_id is None:
            since = query_timestamp(params, "since") if "since" in params else None
            return Response(document_ids(workspace, scope, since))
        if "since" in params:
            raise StatementInvalid(f"since: lists ids; it cannot be used with {self.id_param}")
        found = document(workspace, scope, document_id)
        if found is None:
            raise DocumentNotFound(f"No document with {self.id_param} {document_id}.")
        response = HttpResponse(bytes(found.content), content_type=found.content_type)
        response["ETag"] = f'"{found.etag}"'
        response["Last-Modified"] = http_date(found.updated_at.timestamp())
        return response

    def _save(self, request, *, merge):
        params, scope, agent = self._request_parts(request)
        content_type = _bounded(request.content_type or "", "Content-Type", MAX_CONTENT_TYPE_LENGTH)
        saved = save_document(
            request.auth.workspace,
            scope,
            self._document_id(params),
            request.body,
            content_type,
            merge=merge,
            preconditions=_preconditions(request),
            agent=agent,
            precondition_required=self.precondition_required and not merge,
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["ETag"] = f'"{saved.etag}"'
        return response

    def put(self, request):
        return self._save(request, merge=False)

    def post(self, request):
        return self._save(request, merge=True)

    def delete(self, request):
        params, scope, _ = self._request_parts(request)
        document_id = self._document_id(params, required=not self.delete_all)
        delete_documents(request.auth.workspace, scope, document_id, preconditions=_preconditions(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _preconditions(request):
    return Preconditions(if_match=request.headers.get("If-Match"), if_none_match=request.headers.get("If-None-Match"))


def _document_schema(resource, id_param, scope_parameters):
    """extend_schema for each method of a document resource (drf-spectacular cannot infer raw bodies)."""
    id_parameter = OpenApiParameter(id_param, OpenApiTypes.STR, description="The document's id")
    since = OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="Without the id: ids of documents stored after"
    )
    document_errors = {
        **ERRORS,
        404: OpenApiResponse(ErrorSerializer, description="No such document"),
        409: OpenApiResponse(ErrorSerializer, description="PUT over an existing document without If-Match"),
        412: OpenApiResponse(ErrorSerializer, description="If-Match / If-None-Match failed"),
    }
    base = [VERSION_PARAMETER, *scope_parameters, id_parameter]
    preconditions = [
        OpenApiParameter(
            "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="The ETag the write expects"
        ),
        OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="`*`: only if absent"),
    ]
    return {
        "get": extend_schema(
            operation_id=f"xapi_{resource}_get",
            summary="A document, or the ids of the documents",
            parameters=[*base, since],
            responses={200: OpenApiTypes.BINARY, **document_errors},
        ),
        "put": extend_schema(
            operation_id=f"xapi_{resource}_put",
            summary="Store a document (replaces)",
            parameters=[*base, *preconditions],
            request=OpenApiTypes.BINARY,
            responses={204: None, **document_errors},
        ),
        "post": extend_schema(
            operation_id=f"xapi_{resource}_post",
            summary="Store a document (merges JSON objects)",
            parameters=[*base, *preconditions],
            request=OpenApiTypes.BINARY,
            responses={204: None, **document_errors},
        ),
        "delete": extend_schema(
            operation_id=f"xapi_{resource}_delete",
            summary="Delete a document, or all of them",
            parameters=[*base, *preconditions],
            responses={204: None, **document_errors},
        ),
    }


def _documented(view_class, resource, scope_parameters):
    """Each method of view_class under its own schema: a fresh function per class, as
    extend_schema marks the function it decorates (the methods are DocumentView's, shared)."""
    for method, decorator in _document_schema(resource, view_class.id_param, scope_parameters).items():
        inherited = getattr(DocumentView, method)

        def handler(self, request, _inherited=inherited):
            return _inherited(self, request)

        setattr(view_class, method, decorator(handler))
    return view_class


ACTIVITY_ID = OpenApiParameter("activityId", OpenApiTypes.URI, required=True)
AGENT = OpenApiParameter("agent", OpenApiTypes.STR, required=True, description="Agent JSON")


class StateView(DocumentView):
    kind = XapiDocumentKind.STATE
    id_param = "stateId"
    scope_params = {"activityId", "agent", "registration"}
    precondition_required = False

    def scope(self, params):
        activity_id = _activity_id(params)
        agent, key = parse_agent(params)
        registration = params.get("registration", "")
        if registration and not UUID_TEXT.match(registration):
            raise StatementInvalid("registration: must be a UUID")
        return DocumentScope(
            self.kind, activity_id=activity_id, agent_key=key, registration=registration.lower()
        ), agent


class ActivityProfileView(DocumentView):
    kind = XapiDocumentKind.ACTIVITY_PROFILE
    id_param = "profileId"
    scope_params = {"activityId"}
    delete_all = False

    def scope(self, params):
        return DocumentScope(self.kind, activity_id=_activity_id(params)), None


class AgentProfileView(DocumentView):
    kind = XapiDocumentKind.AGENT_PROFILE
    id_param = "profileId"
    scope_params = {"agent"}
    delete_all = False

    def scope(self, params):
        agent, key = parse_agent(params)
        return DocumentScope(self.kind, agent_key=key), agent


REGISTRATION = OpenApiParameter("registration", OpenApiTypes.UUID)
_documented(StateView, "state", [ACTIVITY_ID, AGENT, REGISTRATION])
_documented(ActivityProfileView, "activity_profile", [ACTIVITY_ID])
_documented(AgentProfileView, "agent_profile", [AGENT])


class AgentsView(XapiView):
    @extend_schema(
        operation_id="xapi_agents_get",
        summary="The Person object of an agent",
        parameters=[VERSION_PARAMETER, AGENT],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request):
        _check_params(request.query_params, {"agent"})
        agent, _ = parse_agent(request.query_params)
        return Response(person(request.auth.workspace, agent))


class ActivitiesView(XapiView):
    @extend_schema(
        operation_id="xapi_activities_get",
        summary="The full definition of an activity",
        parameters=[VERSION_PARAMETER, ACTIVITY_ID],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request):
        _check_params(request.query_params, {"activityId"})
        return Response(activity(request.auth.workspace, _activity_id(request.query_params)))


class AboutView(XapiView):
    """The About resource: open to anyone, the only one without the version header."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    requires_version_header = False

    @extend_schema(
        operation_id="xapi_about_get",
        summary="The xAPI versions this LRS speaks",
        auth=[],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response({"version": list(ABOUT_VERSIONS), "extensions": {}})
