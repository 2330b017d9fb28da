"""Open edX course summaries, programs and the problem response report (/api/v0/...): exact
numbers on a small hand-built world, Open edX's shapes, orders, formats and error bodies.

The clock is frozen at 2025-03-07 15:00 UTC (a Friday): today is 03-07, seven days before is 02-28.

Course `edX/DemoX/Demo_Course` (start 2025-01-01, end 2025-06-01: Current):

    learner  mode                enrolled        unenrolled     latest attempt
    A        honor               02-20           -              APPROVED
    B        verified            02-25           03-05          APPROVED
    C        audit               03-03           -              FAILED
    D        no-id-professional  03-04           -              v0 APPROVED, v1 IN_PROGRESS
    E        professional        02-27 23:00     02-28 12:00    -
    F        -                   (no enrollment)                APPROVED

End of 02-28: A B enrolled = 2 (honor 1, verified 1); ever: A B E = 3.
Now (end of 03-07 so far): A C D = 3 (honor 1, audit 1, professional 1: D's no-id-professional
merged); ever: A B C D E = 5 (professional 2: D and E).
count_change_7_days = 3 - 2 = 1 (honor 0, verified -1, audit +1, professional +1).
passing_users: A (honor) and B (verified: passed, then left) = 2; D's latest attempt is v1, not
passed; F has no enrollment, so no mode to count under.
End of 03-02: A B = 2; end of 03-03: A B C = 3.
"""

import csv
import io
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from accounts.models import Role
from analytics.api import course_info as course_info_api
from analytics.api import edx_summaries
from analytics.models import ProblemResponse
from analytics.queries import course_summaries as queries
from analytics.services.course_info_rollups import refresh_course_info_rollups
from analytics.services.problem_rollups import record_problem_responses
from courses.models import AttemptState, Course, CoursePacing, Enrollment, Program
from exports.models import ExportJob, ExportStatus
from exports.reports import course_report_jobs
from tests.factories import AttemptFactory, CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY = "edX/DemoX/Demo_Course"
SECOND = "course-v1:edX+Second+2025"
OLD = "course-v1:edX+Old+2024"
UNDATED = "course-v1:edX+Undated+2025"
P1 = "482dee71-e4b9-4b42-a47b-3e16bb69e8f2"
P2 = "71c14f59-35d5-41f2-a017-e108d2d9f127"
NOW = datetime(2025, 3, 7, 15, 0, tzinfo=timezone.utc)
CREATED = "2025-03-07T150000"
MODES = ("audit", "honor", "verified", "professional", "credit", "masters", "executive-education")
SUMMARY_ORDER = [
    "created",
    "course_id",
    "catalog_course_title",
    "catalog_course",
    "start_date",
    "end_date",
    "pacing_type",
    "availability",
    "count",
    "cumulative_count",
    "count_change_7_days",
    "recent_count_change",
    "passing_users",
    "enrollment_modes",
]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(course_info_api, "current_time", lambda: NOW)
    monkeypatch.setattr(edx_summaries, "current_time", lambda: NOW)


def at(month, day, hour=0):
    return datetime(2025, month, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def course(workspace):
    return CourseFactory(
        workspace=workspace,
        key=KEY,
        title="Demo",
        start=at(1, 1),
        end=at(6, 1),
        pacing=CoursePacing.INSTRUCTOR_PACED,
        catalog_course="edX+DemoX",
        catalog_title="Demo X",
    )


@pytest.fixture
def other_courses(workspace):
    return {
        SECOND: CourseFactory(
            workspace=workspace, key=SECOND, title="Second run", start=at(4, 1), pacing=CoursePacing.SELF_PACED
        ),
        OLD: CourseFactory(
            workspace=workspace,
            key=OLD,
            title="Old",
            start=datetime(2024, 1, 1, tzinfo=timezone.utc),
            end=datetime(2024, 6, 1, tzinfo=timezone.utc),
        ),
        UNDATED: CourseFactory(workspace=workspace, key=UNDATED, title="Undated"),
    }


@pytest.fixture
def learners(workspace, make_member):
    return {name: make_member(workspace, Role.LEARNER, email=f"{name.lower()}@acme.test") for name in "ABCDEF"}


@pytest.fixture
def enrollments(course, learners):
    for name, mode, enrolled_at, unenrolled_at in (
        ("A", "honor", at(2, 20), None),
        ("B", "verified", at(2, 25), at(3, 5)),
        ("C", "audit", at(3, 3), None),
        ("D", "no-id-professional", at(3, 4), None),
        ("E", "professional", at(2, 27, 23), at(2, 28, 12)),
    ):
        EnrollmentFactory(
            course=course, user=learners[name], mode=mode, enrolled_at=enrolled_at, unenrolled_at=unenrolled_at
        )
    for name, version, state in (
        ("A", 0, AttemptState.APPROVED),
        ("B", 0, AttemptState.APPROVED),
        ("C", 0, AttemptState.FAILED),
        ("D", 0, AttemptState.APPROVED),
        ("D", 1, AttemptState.IN_PROGRESS),
        ("F", 0, AttemptState.APPROVED),
    ):
        AttemptFactory(course=course, user=learners[name], version_number=version, state=state)


@pytest.fixture
def noise(other_workspace, make_member):
    """A course with the same key in another workspace, with enrollments and a passed attempt."""
    foreign = CourseFactory(workspace=other_workspace, key=KEY, catalog_title="Foreign")
    for n in range(4):
        outsider = make_member(other_workspace, Role.LEARNER, email=f"out{n}@globex.test")
        EnrollmentFactory(course=foreign, user=outsider, mode="honor", enrolled_at=at(3, 1))
        AttemptFactory(course=foreign, user=outsider, state=AttemptState.APPROVED)
    Program.objects.create(workspace=other_workspace, key=P1, title="Foreign program").courses.add(foreign)
    return foreign


@pytest.fixture
def programs(workspace, course, other_courses):
    first = Program.objects.create(
        workspace=workspace, key=P1, title="Demo program", program_type="XSeries", created_at=at(2, 1, 9)
    )
    first.courses.add(course, other_courses[SECOND])
    second = Program.objects.create(
        workspace=workspace, key=P2, title="Masters", program_type="MicroMasters", created_at=at(2, 2, 10)
    )
    second.courses.add(other_courses[SECOND])
    return first, second


@pytest.fixture
def admin_client(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def modes(**counts):
    """enrollment_modes with every mode at zero but those given as (count, cumulative, change, passing)."""
    values = {mode: (0, 0, 0, 0) for mode in MODES}
    values.update({mode.replace("_", "-"): value for mode, value in counts.items()})
    return {
        mode: dict(zip(("count", "cumulative_count", "count_change_7_days", "passing_users"), value))
        for mode, value in values.items()
    }


DEMO_SUMMARY = {
    "created": CREATED,
    "course_id": KEY,
    "catalog_course_title": "Demo X",
    "catalog_course": "edX+DemoX",
    "start_date": "2025-01-01T000000",
    "end_date": "2025-06-01T000000",
    "pacing_type": "instructor_paced",
    "availability": "Current",
    "count": 3,
    "cumulative_count": 5,
    "count_change_7_days": 1,
    "recent_count_change": None,
    "passing_users": 2,
    "enrollment_modes": modes(
        honor=(1, 1, 0, 1), verified=(0, 1, -1, 1), audit=(1, 1, 1, 0), professional=(1, 2, 1, 0)
    ),
}


def summaries(client, method="get", expect=200, **params):
    if method == "get":
        response = client.get("/api/v0/course_summaries/", {k: v for k, v in params.items()})
    else:
        response = client.post(
            "/api/v0/course_summaries/", urlencode(params, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == expect, response.content
    return response


# ---------------------------------------------------------------------------------------------
# course_summaries/


def test_summary_has_edx_fields_in_order_with_exact_counts(admin_client, course, enrollments, noise):
    rows = summaries(admin_client, course_ids=KEY).json()

    assert rows == [DEMO_SUMMARY]
    assert list(rows[0]) == SUMMARY_ORDER


def test_without_course_ids_every_course_of_the_workspace_by_key_with_availability(
    admin_client, course, other_courses, enrollments, noise
):
    rows = summaries(admin_client).json()

    assert [(row["course_id"], row["availability"], row["pacing_type"], row["count"]) for row in rows] == [
        (OLD, "Archived", None, 0),
        (SECOND, "Upcoming", "self_paced", 0),
        (UNDATED, "unknown", None, 0),
        (KEY, "Current", "instructor_paced", 3),
    ]
    second = rows[1]
    assert (second["catalog_course_title"], second["catalog_course"], second["end_date"]) == ("Second run", None, None)
    assert second["enrollment_modes"] == modes()


def test_post_with_repeated_form_keys_answers_as_get(admin_client, course, other_courses, enrollments):
    got = summaries(admin_client, course_ids=f"{KEY},{OLD}", fields="course_id,count").json()
    posted = summaries(admin_client, "post", course_ids=[KEY, OLD], fields=["course_id", "count"]).json()

    assert got == posted == [{"course_id": OLD, "count": 0}, {"course_id": KEY, "count": 3}]


def test_post_as_json_lists_answers_as_get(admin_client, course, enrollments):
    response = admin_client.post(
        "/api/v0/course_summaries/", {"course_ids": [KEY], "exclude": ["created"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == [{k: v for k, v in DEMO_SUMMARY.items() if k != "created"}]


def test_programs_parameter_adds_program_ids_in_last_place(admin_client, course, other_courses, programs, noise):
    rows = summaries(admin_client, course_ids=f"{KEY},{SECOND},{OLD}", programs="True").json()

    assert [(row["course_id"], row["programs"]) for row in rows] == [(OLD, []), (SECOND, [P1, P2]), (KEY, [P1])]
    assert list(rows[0])[-1] == "programs"


def test_programs_left_out_without_the_parameter(admin_client, course, programs):
    row = summaries(admin_client, course_ids=KEY).json()[0]

    assert "programs" not in row


def test_fields_keeps_only_those_and_ignores_unknown_names(admin_client, course, enrollments):
    rows = summaries(admin_client, course_ids=KEY, fields="enrollment_mode,course_id,passing_users").json()

    assert rows == [{"course_id": KEY, "passing_users": 2}]


def test_fields_naming_no_known_field_is_400(admin_client, course, enrollments):
    response = summaries(admin_client, expect=400, course_ids=KEY, fields="enrollment_mode,coursе_id")

    body = response.json()
    assert body["error_code"] == "unknown_fields"
    assert body["developer_message"].startswith("fields: unknown field(s) enrollment_mode, coursе_id;")


def test_program_fields_naming_no_known_field_is_400(admin_client, programs):
    response = admin_client.get("/api/v0/programs/", {"fields": "name"})

    assert response.status_code == 400
    assert response.json()["developer_message"].startswith("fields: unknown field(s) name;")


def test_exclude_removes_the_field_from_the_summary_and_from_each_mode(admin_client, course, enrollments):
    row = summaries(admin_client, course_ids=KEY, exclude="passing_users,created").json()[0]

    assert "passing_users" not in row and "created" not in row
    assert row["enrollment_modes"]["honor"] == {"count": 1, "cumulative_count": 1, "count_change_7_days": 0}


@pytest.mark.parametrize(
    "recent_date, change",
    [("2025-03-03", 3 - 3), ("2025-03-02", 3 - 2), ("2025-02-28", 3 - 2), ("2025-02-01", 3 - 0), ("2025-03-06", 0)],
)
def test_recent_count_change_is_count_minus_the_count_at_the_end_of_recent_date(
    admin_client, course, enrollments, recent_date, change
):
    got = summaries(admin_client, course_ids=KEY, recent_date=recent_date).json()[0]
    posted = summaries(admin_client, "post", course_ids=[KEY], recent_date=[recent_date]).json()[0]

    assert got["recent_count_change"] == posted["recent_count_change"] == change


@pytest.mark.parametrize(
    "recent_date, message",
    [
        ("Not a date", "time data 'Not a date' does not match format '%Y-%m-%d'"),
        ("2025-02-30", "day is out of range for month"),
        ("2025-03-07", '"2025-03-07 00:00:00" is not in the past'),
        ("2025-03-08", '"2025-03-08 00:00:00" is not in the past'),
    ],
)
def test_bad_recent_date_is_edx_400_text(admin_client, course, recent_date, message):
    for method in ("get", "post"):
        response = summaries(admin_client, method, expect=400, recent_date=recent_date)

        assert response.content.decode() == f"Error in recent_date: {message}\n"


@pytest.mark.parametrize("course_ids", ["malformed-course-id", f"{KEY},malformed-course-id"])
def test_malformed_course_id_is_edx_400_course_key_malformed(admin_client, course, course_ids):
    for method, value in (("get", course_ids), ("post", course_ids.split(","))):
        response = summaries(admin_client, method, expect=400, course_ids=value)

        assert response.json() == {
            "error_code": "course_key_malformed",
            "developer_message": "Course id/key malformed-course-id malformed.",
        }


def test_course_keys_in_both_forms_and_project_ids_are_accepted(admin_client, workspace, course):
    hex_course = CourseFactory(workspace=workspace, key="65f0c0ffee00000000000001")
    rows = summaries(admin_client, course_ids=f"{KEY},course-v1:edX+Nope+1,{hex_course.key}").json()

    assert [row["course_id"] for row in rows] == [hex_course.key, KEY]


def test_unknown_courses_and_no_courses_are_404(admin_client, workspace, noise):
    assert summaries(admin_client, expect=404).json() == {"detail": "Not found."}
    CourseFactory(workspace=workspace, key=SECOND)
    assert summaries(admin_client, expect=404, course_ids="no/items/found").json() == {"detail": "Not found."}


def test_instructor_reads_only_the_courses_they_teach(workspace, instructor, bearer_client, course, other_courses):
    other_courses[OLD].instructors.add(instructor)
    client = bearer_client(instructor, workspace)

    assert [row["course_id"] for row in summaries(client).json()] == [OLD]
    assert summaries(client, expect=404, course_ids=KEY).json() == {"detail": "Not found."}


def test_instructor_api_key_teaches_nothing_and_learner_is_403(
    workspace, api_key_client, learner, bearer_client, course
):
    assert summaries(api_key_client(workspace, Role.INSTRUCTOR), expect=404).status_code == 404
    assert summaries(bearer_client(learner, workspace), expect=403).status_code == 403


def test_edx_client_token_header(workspace, api_key_client, course, enrollments):
    client = api_key_client(workspace, Role.ADMIN)
    client.credentials(HTTP_AUTHORIZATION=f"Token {client.raw_api_key}")

    assert summaries(client, course_ids=KEY).json() == [DEMO_SUMMARY]


def test_rollups_and_raw_rows_give_the_same_summaries(workspace, course, other_courses, enrollments, noise):
    refresh_course_info_rollups(NOW)

    from_rollups = queries.course_summaries(workspace, NOW, recent_day=at(3, 2).date(), from_raw=False)
    from_raw = queries.course_summaries(workspace, NOW, recent_day=at(3, 2).date(), from_raw=True)

    assert from_rollups == from_raw
    assert [(row["course_id"], row["count"], row["recent_count_change"]) for row in from_rollups][-1] == (KEY, 3, 1)


def test_100_courses_take_a_fixed_number_of_queries(workspace, admin_client, django_assert_max_num_queries):
    learner = UserFactory(email="many@acme.test")
    courses = Course.objects.bulk_create(
        [Course(workspace=workspace, key=f"course-v1:Org+C{n:03}+2025", title=f"C{n}") for n in range(100)]
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(workspace=workspace, course=c, user=learner, enrolled_at=at(3, 1), mode="verified")
            for c in courses
        ]
    )
    refresh_course_info_rollups(NOW)
    keys = [course.key for course in courses]

    # The API key and its last-use stamp, courses, rollup freshness, steps, passing learners, programs.
    with django_assert_max_num_queries(7):
        rows = summaries(admin_client, "post", course_ids=keys, programs="1").json()

    assert len(rows) == 100 and {row["count"] for row in rows} == {1}
    assert {row["count_change_7_days"] for row in rows} == {1}


# ---------------------------------------------------------------------------------------------
# programs/


def programs_of(client, method="get", expect=200, **params):
    if method == "get":
        response = client.get("/api/v0/programs/", params)
    else:
        response = client.post(
            "/api/v0/programs/", urlencode(params, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == expect, response.content
    return response.json()


def test_programs_in_edx_order_with_their_course_ids(admin_client, programs, noise):
    rows = programs_of(admin_client)

    assert rows == [
        {
            "program_id": P1,
            "program_type": "XSeries",
            "program_title": "Demo program",
            "course_ids": [SECOND, KEY],
            "created": "2025-02-01T09:00:00Z",
        },
        {
            "program_id": P2,
            "program_type": "MicroMasters",
            "program_title": "Masters",
            "course_ids": [SECOND],
            "created": "2025-02-02T10:00:00Z",
        },
    ]
    assert list(rows[0]) == ["program_id", "program_type", "program_title", "course_ids", "created"]


def test_program_ids_fields_and_exclude_get_and_post(admin_client, programs):
    expected = [{"program_id": P2, "course_ids": [SECOND]}]

    assert programs_of(admin_client, program_ids=f"{P2},not-a-program", fields="program_id,course_ids,nope") == expected
    assert (
        programs_of(admin_client, "post", program_ids=[P2], exclude=["program_type", "program_title", "created"])
        == expected
    )


def test_no_programs_or_unknown_program_ids_are_404(admin_client, workspace, noise):
    assert programs_of(admin_client, expect=404) == {"detail": "Not found."}
    Program.objects.create(workspace=workspace, key=P2, title="Masters")
    assert programs_of(admin_client, expect=404, program_ids="not-a-program") == {"detail": "Not found."}


def test_instructor_sees_programs_of_their_courses_with_only_those_courses(
    workspace, instructor, bearer_client, programs
):
    Course.objects.get(workspace=workspace, key=KEY).instructors.add(instructor)

    assert programs_of(bearer_client(instructor, workspace), fields="program_id,course_ids") == [
        {"program_id": P1, "course_ids": [KEY]}
    ]


# ---------------------------------------------------------------------------------------------
# courses/{course_id}/reports/problem_response/

REPORT = f"/api/v0/courses/{KEY}/reports/problem_response/"
NO_REPORT = {
    "error_code": "report_file_not_found",
    "developer_message": "Could not find report 'problem_response' for course edX_DemoX_Demo_Course.",
}


@pytest.fixture
def responses(workspace, course, learners, noise):
    rows = [
        ProblemResponse(
            workspace=workspace,
            user=learners["A"],
            course=course,
            problem_key="block-v1:edX+DemoX+T+type@problem+block@p1",
            part_id="p1_2_1",
            answer="Paris",
            value_id="choice_1",
            correct=True,
            grade=1,
            max_grade=2,
            attempt=1,
            submitted_at=at(3, 5, 10),
            question="Capital?",
            problem_name="Capitals",
        ),
        ProblemResponse(
            workspace=workspace,
            user=learners["C"],
            course=course,
            problem_key="block-v1:edX+DemoX+T+type@problem+block@p1",
            part_id="p1_2_1",
            answer="[a|b]",
            correct=None,
            attempt=2,
            submitted_at=at(3, 4, 9),
            problem_name="Capitals",
        ),
    ]
    record_problem_responses(workspace.pk, rows)
    outsider = UserFactory(email="foreign@globex.test")
    record_problem_responses(
        noise.workspace_id,
        [
            ProblemResponse(
                workspace_id=noise.workspace_id,
                user=outsider,
                course=noise,
                problem_key="p-foreign",
                part_id="x",
                answer="foreign answer",
                submitted_at=at(3, 5),
            )
        ],
    )


def test_report_is_edx_404_until_ready_then_its_signed_link(
    admin_client, course, responses, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.get(REPORT)
    assert (first.status_code, first.json()) == (404, NO_REPORT)
    job = course_report_jobs(course, "problem_response").get()
    assert (job.status, job.type, job.period, job.filters) == (
        ExportStatus.COMPLETED,
        "problem_response",
        "all",
        {"course_id": KEY},
    )

    second = admin_client.get(REPORT)

    assert second.status_code == 200
    body = second.json()
    assert list(body) == ["course_id", "report_name", "download_url", "last_modified", "expiration_date", "file_size"]
    assert (body["course_id"], body["report_name"], body["file_size"]) == (
        "edX_DemoX_Demo_Course",
        "problem_response",
        job.file_size,
    )
    assert body["last_modified"] == job.finished_at.strftime("%Y-%m-%dT%H%M%S")
    assert body["expiration_date"] == job.expires_at.strftime("%Y-%m-%dT%H%M%S")
    assert body["download_url"].startswith(f"http://testserver/analytics/export/{job.public_id}/download?token=")
    assert course_report_jobs(course, "problem_response").count() == 1  # a fresh report queues nothing

    download = admin_client.get(body["download_url"])
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "course_id",
        "answer_id",
        "problem_id",
        "problem",
        "username",
        "question",
        "score",
        "max_score",
        "correct",
        "answer",
        "value_id",
        "variant",
        "attempt",
        "submitted_at",
    ]
    # Scores as numbers: PostgreSQL's COPY prints 1.0 as `1`, the Python writer as `1.0`.
    as_numbers = [[*row[:6], *(float(v) if v else None for v in row[6:8]), *row[8:]] for row in rows[1:]]
    problem = "block-v1:edX+DemoX+T+type@problem+block@p1"
    assert as_numbers == [
        [
            KEY,
            "p1_2_1",
            problem,
            "Capitals",
            "c@acme.test",
            "",
            None,
            None,
            "",
            "[a|b]",
            "",
            "",
            "2",
            "2025-03-04T09:00:00.000000Z",
        ],
        [
            KEY,
            "p1_2_1",
            problem,
            "Capitals",
            "a@acme.test",
            "Capital?",
            1.0,
            2.0,
            "True",
            "Paris",
            "choice_1",
            "",
            "1",
            "2025-03-05T10:00:00.000000Z",
        ],
    ]


def test_report_is_queued_once_while_pending(admin_client, course, responses):
    for _ in range(3):
        assert admin_client.get(REPORT).json() == NO_REPORT

    assert course_report_jobs(course, "problem_response").filter(status=ExportStatus.QUEUED).count() == 1


def test_report_older_than_a_day_is_served_while_a_new_one_is_queued(admin_client, course, workspace):
    old = ExportJob.objects.create(
        workspace=workspace,
        requester_role=Role.ADMIN,
        type="problem_response",
        period="all",
        format="csv",
        filters={"course_id": KEY},
        status=ExportStatus.COMPLETED,
        file_name="exports/x.csv",
        file_size=42,
        finished_at=NOW - timedelta(days=1, minutes=1),
        expires_at=NOW + timedelta(hours=2),
    )

    body = admin_client.get(REPORT).json()

    assert (body["file_size"], body["last_modified"]) == (42, "2025-03-06T145900")
    jobs = course_report_jobs(course, "problem_response").exclude(pk=old.pk)
    assert list(jobs.values_list("status", flat=True)) == [ExportStatus.QUEUED]


def test_expired_report_is_not_served(admin_client, course, workspace):
    ExportJob.objects.create(
        workspace=workspace,
        requester_role=Role.ADMIN,
        type="problem_response",
        period="all",
        format="csv",
        filters={"course_id": KEY},
        status=ExportStatus.COMPLETED,
        file_name="exports/x.csv",
        file_size=42,
        finished_at=NOW - timedelta(hours=25),
        expires_at=NOW - timedelta(hours=1),
    )

    assert admin_client.get(REPORT).json() == NO_REPORT


def test_report_of_another_workspaces_course_is_not_served(admin_client, course, noise, other_workspace):
    ExportJob.objects.create(
        workspace=other_workspace,
        requester_role=Role.ADMIN,
        type="problem_response",
        period="all",
        format="csv",
        filters={"course_id": KEY},
        status=ExportStatus.COMPLETED,
        file_name="exports/y.csv",
        file_size=7,
        finished_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(hours=20),
    )

    assert admin_client.get(REPORT).json() == NO_REPORT


def test_unknown_report_or_course_is_edx_404(admin_client, course):
    unknown_report = admin_client.get(f"/api/v0/courses/{KEY}/reports/grades/")
    unknown_course = admin_client.get("/api/v0/courses/course-v1:edX+Nope+2025/reports/problem_response/")

    assert (unknown_report.status_code, unknown_report.json()) == (
        404,
        {
            "error_code": "report_file_not_found",
            "developer_message": f"Could not find report 'grades' for course {KEY}.",
        },
    )
    assert (unknown_course.status_code, unknown_course.json()) == (
        404,
        {
            "error_code": "report_file_not_found",
            "developer_message": "Could not find report 'problem_response' for course edX_Nope_2025.",
        },
    )


def test_instructor_not_teaching_the_course_is_403_and_learner_403(
    workspace, instructor, learner, bearer_client, course
):
    assert bearer_client(instructor, workspace).get(REPORT).status_code == 403
    assert bearer_client(learner, workspace).get(REPORT).status_code == 403
    course.instructors.add(instructor)
    assert bearer_client(instructor, workspace).get(REPORT).json() == NO_REPORT


@pytest.mark.parametrize(
    "key, safe",
    [
        ("course-v1:edX+DemoX+Demo_2014", "edX_DemoX_Demo_2014"),
        ("edX/DemoX/Demo_Course", "edX_DemoX_Demo_Course"),
        ("ccx-v1:edx+1.005x-CCX+rerun+ccx@15", "edx_1.005x-CCX_rerun"),
        ("65f0c0ffee00000000000001", "65f0c0ffee00000000000001"),
    ],
)
def test_filename_safe_course_id_is_edx(key, safe):
    assert edx_summaries.filename_safe_course_id(key) == safe


def test_csv_flattens_the_summary_columns(admin_client, course, enrollments):
    response = admin_client.get(
        "/api/v0/course_summaries/",
        {"course_ids": KEY, "fields": "course_id,count,enrollment_modes"},
        HTTP_ACCEPT="text/csv",
    )

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 1
    assert (rows[0]["course_id"], rows[0]["count"], rows[0]["enrollment_modes.honor.passing_users"]) == (KEY, "3", "1")


def test_problem_response_export_filters_are_checked(admin_client, course):
    bad = admin_client.post(
        "/analytics/export", {"type": "problem_response", "period": "all", "filters": {"course": KEY}}, format="json"
    )
    good = admin_client.post(
        "/analytics/export", {"type": "problem_response", "period": "all", "filters": {"course_id": KEY}}, format="json"
    )

    assert bad.status_code == 400 and "course" in bad.content.decode()
    assert good.status_code == 202 and good.json()["data"]["type"] == "problem_response"
