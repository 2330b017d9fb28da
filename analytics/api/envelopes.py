"""Error envelopes shared by API families.

SkillRise (`/api/user/analytics`) and Skillhabit (`/analyse/*`) both answer errors as
`{"success": false, "message": "..."}`. A view opts in with SuccessMessageErrorsMixin.
"""

import logging

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.availability import translate_unavailable
from config.throttling import rate_limit_body

logger = logging.getLogger(__name__)


def flatten_validation_errors(detail, path=""):
    """[(field_path, message)] from DRF's nested ValidationError detail.

    Paths use dots for objects and brackets for lists: `filters.states[1]`.
    """
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            child = key if not path else f"{path}.{key}"
            if isinstance(key, int):
                # DRF's ListField reports a bad item as {index: [...]}: `states[1]`, not `states.1`.
                child = f"{path}[{key}]"
            if key == "non_field_errors":
                child = path
            pairs.extend(flatten_validation_errors(value, child))
        return pairs
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [(path, str(item)) for item in detail]
        pairs = []
        for index, item in enumerate(detail):
            if item in ({}, [], ""):
                continue
            pairs.extend(flatten_validation_errors(item, f"{path}[{index}]"))
        return pairs
    return [(path, str(detail))]


def validation_message(detail):
    return "; ".join(
        f"{field}: {message}" if field else message for field, message in flatten_validation_errors(detail)
    )


def error_message(exc):
    """The plain sentence an error's body carries. DRF's detail may be a string, a list or a
    dict (simplejwt's InvalidToken: `{"detail": ..., "code": ..., "messages": [...]}`); str() of
    those would be a Python repr."""
    detail = getattr(exc, "detail", None)
    if detail is None:
        return str(exc)
    if isinstance(detail, dict):
        if "detail" in detail:
            return error_message(exceptions.APIException(detail["detail"]))
        return validation_message(detail)
    if isinstance(detail, list):
        return " ".join(error_message(exceptions.APIException(item)) for item in detail)
    return str(detail)


@rate_limit_body(
    {
        "type": "object",
        "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}},
        "required": ["success", "message"],
    }
)
def success_message_exception_handler(exc, context):
    """DRF exception handler answering `{"success": false, "message": ...}`.

    Validation errors also carry `errors: [{"field", "message"}]`. Anything unexpected is a 500
    with a generic message; the details go to the log, never to the client.
    """
    exc = translate_unavailable(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {"success": False, "message": "An unexpected error occurred"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        pairs = flatten_validation_errors(exc.detail)
        response.data = {
            "success": False,
            "message": validation_message(exc.detail),
            "errors": [{"field": field, "message": message} for field, message in pairs],
        }
    else:
        response.data = {"success": False, "message": error_message(exc)}
    return response


class SuccessMessageErrorsMixin:
    """APIView mixin: errors in the `{"success": false, "message": ...}` envelope."""

    def get_exception_handler(self):
        return success_message_exception_handler


# VideoCloud (`/analytics/*`): `{"success": true, "data": ...}` and
# `{"success": false, "error": {"code": "ANALYTICS_...", "message": ...}}`.

VIDEOCLOUD_CODES_BY_STATUS = {
    400: "ANALYTICS_INVALID_PARAMETER",
    401: "ANALYTICS_UNAUTHORIZED",
    403: "ANALYTICS_FORBIDDEN",
    404: "ANALYTICS_DATA_UNAVAILABLE",
    405: "ANALYTICS_METHOD_NOT_ALLOWED",
    406: "ANALYTICS_NOT_ACCEPTABLE",
    415: "ANALYTICS_UNSUPPORTED_MEDIA_TYPE",
    429: "ANALYTICS_RATE_LIMIT",
    503: "ANALYTICS_SERVICE_UNAVAILABLE",
}


class VideoCloudError(exceptions.APIException):
    """An error with a VideoCloud code: `raise VideoCloudError("ANALYTICS_INVALID_PERIOD", "...")`.

    `field` (optional) names the request parameter at fault.
    """

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code, message, status_code=None, field=None):
        super().__init__(detail=message)
        self.videocloud_code = code
        self.field = field
        if status_code is not None:
            self.status_code = status_code


def videocloud_success(data, status_code=status.HTTP_200_OK, headers=None):
    return Response({"success": True, "data": data}, status=status_code, headers=headers)


@rate_limit_body(
    {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": ["ANALYTICS_RATE_LIMIT"]},
                    "message": {"type": "string"},
                },
                "required": ["code", "message"],
            },
        },
        "required": ["success", "error"],
    }
)
def videocloud_exception_handler(exc, context):
    """DRF exception handler answering `{"success": false, "error": {"code", "message"}}`.

    The code comes from a VideoCloudError, else from the status (429 -> ANALYTICS_RATE_LIMIT, with
    DRF's Retry-After header). Validation errors add `field`. Anything unexpected is a 500
    ANALYTICS_INTERNAL_ERROR with a generic message; the details go to the log only.
    """
    exc = translate_unavailable(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {
                "success": False,
                "error": {"code": "ANALYTICS_INTERNAL_ERROR", "message": "An unexpected error occurred"},
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = getattr(exc, "videocloud_code", None) or VIDEOCLOUD_CODES_BY_STATUS.get(
        response.status_code, "ANALYTICS_ERROR"
    )
    error = {"code": code}
    if isinstance(exc, exceptions.ValidationError):
        pairs = flatten_validation_errors(exc.detail)
        error["message"] = validation_message(exc.detail)
        if pairs and pairs[0][0]:
            error["field"] = pairs[0][0]
    else:
        error["message"] = error_message(exc)
        if getattr(exc, "field", None):
            error["field"] = exc.field
    response.data = {"success": False, "error": error}
    return response


class VideoCloudErrorsMixin:
    """APIView mixin: errors in the VideoCloud `{"success": false, "error": {...}}` envelope."""

    def get_exception_handler(self):
        return videocloud_exception_handler
