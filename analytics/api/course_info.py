"""Open edX Analytics Data API v0, course information: `/api/v0/courses/{course_id}/...`.

Drop-in for Insights-style clients (edx-analytics-data-api-client): the same paths (course keys
with slashes, `course-v1:` keys, URL-encoded or not), field names, list-or-object shapes, date
formats (`%Y-%m-%d` days, `%Y-%m-%dT%H%M%S` times), `Accept: text/csv` or `?format=csv`, and
`Authorization: Token <API key>` besides the project's own credentials. Errors are DRF's default
`{"detail": ...}` / `{"<parameter>": [...]}`, as Open edX answers them.

One view class serves every endpoint from a table of endpoint specs (ENDPOINTS). Rules and the
choices made where the document is silent: docs/api/course_info.md.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.urls import path, register_converter
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import exceptions, renderers, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from accounts.models import Role
from accounts.permissions import roles_allowed
from analytics.definitions import can_read_course
from analytics.formats import in_time_range
from config.renderers import BrowsableAPIRenderer, JSONRenderer
from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_OR_FIELD_ERRORS_SCHEMA, detail_response
from analytics.queries import course_info as queries
from config.throttling import family_throttle
from courses.models import Course

from .rows import CompiledRows

DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%dT%H%M%S"
ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# ---------------------------------------------------------------------------------------------
# Course keys in URLs


class CourseIdConverter:
    """Open edX's COURSE_ID_PATTERN (`org/course/run`, `course-v1:org+course+run`, `ccx-v1:...`),
    and also any key without a slash (the project's 24-hex course ids)."""

    regex = r"[^/+]+[/+][^/+]+[/+][^/]+|[^/]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(CourseIdConverter, "edx_course_id")


# ---------------------------------------------------------------------------------------------
# Authentication, permission, rendering


class EdxTokenAuthentication(ApiKeyAuthentication):
    """`Authorization: Token <API key>`: what edx-analytics-data-api-client sends."""

    keyword = "Token"


class EdxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.api.course_info.EdxTokenAuthentication"
    name = "edxToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token", bearer_format="API key"
        )


CanReadCourseInfo = roles_allowed(Role.INSTRUCTOR, Role.ADMIN)


class CSVRenderer(renderers.BaseRenderer):
    """CSV like Open edX's (djangorestframework-csv): nested objects flattened to `a.b` columns,
    columns in alphabetical order, null as an empty cell, an empty body for no rows."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        rows = [data] if isinstance(data, dict) else list(data)
        if not rows:
            return b""
        flat_rows = [dict(self._flatten(row)) for row in rows]
        header = sorted({key for row in flat_rows for key in row})
        out = io.StringIO()
        writer = csv.DictWriter(out, header)
        writer.writeheader()
        writer.writerows(flat_rows)
        return out.getvalue().encode(self.charset)

    def _flatten(self, value, prefix=""):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from self._flatten(item, f"{prefix}{key}.")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from self._flatten(item, f"{prefix}{index}.")
        else:
            yield prefix[:-1], value


# ---------------------------------------------------------------------------------------------
# Serializers: the document's field names and formats


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{6}$", "example": "2026-03-02T000000"})
class EdxDateTimeField(serializers.DateTimeField):
    """A UTC time as `YYYY-mm-ddTHHMMSS`, Open edX's DATETIME_FORMAT."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", DATETIME_FORMAT)
        super().__init__(default_timezone=dt_timezone.utc, **kwargs)


def _created():
    return EdxDateTimeField(help_text="When the numbers were computed (UTC): they are computed live")


def _day_serializer(name, *, date_first=False, **fields):
    """A per-day enrollment serializer: course_id, date (date, course_id with date_first, as the
    document shows the location rows), the given fields, created (in that order)."""
    keys = {
        "course_id": serializers.CharField(),
        "date": serializers.DateField(format=DATE_FORMAT, help_text="The UTC day at whose end learners are counted"),
    }
    if date_first:
        keys = {"date": keys["date"], "course_id": keys["course_id"]}
    declared = {**keys, **fields, "created": _created()}
    serializer = type(name, (serializers.Serializer,), dict(declared))
    # DRF orders declared fields by when each field object was made, and `fields` were made
    # before the keys above: keep the order written here instead.
    serializer._declared_fields = declared
    return serializer


def _count(help_text="Learners enrolled at the end of the day"):
    return serializers.IntegerField(help_text=help_text)


EdxEnrollmentSerializer = _day_serializer("EdxEnrollmentSerializer", count=_count())
EdxEnrollmentByModeSerializer = _day_serializer(
    "EdxEnrollmentByModeSerializer",
    count=_count(),
    cumulative_count=_count("Learners ever enrolled by the end of the day, unenrolled or not"),
    **{mode: _count(f"Learners enrolled in mode {mode}") for mode in queries.REPORTED_MODES},
)
EdxEnrollmentByBirthYearSerializer = _day_serializer(
    "EdxEnrollmentByBirthYearSerializer",
    birth_year=serializers.IntegerField(allow_null=True, help_text="null: learners who gave no birth year"),
    count=_count(),
)
EdxEnrollmentByEducationSerializer = _day_serializer(
    "EdxEnrollmentByEducationSerializer",
    education_level=serializers.CharField(allow_null=True, help_text="null: learners who gave no level"),
    count=_count(),
)
EdxEnrollmentByGenderSerializer = _day_serializer(
    "EdxEnrollmentByGenderSerializer",
    female=_count(),
    male=_count(),
    other=_count(),
    unknown=_count("Learners enrolled at the end of the day who gave no gender"),
)


class EdxCountrySerializer(serializers.Serializer):
    alpha2 = serializers.CharField(allow_null=True)
    alpha3 = serializers.CharField(allow_null=True)
    name = serializers.CharField(help_text="`UNKNOWN` when the country is not known")


EdxEnrollmentByLocationSerializer = _day_serializer(
    "EdxEnrollmentByLocationSerializer", date_first=True, country=EdxCountrySerializer(), count=_count()
)


class EdxWeeklyActivitySerializer(serializers.Serializer):
    interval_start = EdxDateTimeField(help_text="Monday 00:00 UTC")
    interval_end = EdxDateTimeField(help_text="The next Monday 00:00 UTC")
    course_id = serializers.CharField()
    any = serializers.IntegerField()
    attempted_problem = serializers.IntegerField()
    played_video = serializers.IntegerField()
    posted_forum = serializers.IntegerField()
    created = _created()


class EdxRecentActivitySerializer(serializers.Serializer):
    interval_start = serializers.DateTimeField(format=ISO_UTC_FORMAT, default_timezone=dt_timezone.utc)
    interval_end = serializers.DateTimeField(format=ISO_UTC_FORMAT, default_timezone=dt_timezone.utc)
    activity_type = serializers.CharField()
    count = serializers.IntegerField()
    course_id = serializers.CharField()


class EdxVideoSerializer(serializers.Serializer):
    pipeline_video_id = serializers.CharField(help_text="`{course_id}|{encoded_module_id}`")
    encoded_module_id = serializers.CharField()
    duration = serializers.IntegerField(help_text="Seconds")
    segment_length = serializers.IntegerField(help_text="Seconds")
    users_at_start = serializers.IntegerField(help_text="Learners who watched the first segment")
    users_at_end = serializers.IntegerField(help_text="Learners who watched the last segment")
    created = _created()


# ---------------------------------------------------------------------------------------------
# Query parameters

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}$")


class EdxDateParamField(serializers.Field):
    """`YYYY-mm-dd` or `YYYY-mm-ddTHHMMSS` (UTC), as Open edX accepts both on every endpoint."""

    default_error_messages = {
        "invalid": "Enter a date as YYYY-mm-dd or YYYY-mm-ddTHHMMSS (UTC).",
        # A day series from year 1 would be 740,000 rows; 9999 overflows the day arithmetic.
        "range": "Enter a date from 1970-01-01 to 2099-12-31.",
    }

    def to_internal_value(self, data):
        text = str(data).strip()
        formats = {DATE_FORMAT: DATE_PATTERN, DATETIME_FORMAT: DATETIME_PATTERN}
        for fmt, pattern in formats.items():
            if pattern.match(text):
                try:
                    value = datetime.strptime(text, fmt).replace(tzinfo=dt_timezone.utc)
                except ValueError:
                    break
                if not in_time_range(value):
                    self.fail("range")
                return value
        self.fail("invalid")

    def to_representation(self, value):
        return value.strftime(DATETIME_FORMAT)


class DateRangeParamsSerializer(serializers.Serializer):
    start_date = EdxDateParamField(required=False, help_text="Inclusive")
    end_date = EdxDateParamField(required=False, help_text="Exclusive")

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_date": ["end_date must be after start_date."]})
        return attrs


class ActivityTypeParamsSerializer(serializers.Serializer):
    activity_type = serializers.CharField(required=False)
    label = serializers.CharField(required=False, help_text="Old name of activity_type")


# ---------------------------------------------------------------------------------------------
# Endpoint specs: one row per endpoint, served by CourseInfoView


def _day(value):
    return None if value is None else value.date()


def _enrollment_rows(query):
    def run(course, params, now):
        return query(course, _day(params.get("start_date")), _day(params.get("end_date")), now.date())

    return run


def _activity_rows(course, params, now):
    return queries.course_activity_by_week(course, params.get("start_date"), params.get("end_date"), now)


def _recent_activity(course, params, now):
    requested = params.get("label") or params.get("activity_type") or "any"
    activity_type = requested.strip().lower()
    if activity_type == "active":  # what the Open edX pipeline called `any`
        activity_type = "any"
    if activity_type not in queries.ACTIVITY_TYPES:
        raise exceptions.NotFound(
            f"Unknown activity_type {requested!r}: use any, attempted_problem, played_video or posted_forum."
        )
    return queries.course_recent_activity(course, activity_type, now)


def _videos(course, params, now):
    return queries.course_videos(course)


@dataclass(frozen=True)
class EndpointSpec:
    route: str  # below /api/v0/courses/{course_id}/
    name: str
    csv_slug: str  # Open edX's CSV file name part
    run: object  # (course, params, now) -> rows or one object
    serializer: type
    params: type = DateRangeParamsSerializer
    many: bool = True
    summary: str = ""


ENDPOINTS = (
    EndpointSpec(
        "activity",
        "course_activity",
        "engagement-activity",
        _activity_rows,
        EdxWeeklyActivitySerializer,
        summary="Learners active per week (Monday to Monday, UTC)",
    ),
    EndpointSpec(
        "recent_activity",
        "course_recent_activity",
        "recent-activity",
        _recent_activity,
        EdxRecentActivitySerializer,
        params=ActivityTypeParamsSerializer,
        many=False,
        summary="Learners who did an activity in the most recent whole week",
    ),
    EndpointSpec(
        "enrollment",
        "course_enrollment",
        "enrollment",
        _enrollment_rows(queries.course_enrollment_by_day),
        EdxEnrollmentSerializer,
        summary="Learners enrolled at the end of each UTC day",
    ),
    EndpointSpec(
        "enrollment/mode",
        "course_enrollment_by_mode",
        "enrollment_mode",
        _enrollment_rows(queries.course_enrollment_by_mode),
        EdxEnrollmentByModeSerializer,
        summary="Learners enrolled per mode at the end of each UTC day",
    ),
    EndpointSpec(
        "enrollment/birth_year",
        "course_enrollment_by_birth_year",
        "enrollment-age",
        _enrollment_rows(queries.course_enrollment_by_birth_year),
        EdxEnrollmentByBirthYearSerializer,
        summary="Learners enrolled per birth year at the end of each UTC day",
    ),
    EndpointSpec(
        "enrollment/education",
        "course_enrollment_by_education",
        "enrollment-education",
        _enrollment_rows(queries.course_enrollment_by_education),
        EdxEnrollmentByEducationSerializer,
        summary="Learners enrolled per education level at the end of each UTC day",
    ),
    EndpointSpec(
        "enrollment/gender",
        "course_enrollment_by_gender",
        "enrollment-gender",
        _enrollment_rows(queries.course_enrollment_by_gender),
        EdxEnrollmentByGenderSerializer,
        summary="Learners enrolled per gender at the end of each UTC day",
    ),
    EndpointSpec(
        "enrollment/location",
        "course_enrollment_by_location",
        "enrollment-location",
        _enrollment_rows(queries.course_enrollment_by_location),
        EdxEnrollmentByLocationSerializer,
        summary="Learners enrolled per country at the end of each UTC day",
    ),
    EndpointSpec(
        "videos",
        "course_videos",
        "videos",
        _videos,
        EdxVideoSerializer,
        params=None,
        summary="Videos of the course with their viewers at start and end",
    ),
)


# ---------------------------------------------------------------------------------------------
# The view


class CourseInfoSchema(AutoSchema):
    """OpenAPI for CourseInfoView: everything comes from the view's endpoint spec."""

    def get_operation_id(self):
        return self.view.spec.name

    def get_summary(self):
        return self.view.spec.summary

    def get_tags(self):
        return ["Open edX course information (v0)"]

    def get_request_serializer(self):
        return None

    def get_response_serializers(self):
        spec = self.view.spec
        return {
            200: spec.serializer(many=spec.many),
            400: OpenApiResponse(DETAIL_OR_FIELD_ERRORS_SCHEMA, description="An invalid query parameter"),
            **AUTH_ERROR_RESPONSES,
            404: detail_response("No course with this key in the workspace"),
        }

    def get_override_parameters(self):
        spec = self.view.spec
        if spec.params is DateRangeParamsSerializer:
            return [
                OpenApiParameter(name, OpenApiTypes.STR, description=f"{note}; YYYY-mm-dd or YYYY-mm-ddTHHMMSS")
                for name, note in (("start_date", "Inclusive"), ("end_date", "Exclusive"))
            ]
        if spec.params is ActivityTypeParamsSerializer:
            return [
                OpenApiParameter(
                    "activity_type",
                    OpenApiTypes.STR,
                    enum=list(queries.ACTIVITY_TYPES),
                    description="Default any",
                )
            ]
        return []


def readable_course(credential, course_key):
    """The credential's workspace's course with this key, None when there is none; 403 for an
    instructor who does not teach it (an instructor API key teaches nothing)."""
    course = Course.objects.filter(workspace=credential.workspace, key=course_key).first()
    if course is not None and not can_read_course(credential, course):
        raise exceptions.PermissionDenied("Instructors may only read the courses they teach.")
    return course


def current_time():
    """Now (UTC): the `created` of every row and the reference of the default date windows."""
    return timezone.now()


class CourseInfoView(APIView):
    """GET one course information endpoint; which one is `spec` (an EndpointSpec)."""

    spec = None
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, EdxTokenAuthentication]
    permission_classes = [CanReadCourseInfo]
    throttle_classes = [family_throttle("course-info")]
    schema = CourseInfoSchema()

    def get_renderers(self):
        classes = [JSONRenderer, BrowsableAPIRenderer]
        if self.spec.many:
            classes.append(CSVRenderer)
        return [renderer() for renderer in classes]

    def get_course(self, course_id):
        """The workspace's course with this key: 404 if none, 403 for an instructor not teaching it."""
        course = readable_course(self.request.auth, course_id)
        if course is None:
            raise exceptions.NotFound()
        return course

    def get(self, request, course_id):
        spec = self.spec
        params = {}
        if spec.params is not None:
            parser = spec.params(data=request.query_params)
            parser.is_valid(raise_exception=True)
            params = parser.validated_data
        course = self.get_course(course_id)
        now = current_time()
        result = spec.run(course, params, now)
        items = result if spec.many else [result]
        for item in items:
            item["course_id"] = course.key
            item["created"] = now
        self.course = course
        rows = CompiledRows(spec.serializer)
        return Response(rows.many(result) if spec.many else rows.one(result))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(renderer, CSVRenderer) and response.status_code == 200 and hasattr(self, "course"):
            response["Content-Disposition"] = f"attachment; filename={csv_filename(self.course.key, self.spec)}"
        return response


def csv_filename(course_key, spec):
    """Open edX's name: `org-course-run--slug.csv`; other keys with unsafe characters as `_`."""
    key = course_key.split(":", 1)[1] if course_key.startswith(("course-v1:", "ccx-v1:")) else course_key
    parts = re.split(r"[/+]", key)
    stem = "-".join(parts[:3]) if len(parts) >= 3 else key
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return f"{stem}--{spec.csv_slug}.csv"


urlpatterns = [
    path(
        f"api/v0/courses/<edx_course_id:course_id>/{spec.route}/",
        CourseInfoView.as_view(spec=spec),
        name=f"edx_{spec.name}",
    )
    for spec in ENDPOINTS
]
