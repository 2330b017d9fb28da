"""Two workspaces that overlap everywhere they can, for the tenant-isolation matrix.

Workspace A (`alpha`) is the one whose credentials the matrix uses; workspace B (`bravo`) holds
the same course key, video key, group name and custom field name, and the same person
(`sam@shared.test`, a member of both, whose B membership is the older one so that a credential
that forgot its workspace would land in B). Every string and id that exists only in B is a
*marker*: no answer to an A credential may contain one. A's second learner (`olga@alpha.test`)
has markers too: a learner's answers may not contain them.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import ApiKey, CustomField, CustomFieldValue, LearnerGroup, Role
from analytics.models import ProblemResponse, RequestMetric, SubsectionOpen
from analytics.services.problem_rollups import record_problem_responses, record_subsection_opens
from courses.models import EnrollmentKind, Program
from exports.models import ExportFormat, ExportJob, ExportStatus
from exports.services import download_token
from tests.factories import (
    AttemptFactory,
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    MembershipFactory,
    PageSessionFactory,
    UserFactory,
    VideoFactory,
    VideoReactionFactory,
    VideoViewFactory,
    WorkspaceFactory,
)

SHARED_COURSE = "course-v1:Org+SHARED+2026"
A_ONLY_COURSE = "course-v1:Org+ALPHAONLY+2026"
B_ONLY_COURSE = "course-v1:Org+ONLYB+2026"
SHARED_VIDEO = "vid-shared"
B_ONLY_VIDEO = "vid-only-b"
SHARED_GROUP = "Sales"
SHARED_FIELD = "Department"
SHARED_EMAIL = "sam@shared.test"
SHARED_PROGRAM = "program-shared"
B_ONLY_PROGRAM = "program-only-b"
SHARED_PROBLEM = "block-v1:Org+SHARED+2026+type@problem+block@shared"
B_ONLY_PROBLEM = "block-v1:Org+ONLYB+2026+type@problem+block@onlyb"
SHARED_SUBSECTION = "block-v1:Org+SHARED+2026+type@sequential+block@shared"
B_ONLY_SUBSECTION = "block-v1:Org+ONLYB+2026+type@sequential+block@onlyb"
B_MARK = "bravomark"  # in every B title, page, object and value
A_OTHER_MARK = "olgamark"  # in everything of A's second learner


@dataclass
class Tenant:
    workspace: object
    courses: dict = field(default_factory=dict)
    videos: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    group: object = None
    custom_field: object = None
    markers: set = field(default_factory=set)
    export: object = None
    export_token: str = ""
    statement_ids: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    other_learner_markers: set = field(default_factory=set)
    export_other: object = None
    staff_exports: list = field(default_factory=list)
    report: object = None


def _activity(tenant, user, course, video, mark, when, n):
    """n page sessions, n events, n video views, one reaction, an enrollment and an attempt."""
    ws = tenant.workspace
    ids = set()
    EnrollmentFactory(workspace=ws, course=course, user=user, kind=EnrollmentKind.MANDATORY)
    attempt = AttemptFactory(workspace=ws, course=course, user=user, progress=40, score=70, time_spent_s=600)
    ids.add(attempt.public_id)
    for i in range(n):
        ids.add(
            str(
                PageSessionFactory(
                    workspace=ws,
                    user=user,
                    page=f"{mark} page",
                    path=f"/player/{course.key}",
                    course=course,
                    course_key=course.key,
                    started_at=when - timedelta(hours=i),
                    duration_s=120,
                ).id
            )
        )
        ids.add(
            str(
                LearningEventFactory(
                    workspace=ws,
                    course=course,
                    user=user,
                    type="played_video",
                    object=f"{mark}-object",
                    occurred_at=when - timedelta(hours=i),
                    data={"note": f"{mark}-data"},
                ).id
            )
        )
        ids.add(
            str(
                VideoViewFactory(
                    workspace=ws,
                    video=video,
                    course=course,
                    user=user,
                    started_at=when - timedelta(hours=i),
                    watched_s=100,
                    position_s=100,
                    segments=[0, 1, 2],
                    watched_first_segment=True,
                ).id
            )
        )
    VideoReactionFactory(workspace=ws, video=video, user=user, type="like", at=when)
    return ids


def _problems(tenant, learners, course, problem, subsection, mark, when):
    """Each learner's answer (text with `mark`) and grade to `problem`, and an open of `subsection`."""
    ws = tenant.workspace
    record_problem_responses(
        ws.id,
        [
            ProblemResponse(
                workspace=ws,
                user=user,
                course=course,
                problem_key=problem,
                part_id="part_2_1",
                answer=f"{mark} answer",
                value_id="choice_1",
                correct=True,
                grade=1.0,
                max_grade=1.0,
                submitted_at=when,
                question=f"{mark} question",
                problem_name=f"{mark} problem",
            )
            for user in learners
        ],
    )
    record_subsection_opens(
        ws.id,
        [
            SubsectionOpen(workspace=ws, user=user, course=course, subsection_key=subsection, opened_at=when)
            for user in learners
        ],
    )


def _export(tenant, credential_user, api_key, export_type, mark):
    """A completed export job with its file on disk (as the worker leaves it)."""
    now = timezone.now()
    job = ExportJob.objects.create(
        workspace=tenant.workspace,
        requested_by=credential_user,
        requested_by_key=api_key,
        requester_role=Role.ADMIN,
        type=export_type,
        period="30d",
        format=ExportFormat.CSV,
        status=ExportStatus.COMPLETED,
        row_count=1,
        rows_expected=1,
        started_at=now,
        finished_at=now,
        expires_at=now + timedelta(hours=24),
    )
    job.file_name = default_storage.save(f"exports/{job.public_id}.csv", _content(f"id,page\n1,{mark} page\n"))
    job.save(update_fields=["file_name"])
    return job


def _content(text):
    from django.core.files.base import ContentFile

    return ContentFile(text.encode())


def _tenant(slug, mark, title_prefix):
    ws = WorkspaceFactory(slug=slug, name=f"{title_prefix} workspace")
    tenant = Tenant(workspace=ws)
    tenant.courses["shared"] = CourseFactory(workspace=ws, key=SHARED_COURSE, title=f"{title_prefix} shared course")
    tenant.videos["shared"] = VideoFactory(
        workspace=ws, course=tenant.courses["shared"], key=SHARED_VIDEO, title=f"{title_prefix} shared video"
    )
    tenant.group = LearnerGroup.objects.create(workspace=ws, name=SHARED_GROUP)
    tenant.custom_field = CustomField.objects.create(workspace=ws, name=SHARED_FIELD)
    tenant.markers |= {tenant.group.public_id, tenant.custom_field.public_id}
    return tenant


def build_world(now=None):
    """(A, B): the two tenants with every kind of data; A.users has learner, other, instructor, admin."""
    now = now or timezone.now()
    when = now - timedelta(days=1)

    b = _tenant("bravo", B_MARK, f"{B_MARK.title()}")
    a = _tenant("alpha", "alpha", "Alpha")
    b.courses["only"] = CourseFactory(workspace=b.workspace, key=B_ONLY_COURSE, title=f"{B_MARK} only course")
    b.videos["only"] = VideoFactory(
        workspace=b.workspace, course=b.courses["only"], key=B_ONLY_VIDEO, title=f"{B_MARK} only video"
    )
    a.courses["only"] = CourseFactory(workspace=a.workspace, key=A_ONLY_COURSE, title="Alpha only course")

    # The same person in both workspaces; B first, so that "the user's first workspace" is B.
    shared = UserFactory(email=SHARED_EMAIL, first_name="Sam", last_name="Shared")
    MembershipFactory(user=shared, workspace=b.workspace, role=Role.LEARNER, joined_at=now - timedelta(days=30))
    MembershipFactory(user=shared, workspace=a.workspace, role=Role.LEARNER, joined_at=now - timedelta(days=20))

    def member(tenant, email, role, first, last="Member"):
        user = UserFactory(email=email, first_name=first, last_name=last)
        MembershipFactory(user=user, workspace=tenant.workspace, role=role)
        return user

    a.users = {
        "learner": shared,
        "other": member(a, "olga@alpha.test", Role.LEARNER, A_OTHER_MARK.title(), "Otherlearner"),
        "instructor": member(a, "ivan@alpha.test", Role.INSTRUCTOR, "Ivan", "Teacher"),
        "admin": member(a, "ada@alpha.test", Role.ADMIN, "Ada", "Admin"),
    }
    # Same local parts as A's people, in B; and B-only people.
    b.users = {
        "learner": shared,
        "other": member(b, "olga@bravo.test", Role.LEARNER, f"{B_MARK.title()}olga"),
        "only": member(b, "zed@bravo.test", Role.LEARNER, f"{B_MARK.title()}zed"),
        "instructor": member(b, "ivan@bravo.test", Role.INSTRUCTOR, f"{B_MARK.title()}ivan"),
        "admin": member(b, "ada@bravo.test", Role.ADMIN, f"{B_MARK.title()}ada"),
    }
    for user in (b.users["other"], b.users["only"], b.users["instructor"], b.users["admin"]):
        b.markers |= {user.email, user.public_id}
    a.courses["shared"].instructors.add(a.users["instructor"])
    b.courses["shared"].instructors.add(b.users["instructor"])

    # Groups and custom fields with the same names, different members and values.
    a.group.members.add(shared, a.users["other"])
    b.group.members.add(shared, b.users["only"])
    CustomFieldValue.objects.create(field=a.custom_field, user=a.users["other"], value="Engineering")
    CustomFieldValue.objects.create(field=b.custom_field, user=b.users["only"], value=f"{B_MARK}-dept")
    CustomFieldValue.objects.create(field=b.custom_field, user=shared, value=f"{B_MARK}-shared-dept")

    # Activity: A 2 items per learner, B 5 (so that a sum across workspaces shows in the counts).
    a_other_ids = _activity(a, a.users["other"], a.courses["shared"], a.videos["shared"], A_OTHER_MARK, when, 2)
    _activity(a, shared, a.courses["shared"], a.videos["shared"], "alpha", when, 2)
    b.markers |= _activity(b, shared, b.courses["shared"], b.videos["shared"], B_MARK, when, 5)
    b.markers |= _activity(b, b.users["only"], b.courses["shared"], b.videos["shared"], B_MARK, when, 5)
    b.markers |= _activity(b, b.users["other"], b.courses["only"], b.videos["only"], B_MARK, when, 5)
    a.other_learner_markers = {A_OTHER_MARK, a.users["other"].email, a.users["other"].public_id} | a_other_ids
    # Problem answers and subsection opens under the same keys: A 2 learners, B 3 (and a B-only problem).
    _problems(a, [shared, a.users["other"]], a.courses["shared"], SHARED_PROBLEM, SHARED_SUBSECTION, "alpha", when)
    _problems(
        b,
        [shared, b.users["only"], b.users["other"]],
        b.courses["shared"],
        SHARED_PROBLEM,
        SHARED_SUBSECTION,
        B_MARK,
        when,
    )
    _problems(b, [b.users["other"]], b.courses["only"], B_ONLY_PROBLEM, B_ONLY_SUBSECTION, B_MARK, when)
    a.counts = {
        "problem_learners_shared": 2,
        "page_sessions": 4,
        "video_views_shared": 4,
        "enrollments_shared": 2,
        "attempts": 2,
        "videos": 1,
        "requests": 3,
    }

    # Request metrics: A 3, B 7 (B's all errors, so a leak shows in the error rate too).
    # Five minutes back: inside the 24h period the test reads whatever the minute of the hour.
    for _ in range(3):
        RequestMetric.objects.create(
            workspace=a.workspace,
            at=now - timedelta(minutes=5),
            method="GET",
            endpoint="/analytics/users",
            status=200,
            latency_ms=10,
        )
    for _ in range(7):
        RequestMetric.objects.create(
            workspace=b.workspace,
            at=now - timedelta(minutes=5),
            method="GET",
            endpoint="/analytics/users",
            status=500,
            latency_ms=9000,
        )

    # Export jobs with files: B's by its admin and by the shared person (in B), A's by A's admin.
    b_key, _ = ApiKey.issue(b.workspace, Role.ADMIN, name=f"{B_MARK} key")
    b.markers.add(b_key.prefix)
    b.export = _export(b, shared, None, "page_sessions", B_MARK)
    b.export_token = download_token(b.export)
    b_admin_export = _export(b, b.users["admin"], None, "events", B_MARK)
    b_key_export = _export(b, None, b_key, "events", B_MARK)
    b.markers |= {b.export.public_id, b_admin_export.public_id, b_key_export.public_id}
    a.export = _export(a, shared, None, "page_sessions", "alpha")
    a.export_token = download_token(a.export)
    a.export_other = _export(a, a.users["other"], None, "page_sessions", A_OTHER_MARK)
    a.staff_exports = [_export(a, a.users[role], None, "events", "alpha") for role in ("instructor", "admin")]
    a.other_learner_markers.add(a.export_other.public_id)

    # Open edX course summaries, programs and course reports: catalog titles, a program under the
    # same key in both workspaces (B's also holding B's only course), and a ready problem
    # response report of the shared course in each (B's file, id and link are B's markers).
    b.courses["only"].catalog_title = f"{B_MARK} only catalog"
    b.courses["only"].save(update_fields=["catalog_title"])
    for tenant, mark in ((a, "Alpha"), (b, B_MARK)):
        course = tenant.courses["shared"]
        course.catalog_title = f"{mark} catalog"
        course.save(update_fields=["catalog_title"])
        program = Program.objects.create(
            workspace=tenant.workspace, key=SHARED_PROGRAM, title=f"{mark} program", program_type=f"{mark} type"
        )
        program.courses.add(course)
        tenant.report = _course_report(tenant, course, mark)
    b_program = Program.objects.create(workspace=b.workspace, key=B_ONLY_PROGRAM, title=f"{B_MARK} only program")
    b_program.courses.add(b.courses["only"], b.courses["shared"])
    b.markers |= {B_ONLY_PROGRAM, b.report.public_id, download_token(b.report)}
    return a, b


def _course_report(tenant, course, mark):
    """A ready problem response report of the course (as exports/reports.py finds them)."""
    now = timezone.now()
    job = ExportJob.objects.create(
        workspace=tenant.workspace,
        requester_role=Role.ADMIN,
        type="problem_response",
        period="all",
        format=ExportFormat.CSV,
        filters={"course_id": course.key},
        status=ExportStatus.COMPLETED,
        row_count=1,
        rows_expected=1,
        started_at=now,
        finished_at=now,
        expires_at=now + timedelta(hours=24),
    )
    job.file_name = default_storage.save(
        f"exports/{job.public_id}.csv", _content(f"course_id,answer\n{course.key},{mark}\n")
    )
    job.file_size = default_storage.size(job.file_name)
    job.save(update_fields=["file_name", "file_size"])
    return job


def xapi_statement(mark, email, verb="http://adlnet.gov/expapi/verbs/experienced"):
    statement_id = str(uuid.uuid4())
    return statement_id, {
        "id": statement_id,
        "actor": {"mbox": f"mailto:{email}", "name": f"{mark} actor"},
        "verb": {"id": verb, "display": {"en-US": "experienced"}},
        "object": {"id": f"http://{mark}.example.com/activity", "definition": {"name": {"en-US": f"{mark} activity"}}},
    }
