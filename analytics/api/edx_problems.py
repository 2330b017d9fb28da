"""Open edX Analytics Data API v0: problems, answer / grade / subsection-open distributions and
the video timeline.

- `/api/v0/courses/{course_id}/problems/`, `/api/v0/courses/{course_id}/problems_and_tags/`
- `/api/v0/problems/{module_id}/answer_distribution/`, `.../grade_distribution/`,
  `.../sequential_open_distribution/`
- `/api/v0/videos/{pipeline_video_id}/timeline/`

Paths, field names and order, formats and status codes as Open edX's `analytics_data_api.v0`
(views/courses.py ProblemsListView / ProblemsAndTagsListView, views/problems.py, views/videos.py,
serializers.py): plain JSON lists, `created` as `YYYY-mm-ddTHHMMSS`, and an empty answer is
Open edX's 404 `{"detail": "Not found."}` (its `raise_404_if_none`). Credentials, roles, CSV and
rate limits are the course information family's (analytics.api.course_info), whose view this
module's view extends. Every number comes from analytics.queries.problems. Rules and choices:
docs/api/course_info.md ("Problems, answer and grade distributions, subsection opens, video
timeline").
"""

from dataclasses import dataclass

from django.urls import path, register_converter
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from analytics.api import course_info
from analytics.definitions import course_scope
from config.error_schemas import AUTH_ERROR_RESPONSES, DETAIL_OR_FIELD_ERRORS_SCHEMA, detail_response
from analytics.queries import problems as queries
from analytics.queries.course_info import encoded_module_id
from courses.models import Video


class ModuleIdConverter:
    """Any text, slashes and control characters included (Django's `path` stops at a newline,
    which would answer its HTML 404 instead of Open edX's): the view decides what is unknown."""

    regex = r"[\s\S]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ModuleIdConverter, "edx_module_id")

# The longest usage key the raw rows hold (ProblemResponse.problem_key, SubsectionOpen.subsection_key).
MAX_MODULE_ID_LENGTH = 500


# ---------------------------------------------------------------------------------------------
# Serializers: Open edX's fields, in its order


def _created():
    return course_info.EdxDateTimeField(help_text="When the numbers were computed (UTC): they are computed live")


class EdxProblemSerializer(serializers.Serializer):
    module_id = serializers.CharField(help_text="The problem's usage key")
    total_submissions = serializers.IntegerField(
        help_text="Final answers counted over the problem's parts, divided by its number of parts (integer part)"
    )
    correct_submissions = serializers.IntegerField(help_text="The same over the final answers that were correct")
    part_ids = serializers.ListField(child=serializers.CharField(), help_text="The problem's parts, sorted")
    created = _created()


class EdxProblemAndTagsSerializer(serializers.Serializer):
    module_id = serializers.CharField(help_text="The problem's usage key")
    total_submissions = serializers.IntegerField()
    correct_submissions = serializers.IntegerField()
    tags = serializers.DictField(
        child=serializers.CharField(), help_text="Tag name: value. No tags are stored here: always {}"
    )
    created = _created()


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True})
class VariantField(serializers.ReadOnlyField):
    """The random seed of a randomized problem: an integer (text when the source gave text), or null."""


@extend_schema_field({"type": "number"})
class GradeField(serializers.ReadOnlyField):
    """Points: an integer when whole (Open edX's columns are integers), else a decimal."""


class EdxAnswerDistributionSerializer(serializers.Serializer):
    course_id = serializers.CharField()
    module_id = serializers.CharField()
    part_id = serializers.CharField()
    correct = serializers.BooleanField(allow_null=True, help_text="null: the answer was not graded")
    count = serializers.IntegerField(help_text="Learners whose last submission of the part gave this answer")
    value_id = serializers.CharField(allow_null=True)
    answer_value = serializers.CharField(help_text="The answer; a list (checkboxes) as `[a|b]`")
    problem_display_name = serializers.CharField(allow_null=True)
    question_text = serializers.CharField(allow_null=True)
    variant = VariantField()
    created = _created()
    consolidated_variant = serializers.BooleanField(
        help_text="true: the counts of this answer under several variants were summed (variant null)"
    )


class EdxGradeDistributionSerializer(serializers.Serializer):
    module_id = serializers.CharField()
    course_id = serializers.CharField()
    grade = GradeField()
    max_grade = GradeField()
    count = serializers.IntegerField(help_text="Learners whose last graded submission scored this grade")
    created = _created()


class EdxSequentialOpenDistributionSerializer(serializers.Serializer):
    module_id = serializers.CharField(help_text="The subsection's (sequential's) usage key")
    course_id = serializers.CharField()
    count = serializers.IntegerField(help_text="Distinct learners who opened the subsection")
    created = _created()


class EdxVideoTimelineSerializer(serializers.Serializer):
    segment = serializers.IntegerField(help_text="Index of the segment, from 0")
    num_users = serializers.IntegerField(help_text="Distinct learners who watched the segment")
    num_views = serializers.IntegerField(help_text="Views that watched the segment")
    created = _created()


# ---------------------------------------------------------------------------------------------
# What each endpoint runs


def _checked_module_id(module_id):
    """A usage key as the path gave it; one the rows cannot hold (too long, control characters)
    is simply unknown (404), as Open edX answers any key it has no rows for."""
    if len(module_id) > MAX_MODULE_ID_LENGTH or any(ord(char) < 32 for char in module_id):
        raise exceptions.NotFound()
    return module_id


def _course_problems(view, kwargs):
    view.course = view.get_course(kwargs["course_id"])
    return queries.course_problems(view.course)


def _course_problems_and_tags(view, kwargs):
    return [{**row, "tags": {}} for row in _course_problems(view, kwargs)]


def _module_rows(query):
    """Rows of one problem or subsection of the credential's workspace: an admin's from every
    course, an instructor's from the courses they teach (403 when the module is only in others)."""

    def run(view, kwargs):
        module_id = _checked_module_id(kwargs["module_id"])
        credential = view.request.auth
        workspace_id = credential.workspace.pk
        course_ids = view.taught_course_ids()
        rows = query(workspace_id, module_id, course_ids=course_ids)
        if not rows and course_ids is not None and query(workspace_id, module_id):
            raise exceptions.PermissionDenied("Instructors may only read the courses they teach.")
        return rows

    return run


def _video_timeline(view, kwargs):
    """The timeline of the video named `{course_id}|{encoded_module_id}` (what `videos/` lists)."""
    course_key, separator, encoded = kwargs["video_id"].rpartition("|")
    if not separator or not course_key or not encoded or any(ord(char) < 32 for char in kwargs["video_id"]):
        raise exceptions.NotFound()
    course = view.get_course(course_key)
    # The encoded id keeps the key's last run of letters, digits and `_` at its end: narrow on it,
    # then compare the encoding itself.
    tail = encoded.rsplit("-", 1)[-1]
    candidates = Video.objects.filter(course=course, key__endswith=tail).order_by("key")
    video = next((video for video in candidates if encoded_module_id(video.key) == encoded), None)
    if video is None:
        raise exceptions.NotFound()
    rows = queries.video_timeline(video)
    if not any(row["num_views"] for row in rows):
        return []  # nobody watched it: Open edX has no timeline rows, so 404
    return rows


@dataclass(frozen=True)
class ProblemEndpoint:
    route: str  # below /api/v0/
    name: str
    run: object  # (view, url kwargs) -> rows
    serializer: type
    summary: str
    not_found: str
    csv_slug: str = ""  # Content-Disposition file name part (course endpoints only, as Open edX)
    many: bool = True
    params: object = None


ENDPOINTS = (
    ProblemEndpoint(
        "courses/<edx_course_id:course_id>/problems/",
        "course_problems",
        _course_problems,
        EdxProblemSerializer,
        "Problems of the course with their submissions and parts",
        "No course with this key in the workspace, or no problem answered in it",
        csv_slug="problems",
    ),
    ProblemEndpoint(
        "courses/<edx_course_id:course_id>/problems_and_tags/",
        "course_problems_and_tags",
        _course_problems_and_tags,
        EdxProblemAndTagsSerializer,
        "Problems of the course with their submissions and tags (no tags stored: {})",
        "No course with this key in the workspace, or no problem answered in it",
        csv_slug="problems_and_tags",
    ),
    ProblemEndpoint(
        "problems/<edx_module_id:module_id>/answer_distribution/",
        "problem_answer_distribution",
        _module_rows(queries.problem_answer_distribution),
        EdxAnswerDistributionSerializer,
        "Learners per final answer of each part of a problem",
        "No answer to this problem in the workspace",
    ),
    ProblemEndpoint(
        "problems/<edx_module_id:module_id>/grade_distribution/",
        "problem_grade_distribution",
        _module_rows(queries.problem_grade_distribution),
        EdxGradeDistributionSerializer,
        "Learners per final grade of a problem",
        "No graded answer to this problem in the workspace",
    ),
    ProblemEndpoint(
        "problems/<edx_module_id:module_id>/sequential_open_distribution/",
        "sequential_open_distribution",
        _module_rows(queries.sequential_open_distribution),
        EdxSequentialOpenDistributionSerializer,
        "Learners who opened a subsection",
        "Nobody opened this subsection in the workspace",
    ),
    ProblemEndpoint(
        "videos/<edx_module_id:video_id>/timeline/",
        "video_timeline",
        _video_timeline,
        EdxVideoTimelineSerializer,
        "Views and learners per segment of a video",
        "No such video (`{course_id}|{encoded_module_id}`) in the workspace, or nobody watched it",
    ),
)


# ---------------------------------------------------------------------------------------------
# The view


class ProblemsSchema(AutoSchema):
    """OpenAPI for EdxProblemsView: everything comes from the view's endpoint spec."""

    def get_operation_id(self):
        return self.view.spec.name

    def get_summary(self):
        return self.view.spec.summary

    def get_tags(self):
        return ["Open edX problems and video timeline (v0)"]

    def get_request_serializer(self):
        return None

    def get_response_serializers(self):
        spec = self.view.spec
        return {
            200: spec.serializer(many=True),
            400: OpenApiResponse(DETAIL_OR_FIELD_ERRORS_SCHEMA, description="A malformed request"),
            **AUTH_ERROR_RESPONSES,
            404: detail_response(f'{spec.not_found}: `{{"detail": "Not found."}}`'),
        }


class EdxProblemsView(course_info.CourseInfoView):
    """GET one problem or video timeline endpoint (`spec`, a ProblemEndpoint). Credentials, roles,
    rate limit, renderers (CSV included) and the course lookup are CourseInfoView's."""

    schema = ProblemsSchema()

    def taught_course_ids(self):
        """None for an admin (every course of the workspace); the ids of the courses an
        instructor teaches (none for an instructor API key, which has no person)."""
        courses = course_scope(self.request.auth)
        return None if courses is None else list(courses.values_list("pk", flat=True))

    def get(self, request, **kwargs):
        rows = self.spec.run(self, kwargs)
        if not rows:
            raise exceptions.NotFound()  # Open edX's raise_404_if_none
        now = course_info.current_time()
        for row in rows:
            row["created"] = now
        return Response(self.spec.serializer(rows, many=True).data)


urlpatterns = [
    path(f"api/v0/{spec.route}", EdxProblemsView.as_view(spec=spec), name=f"edx_{spec.name}") for spec in ENDPOINTS
]
