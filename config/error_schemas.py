"""OpenAPI descriptions of the error bodies that DRF's default handler answers (drf-spectacular).

Families with their own envelope (SkillRise, Skillhabit, VideoCloud, 360Learning, xAPI) describe
it in their module; these are for the families that answer DRF's `{"detail": ...}` and
`{"<field>": ["message", ...]}` (tracking, import, Open edX course information, tokens).
"""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

DetailErrorSerializer = inline_serializer("DetailError", {"detail": serializers.CharField()})

FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "Each invalid field with its messages",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "minProperties": 1,
}

DETAIL_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

# A 400 from DRF: a parse error (`{"detail"}`) or a serializer's field errors.
DETAIL_OR_FIELD_ERRORS_SCHEMA = {"oneOf": [DETAIL_SCHEMA, FIELD_ERRORS_SCHEMA]}


def detail_response(description):
    return OpenApiResponse(DetailErrorSerializer, description=description)


AUTH_ERROR_RESPONSES = {
    401: detail_response("No credential, or a wrong one"),
    403: detail_response("The credential's role may not use this endpoint"),
}
