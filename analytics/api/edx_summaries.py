"""Open edX Analytics Data API v0: course summaries, programs and course reports.

- `GET|POST /api/v0/course_summaries/`: `course_ids`, `fields`, `exclude`, `programs`,
  `recent_date`; GET takes comma-separated values, POST (form-encoded, what
  edx-analytics-data-api-client sends for long id lists, or JSON) one value per repeated key.
- `GET|POST /api/v0/programs/`: `program_ids`, `fields`, `exclude`.
- `GET /api/v0/courses/{course_id}/reports/problem_response/`: the latest ready problem response
  report (made by the export machinery, exports/reports.py) with its signed download link.

Shapes, field order, formats, status codes and error bodies are Open edX's (`APIListView`,
`CourseSummariesView`, `ProgramsView`, `ReportDownloadView`, their serializers and error
middleware). Same credentials and roles as the rest of the family (analytics/api/course_info.py):
instructors see only the courses they teach. Rules and choices: docs/api/course_info.md.
"""

import re
from datetime import datetime

from django.http import HttpResponseBadRequest
from django.http.request import QueryDict
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from analytics.api.course_info import (
    DATETIME_FORMAT,
    CanReadCourseInfo,
    CSVRenderer,
    EdxDateTimeField,
    EdxTokenAuthentication,
    current_time,
    readable_course,
)
from analytics.definitions import course_scope
from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_SCHEMA, detail_response
from config.renderers import BrowsableAPIRenderer, JSONRenderer
from analytics.queries import course_summaries as queries
from config.throttling import family_throttle
from exports import reports
from exports.api import download_url

RECENT_DATE_FORMAT = "%Y-%m-%d"

# ---------------------------------------------------------------------------------------------
# Course keys and Open edX's error bodies

_KEY_PART = r"[\w\-~.:]+"
COURSE_KEY_PATTERNS = (
    re.compile(rf"^{_KEY_PART}/{_KEY_PART}/{_KEY_PART}$"),  # org/course/run (deprecated form)
    re.compile(r"^course-v1:[\w\-~.]+\+[\w\-~.]+\+[\w\-~.]+$"),
    re.compile(r"^ccx-v1:[\w\-~.]+\+[\w\-~.]+\+[\w\-~.]+\+ccx@\d+$"),
    re.compile(r"^[0-9a-f]{24}$"),  # the project's own course ids
)


def is_course_key(key):
    """True for a key Open edX's CourseKey parses (`org/course/run`, `course-v1:org+course+run`,
    `ccx-v1:org+course+run+ccx@N`) and for the project's 24-hex course ids."""
    return any(pattern.match(key) for pattern in COURSE_KEY_PATTERNS)


def filename_safe_course_id(key):
    """Open edX's get_filename_safe_course_id: `org_course_run` for a course key, the key itself
    otherwise, with characters other than letters, digits, `_`, `.` and `-` as `_`."""
    text = key
    if key.startswith(("course-v1:", "ccx-v1:")):
        text = "_".join(key.split(":", 1)[1].split("+")[:3])
    elif key.count("/") == 2:
        text = "_".join(key.split("/"))
    return re.sub(r"[^\w.\-]", "_", text)


class EdxError(Exception):
    """An error answered with Open edX's middleware body: {"error_code", "developer_message"}."""

    def __init__(self, status_code, error_code, message):
        super().__init__(message)
        self.status_code, self.error_code, self.message = status_code, error_code, message

    def response(self):
        return Response({"error_code": self.error_code, "developer_message": self.message}, status=self.status_code)


def course_key_malformed(key):
    return EdxError(status.HTTP_400_BAD_REQUEST, "course_key_malformed", f"Course id/key {key} malformed.")


def check_field_names(params, known):
    """400 when `fields` names no field the rows have. Open edX drops unknown names silently
    (its clients send names some versions lack, so a mix of known and unknown names still
    works), but with only unknown names every row would be `{}`: a typo, answered as one."""
    asked = params["fields"]
    if asked and not any(name in known for name in asked):
        raise EdxError(
            status.HTTP_400_BAD_REQUEST,
            "unknown_fields",
            f"fields: unknown field(s) {', '.join(asked)}; the fields are {', '.join(known)}.",
        )


def report_not_found(course_id, report_name):
    return EdxError(
        status.HTTP_404_NOT_FOUND,
        "report_file_not_found",
        f"Could not find report '{report_name}' for course {course_id}.",
    )


class RecentDateError(ValueError):
    pass


def parse_recent_date(text, now):
    """The UTC day of `recent_date` (YYYY-MM-DD, strictly before today), as Open edX checks it;
    RecentDateError with its message otherwise."""
    try:
        moment = datetime.strptime(text, RECENT_DATE_FORMAT)
    except ValueError as exc:
        raise RecentDateError(str(exc)) from exc
    if (now.replace(tzinfo=None) - moment).days <= 0:
        raise RecentDateError(f'"{moment}" is not in the past')
    return moment.date()


# ---------------------------------------------------------------------------------------------
# Parameters: GET comma-separated, POST one value per key


def _split(value):
    """Open edX's split_query_argument: comma-separated text as a list, None when empty."""
    return value.split(",") if value else None


def list_params(request, names):
    """{name: [values] or None} from the query string (GET, comma-separated) or the body (POST:
    form fields repeated per value, or JSON lists), as APIListView reads them."""
    if request.method == "GET":
        return {name: _split(request.query_params.get(name)) for name in names}
    data = request.data
    params = {}
    for name in names:
        if isinstance(data, QueryDict):
            values = data.getlist(name)
        else:
            values = data.get(name) if isinstance(data, dict) else None
            values = [values] if isinstance(values, (str, int, bool)) else values
        params[name] = [str(value) for value in values] if values else None
    return params


def shaped(item, order, fields, exclude):
    """The item's fields in serializer order, kept by `fields` (None: all) minus `exclude`, as
    Open edX's DynamicFieldsModelSerializer drops them; unknown names are ignored."""
    keep = set(order) if fields is None else set(fields)
    drop = set(exclude or ())
    return {name: item[name] for name in order if name in keep and name not in drop and name in item}


def _edx_time(value):
    return None if value is None else value.strftime(DATETIME_FORMAT)


# ---------------------------------------------------------------------------------------------
# Serializers (OpenAPI; the rows are shaped by `shaped`)


class EdxModeCountsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    cumulative_count = serializers.IntegerField()
    count_change_7_days = serializers.IntegerField()
    passing_users = serializers.IntegerField()


# `fields` and `exclude` choose which keys an answer carries: no key is always present
# (required=False), so the OpenAPI document requires none.
class EdxCourseSummarySerializer(serializers.Serializer):
    created = EdxDateTimeField(required=False, help_text="When the numbers were computed (UTC)")
    course_id = serializers.CharField(required=False)
    catalog_course_title = serializers.CharField(required=False, allow_null=True)
    catalog_course = serializers.CharField(required=False, allow_null=True)
    start_date = EdxDateTimeField(required=False, allow_null=True)
    end_date = EdxDateTimeField(required=False, allow_null=True)
    pacing_type = serializers.CharField(required=False, allow_null=True, help_text="self_paced or instructor_paced")
    availability = serializers.CharField(required=False, help_text="Current, Upcoming, Archived or unknown")
    count = serializers.IntegerField(required=False, help_text="Learners enrolled now")
    cumulative_count = serializers.IntegerField(required=False, help_text="Learners ever enrolled")
    count_change_7_days = serializers.IntegerField(required=False)
    recent_count_change = serializers.IntegerField(
        required=False, allow_null=True, help_text="count minus the count at recent_date"
    )
    passing_users = serializers.IntegerField(required=False)
    enrollment_modes = serializers.DictField(required=False, child=EdxModeCountsSerializer(), help_text="Per mode")
    programs = serializers.ListField(child=serializers.CharField(), required=False, help_text="With `programs`")


class EdxProgramSerializer(serializers.Serializer):
    program_id = serializers.CharField(required=False)
    program_type = serializers.CharField(required=False)
    program_title = serializers.CharField(required=False)
    course_ids = serializers.ListField(required=False, child=serializers.CharField())
    created = serializers.DateTimeField(required=False)


SUMMARY_FIELDS = tuple(EdxCourseSummarySerializer().fields)
PROGRAM_FIELDS = tuple(EdxProgramSerializer().fields)
EDX_ERROR = inline_serializer(
    "EdxError", {"error_code": serializers.CharField(), "developer_message": serializers.CharField()}
)
EDX_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "developer_message": {"type": "string"}},
    "required": ["error_code", "developer_message"],
}
# Open edX's own 400s, or DRF's `{"detail"}` for a body it cannot parse (POST).
BAD_REQUEST = OpenApiResponse(
    {"oneOf": [EDX_ERROR_SCHEMA, DETAIL_SCHEMA]},
    description="A malformed course key (course_key_malformed), `fields` naming no known field (unknown_fields), "
    'a body that cannot be parsed ({"detail"}); a bad recent_date answers text/html `Error in recent_date: ...`',
)
NOT_FOUND = detail_response("Nothing matches: no rows (Open edX answers an empty list with 404)")


def _list_parameters(ids_name, ids_help):
    comma = "Comma-separated (GET); POST: one form field per value"
    return [
        OpenApiParameter(ids_name, OpenApiTypes.STR, description=f"{ids_help}. {comma}. Default: all"),
        OpenApiParameter("fields", OpenApiTypes.STR, description=f"Fields to return. {comma}"),
        OpenApiParameter("exclude", OpenApiTypes.STR, description=f"Fields to leave out. {comma}"),
    ]


SUMMARY_PARAMETERS = [
    *_list_parameters("course_ids", "Course keys"),
    OpenApiParameter("programs", OpenApiTypes.STR, description="Any value: add each course's program ids"),
    OpenApiParameter("recent_date", OpenApiTypes.DATE, description="YYYY-MM-DD before today: recent_count_change"),
]


# ---------------------------------------------------------------------------------------------
# Views


class EdxListView(APIView):
    """Open edX's APIListView: GET and POST answer alike; an empty result is 404."""

    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, EdxTokenAuthentication]
    permission_classes = [CanReadCourseInfo]
    throttle_classes = [family_throttle("course-info")]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def handle_exception(self, exc):
        if isinstance(exc, EdxError):
            return exc.response()
        return super().handle_exception(exc)

    def get(self, request):
        return self.answer(request)

    def post(self, request):
        return self.answer(request)


class CourseSummariesView(EdxListView):
    """Summaries of the workspace's courses (an instructor: the courses they teach)."""

    @extend_schema(
        operation_id="edx_course_summaries",
        summary="Enrollment counts and catalog facts per course",
        tags=["Open edX course information (v0)"],
        parameters=SUMMARY_PARAMETERS,
        responses={
            200: EdxCourseSummarySerializer(many=True),
            400: BAD_REQUEST,
            **AUTH_ERROR_RESPONSES,
            404: NOT_FOUND,
        },
    )
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        operation_id="edx_course_summaries_post",
        summary="The same, parameters in the body (long id lists)",
        tags=["Open edX course information (v0)"],
        request=inline_serializer(
            "EdxCourseSummariesQuery",
            {
                name: serializers.ListField(child=serializers.CharField(), required=False)
                for name in ("course_ids", "fields", "exclude", "programs", "recent_date")
            },
        ),
        responses={
            200: EdxCourseSummarySerializer(many=True),
            400: BAD_REQUEST,
            **AUTH_ERROR_RESPONSES,
            404: NOT_FOUND,
        },
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        params = list_params(request, ("course_ids", "fields", "exclude", "programs", "recent_date"))
        check_field_names(params, SUMMARY_FIELDS)
        now = current_time()
        exclude = [] if params["programs"] else ["programs"]
        recent_day = None
        if params["recent_date"]:
            try:
                recent_day = parse_recent_date(
                    params["recent_date"][0] if request.method == "POST" else request.query_params.get("recent_date"),
                    now,
                )
            except RecentDateError as exc:
                return HttpResponseBadRequest(f"Error in recent_date: {exc}\n")
        exclude += params["exclude"] or []
        fields = params["fields"]
        course_keys = params["course_ids"]
        for key in course_keys or ():
            if not is_course_key(key):
                raise course_key_malformed(key)
        wanted = lambda name: name not in exclude and (fields is None or name in fields)  # noqa: E731
        summaries = queries.course_summaries(
            request.auth.workspace,
            now,
            course_keys=course_keys,
            course_ids=course_scope(request.auth),
            recent_day=recent_day if wanted("recent_count_change") else None,
            with_programs=wanted("programs"),
        )
        if not summaries:
            raise exceptions.NotFound()
        rows = []
        created = _edx_time(now)
        for summary in summaries:
            summary["created"] = created
            summary["start_date"] = _edx_time(summary["start_date"])
            summary["end_date"] = _edx_time(summary["end_date"])
            for counts in summary["enrollment_modes"].values():
                for name in exclude:
                    counts.pop(name, None)
            rows.append(shaped(summary, SUMMARY_FIELDS, fields, exclude))
        return Response(rows)


class ProgramsView(EdxListView):
    """The workspace's programs (an instructor: those holding a course they teach)."""

    @extend_schema(
        operation_id="edx_programs",
        summary="Programs with their courses",
        tags=["Open edX course information (v0)"],
        parameters=_list_parameters("program_ids", "Program ids"),
        responses={200: EdxProgramSerializer(many=True), 400: BAD_REQUEST, **AUTH_ERROR_RESPONSES, 404: NOT_FOUND},
    )
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        operation_id="edx_programs_post",
        summary="The same, parameters in the body",
        tags=["Open edX course information (v0)"],
        request=inline_serializer(
            "EdxProgramsQuery",
            {
                name: serializers.ListField(child=serializers.CharField(), required=False)
                for name in ("program_ids", "fields", "exclude")
            },
        ),
        responses={200: EdxProgramSerializer(many=True), 400: BAD_REQUEST, **AUTH_ERROR_RESPONSES, 404: NOT_FOUND},
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        params = list_params(request, ("program_ids", "fields", "exclude"))
        check_field_names(params, PROGRAM_FIELDS)
        programs = queries.edx_programs(
            request.auth.workspace, program_keys=params["program_ids"], course_ids=course_scope(request.auth)
        )
        if not programs:
            raise exceptions.NotFound()
        created = serializers.DateTimeField()
        rows = []
        for program in programs:
            program["created"] = created.to_representation(program["created"])
            rows.append(shaped(program, PROGRAM_FIELDS, params["fields"], params["exclude"]))
        return Response(rows)


class EdxReportSerializer(serializers.Serializer):
    course_id = serializers.CharField(help_text="Open edX's file-name-safe course id (`org_course_run`)")
    report_name = serializers.CharField()
    download_url = serializers.URLField(help_text="Signed link; no credential needed until expiration_date")
    last_modified = EdxDateTimeField(help_text="When the report was made")
    expiration_date = EdxDateTimeField(help_text="When the link and the file expire")
    file_size = serializers.IntegerField(help_text="Bytes")


class CourseReportView(APIView):
    """Open edX's ReportDownloadView: the course's latest ready report and its download link;
    404 report_file_not_found while none is ready (a new one is queued: exports/reports.py)."""

    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, EdxTokenAuthentication]
    permission_classes = [CanReadCourseInfo]
    throttle_classes = [family_throttle("course-info")]

    def handle_exception(self, exc):
        if isinstance(exc, EdxError):
            return exc.response()
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="edx_course_report",
        summary="The latest problem response report of the course",
        tags=["Open edX course information (v0)"],
        responses={
            200: EdxReportSerializer,
            **AUTH_ERROR_RESPONSES,
            404: OpenApiResponse(EDX_ERROR, description="No ready report (report_file_not_found); one is queued"),
        },
    )
    def get(self, request, course_id, report_name):
        if report_name not in reports.REPORT_SOURCES:
            raise report_not_found(course_id, report_name)
        safe_id = filename_safe_course_id(course_id)
        course = readable_course(request.auth, course_id)
        if course is None:
            raise report_not_found(safe_id, report_name)
        job = reports.course_report(request.auth, course, report_name, now=current_time())
        if job is None:
            raise report_not_found(safe_id, report_name)
        return Response(
            {
                "course_id": safe_id,
                "report_name": report_name,
                "download_url": download_url(job, request),
                "last_modified": _edx_time(job.finished_at),
                "expiration_date": _edx_time(job.expires_at),
                "file_size": job.file_size,
            }
        )


urlpatterns = [
    path("api/v0/course_summaries/", CourseSummariesView.as_view(), name="edx_course_summaries"),
    path("api/v0/programs/", ProgramsView.as_view(), name="edx_programs"),
    path(
        "api/v0/courses/<edx_course_id:course_id>/reports/<str:report_name>/",
        CourseReportView.as_view(),
        name="edx_course_report",
    ),
]
