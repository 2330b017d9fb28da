"""Error envelopes shared by API families.

SkillRise (`/api/user/analytics`) and Skillhabit (`/analyse/*`) both answer errors as
`{"success": false, "message": "..."}`. A view opts in with SuccessMessageErrorsMixin.
"""

import logging

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def flatten_validation_errors(detail, path=""):
    """[(field_path, message)] from DRF's nested ValidationError detail.

    Paths use dots for objects and brackets for lists: `filters.states[1]`.
    """
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            child = key if not path else f"{path}.{key}"
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
    return "; ".join(f"{field}: {message}" if field else message for field, message in flatten_validation_errors(detail))


def success_message_exception_handler(exc, context):
    """DRF exception handler answering `{"success": false, "message": ...}`.

    Validation errors also carry `errors: [{"field", "message"}]`. Anything unexpected is a 500
    with a generic message; the details go to the log, never to the client.
    """
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
        detail = getattr(exc, "detail", None)
        response.data = {"success": False, "message": str(detail) if detail is not None else str(exc)}
    return response


class SuccessMessageErrorsMixin:
    """APIView mixin: errors in the `{"success": false, "message": ...}` envelope."""

    def get_exception_handler(self):
        return success_message_exception_handler
