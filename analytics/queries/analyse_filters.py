"""The Analyse `filters` object (POST /analyse/results and /analyse/statistics, Analyse result
exports) parsed into ResultFilters: the one parser of both.

A DRF serializer, so that the API's 400 and an export request's `filters.<field>` error carry the
same messages; it lives below the API layer because exports (exports/sources.py) parse the
filters of a stored job, outside any request. Unknown keys are refused at every level: a misspelt
filter must not silently widen the results. Rules: docs/api/analyse.md.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.formats import TIME_RANGE_MESSAGE, in_time_range, iso_ms_z, parse_iso_datetime
from analytics.queries.analyse import (
    ENROLLMENT_TYPES,
    RESULT_STATES,
    CustomFieldFilter,
    DateRange,
    ResultFilters,
)

MAX_IDS_PER_FILTER = 1000


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know: a misspelt filter must not silently widen the results."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeField(serializers.Field):
    """ISO 8601 date or date-time; without an offset it is UTC."""

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date-time, e.g. 2025-06-30T13:23:56Z.",
        "range": f"M{TIME_RANGE_MESSAGE[1:]}.",
    }

    def to_internal_value(self, data):
        value = parse_iso_datetime(data)
        if value is None:
            self.fail("invalid")
        if not in_time_range(value):
            self.fail("range")
        return value

    def to_representation(self, value):
        return iso_ms_z(value)


class AnalyseDateRangeSerializer(StrictSerializer):
    """`{"from": ..., "to": ...}`: from included, to excluded, either optional."""

    def get_fields(self):
        # `from` is a Python keyword, so the fields are declared here rather than in the class body.
        return {
            "from": IsoDateTimeField(required=False, allow_null=True),
            "to": IsoDateTimeField(required=False, allow_null=True),
        }

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"to": ["Must not be before from."]})
        return DateRange(start=start, end=end)


def id_list():
    return serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True, max_length=MAX_IDS_PER_FILTER
    )


class AnalyseCustomFieldFilterSerializer(StrictSerializer):
    customFieldId = serializers.CharField(max_length=24)
    values = serializers.ListField(
        child=serializers.CharField(max_length=255, allow_blank=True),
        allow_empty=False,
        max_length=MAX_IDS_PER_FILTER,
    )

    def validate(self, attrs):
        return CustomFieldFilter(field_id=attrs["customFieldId"], values=tuple(attrs["values"]))


class AnalyseFiltersSerializer(StrictSerializer):
    groupIds = id_list()
    userIds = id_list()
    contentIds = id_list()
    states = serializers.ListField(
        child=serializers.ChoiceField(choices=RESULT_STATES), required=False, allow_null=True
    )
    enrollmentTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=ENROLLMENT_TYPES), required=False, allow_null=True
    )
    customFields = AnalyseCustomFieldFilterSerializer(many=True, required=False, allow_null=True, max_length=50)
    updatedAtDateRange = AnalyseDateRangeSerializer(required=False, allow_null=True)
    expiryDateRange = AnalyseDateRangeSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        return ResultFilters(
            group_ids=tuple(attrs.get("groupIds") or ()),
            user_ids=tuple(attrs.get("userIds") or ()),
            content_ids=tuple(attrs.get("contentIds") or ()),
            states=tuple(attrs.get("states") or ()),
            enrollment_types=tuple(attrs.get("enrollmentTypes") or ()),
            custom_fields=tuple(attrs.get("customFields") or ()),
            updated_at=attrs.get("updatedAtDateRange"),
            expiry=attrs.get("expiryDateRange"),
        )
