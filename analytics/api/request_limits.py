"""Limits every request meets before a view parses it, answered in the family's error envelope.

- Body size: `Content-Length` above the limit of the path is a 413 before a byte is read
  (API_MAX_BODY_BYTES; IMPORT_MAX_BODY_BYTES for /api/import). DRF's parsers read the stream
  themselves, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE alone would not bound a JSON body.
- NUL characters (`\\u0000`) in the path or a query parameter are a 400 naming the parameter:
  PostgreSQL refuses NUL in text, so such a filter would otherwise fail in the database.
- JSON bodies (BoundedJSONParser): nesting deeper than MAX_JSON_DEPTH, or a NUL in any string
  or key, is a 400 naming the JSON path (`[3].data.note`), never a RecursionError.

The limits themselves (sizes, JSON rules) are plain functions in config/limits.py, which the
import and the xAPI endpoints share; this module answers them over HTTP. The rules and numbers:
docs/api/limits.md.
"""

from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from config.limits import MAX_JSON_DEPTH, NUL, body_limit_for, human_bytes, json_problem, problem_message


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "payload_too_large"


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, plus the depth and NUL rules (a ParseError naming the JSON path)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from exc
        problem = json_problem(value)
        if problem:
            raise exceptions.ParseError(f"JSON parse error - {problem_message(problem)}")
        return value


def drf_view_for(request):
    """(APIView instance, resolver match) of the DRF view serving the request, or (None, None)."""
    # Imported here: DRF's settings import this module (DEFAULT_PARSER_CLASSES) while views loads.
    from rest_framework.views import APIView

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None, None
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    if view_class is None or not issubclass(view_class, APIView):
        return None, match
    return view_class(**getattr(match.func, "initkwargs", {})), match


def family_error_response(request, exc):
    """The response the view's own exception handler gives for exc (its family's envelope);
    plain text for pages that are not DRF views."""
    view, match = drf_view_for(request)
    if view is not None:
        view.request = request
        view.args, view.kwargs = match.args, match.kwargs
        handled = view.get_exception_handler()(
            exc, {"view": view, "args": match.args, "kwargs": match.kwargs, "request": request}
        )
        if handled is not None:
            response = JsonResponse(handled.data, status=handled.status_code, safe=False)
            for header, value in handled.items():
                if header.lower() not in {"content-type", "content-length"}:
                    response[header] = value
            return response
    detail = exc.detail
    if isinstance(detail, dict):
        detail = "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in detail.items())
    response = HttpResponseBadRequest(str(detail), content_type="text/plain; charset=utf-8")
    response.status_code = exc.status_code
    return response


class RequestLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        exc = self.check(request)
        if exc is not None:
            return family_error_response(request, exc)
        return self.get_response(request)

    def check(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit_for(request.path_info)
        if length > limit:
            return PayloadTooLarge(
                f"The body is {length} bytes; requests to {request.path_info} may hold at most {limit} bytes "
                f"({human_bytes(limit)})."
            )
        if NUL in request.path_info:
            return exceptions.ValidationError({"path": ["The URL path may not contain NUL characters (\\u0000)."]})
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                shown = name.replace(NUL, "\\u0000")
                return exceptions.ValidationError(
                    {shown: ["Query parameters may not contain NUL characters (\\u0000)."]}
                )
        return None
