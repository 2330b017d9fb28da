"""manage.py import_data and POST /api/import: the interchange format of DESIGN.md."""

import json
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import CustomFieldValue, LearnerGroup, Membership, Role, User, Workspace
from analytics.models import EventSource, LearningEvent, PageSession, VideoReaction, VideoView
from courses.models import Attempt, Chapter, Course, Enrollment, Video
from tests.factories import CourseFactory, MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

SESSION_ID = "6f1c5f8e-8a51-4c1b-9d1e-0a3b7c2d4e5f"
EVENT_ID = "0b9f3a4e-2c6d-4e8f-9a1b-3c5d7e9f1a2b"
VIEW_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"

# One record of every kind, in dependency order.
EVERY_KIND = [
    {
        "kind": "user",
        "email": "Ada@Example.com",
        "name": "Ada Lovelace",
        "role": "learner",
        "birthYear": 1990,
        "gender": "f",
        "educationLevel": "masters",
        "country": "gb",
        "groups": ["Engineering", "London"],
        "attributes": {"Department": "R&D", "Level": 3},
    },
    {"kind": "user", "email": "grace@example.com", "name": "Grace Hopper", "role": "instructor"},
    {
        "kind": "course",
        "key": "course-v1:Acme+AN101+2026",
        "title": "Analytics 101",
        "thumbnail": "https://img.example.com/an101.png",
        "instructors": ["grace@example.com"],
    },
    {"kind": "chapter", "course": "course-v1:Acme+AN101+2026", "key": "ch1", "title": "Basics", "position": 1},
    {
        "kind": "video",
        "course": "course-v1:Acme+AN101+2026",
        "key": "intro-video",
        "title": "Intro",
        "chapter": "ch1",
        "duration": 60,
        "segmentLength": 10,
    },
    {
        "kind": "enrollment",
        "user": "ada@example.com",
        "course": "course-v1:Acme+AN101+2026",
        "mode": "verified",
        "type": "MANDATORY",
        "enrolledAt": "2026-01-05T10:00:00Z",
    },
    {
        "kind": "attempt",
        "user": "ada@example.com",
        "course": "course-v1:Acme+AN101+2026",
        "state": "IN_PROGRESS",
        "progress": 42.5,
        "score": 80,
        "timeSpent": 3600,
        "firstActivityAt": "2026-01-05T10:00:00Z",
        "lastActivityAt": "2026-01-06T10:00:00Z",
        "lang": "en",
        "versionNumber": 1,
    },
    {
        "kind": "page_session",
        "id": SESSION_ID,
        "user": "ada@example.com",
        "page": "Quiz",
        "path": "/quiz/course-v1%3AAcme%2BAN101%2B2026/ch1",
        "startedAt": "2026-01-06T09:00:00",
        "duration": 120,
    },
    {
        "kind": "event",
        "id": EVENT_ID,
        "user": "ada@example.com",
        "type": "played_video",
        "occurredAt": "2026-01-06T09:01:00Z",
        "course": "course-v1:Acme+AN101+2026",
        "object": "intro-video",
    },
    {
        "kind": "video_view",
        "id": VIEW_ID,
        "user": "ada@example.com",
        "video": "intro-video",
        "startedAt": "2026-01-06T09:01:00Z",
        "watchedSeconds": 55,
        "position": 60,
        "completed": True,
        "segments": [0, 1, 2, 3, 4, 5],
        "device": "desktop",
        "platform": "web",
        "country": "GB",
    },
    {
        "kind": "video_reaction",
        "user": "ada@example.com",
        "video": "intro-video",
        "type": "like",
        "at": "2026-01-06T09:02:00Z",
    },
]


def write_lines(tmp_path, records, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return str(path)


def run_import(*files, workspace="acme"):
    out, err = StringIO(), StringIO()
    call_command("import_data", "--workspace", workspace, *files, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot():
    """Every imported row's values, to compare two imports."""
    models = [
        User,
        Membership,
        LearnerGroup.members.through,
        CustomFieldValue,
        Course,
        Course.instructors.through,
        Chapter,
        Video,
        Enrollment,
        Attempt,
        PageSession,
        LearningEvent,
        VideoView,
        VideoReaction,
    ]
    rows = {}
    for model in models:
        values = model.objects.order_by("pk").values()
        rows[model._meta.label] = [
            {k: v for k, v in row.items() if k not in ("updated_at", "received_at", "last_login")} for row in values
        ]
    return rows


def test_file_mixing_every_kind_loads_each_record(tmp_path):
    out, err = run_import(write_lines(tmp_path, EVERY_KIND))

    assert err == ""
    workspace = Workspace.objects.get(slug="acme")
    ada = User.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.birth_year, ada.gender, ada.education_level, ada.country) == (
        "Ada",
        "Lovelace",
        1990,
        "f",
        "masters",
        "GB",
    )
    assert Membership.objects.get(user=ada, workspace=workspace).role == Role.LEARNER
    assert Membership.objects.get(user__email="grace@example.com").role == Role.INSTRUCTOR
    assert sorted(ada.learner_groups.values_list("name", flat=True)) == ["Engineering", "London"]
    assert dict(ada.custom_values.values_list("field__name", "value")) == {"Department": "R&D", "Level": "3"}
    course = Course.objects.get(workspace=workspace, key="course-v1:Acme+AN101+2026")
    assert (course.title, course.thumbnail) == ("Analytics 101", "https://img.example.com/an101.png")
    assert list(course.instructors.values_list("email", flat=True)) == ["grace@example.com"]
    chapter = Chapter.objects.get(course=course, key="ch1")
    video = Video.objects.get(key="intro-video")
    assert (video.course, video.chapter, video.duration_s, video.segment_length_s) == (course, chapter, 60, 10)
    enrollment = Enrollment.objects.get(user=ada, course=course)
    assert (enrollment.mode, enrollment.kind) == ("verified", "MANDATORY")
    attempt = Attempt.objects.get(user=ada, course=course)
    assert (attempt.progress, attempt.score, attempt.time_spent_s, attempt.version_number) == (43, 80, 3600, 1)
    session = PageSession.objects.get(pk=SESSION_ID)
    assert (session.course, session.course_key, session.chapter_key, session.duration_s) == (
        course,
        "course-v1:Acme+AN101+2026",
        "ch1",
        120,
    )
    assert session.started_at == datetime(2026, 1, 6, 9, 0, tzinfo=timezone.utc)
    event = LearningEvent.objects.get(pk=EVENT_ID)
    assert (event.type, event.course, event.object, event.source) == ("played_video", course, "intro-video", "import")
    view = VideoView.objects.get(pk=VIEW_ID)
    assert (view.watched_s, view.position_s, view.is_completed, view.course) == (55, 60, True, course)
    assert (view.watched_first_segment, view.watched_last_segment, view.source) == (True, True, EventSource.IMPORT)
    assert VideoReaction.objects.get().type == "like"
    assert "11 lines read, 11 imported, 0 rejected" in out


def test_missing_workspace_is_created(tmp_path):
    run_import(write_lines(tmp_path, EVERY_KIND[:1]), workspace="new-co")

    assert Membership.objects.get(user__email="ada@example.com").workspace.slug == "new-co"


def test_second_import_changes_nothing(tmp_path):
    path = write_lines(tmp_path, EVERY_KIND)
    run_import(path)
    before = snapshot()

    out, err = run_import(path)

    assert snapshot() == before
    assert err == ""
    summary_lines = [line.split() for line in out.splitlines()[1:11]]
    assert all(cols[1:] == ["0", "0", "1" if cols[0] != "user" else "2", "0"] for cols in summary_lines), out


def test_records_in_any_order_within_a_file_load(tmp_path):
    out, err = run_import(write_lines(tmp_path, list(reversed(EVERY_KIND))))

    assert err == ""
    assert "11 imported, 0 rejected" in out
    assert VideoView.objects.get(pk=VIEW_ID).video.key == "intro-video"


def test_bad_lines_are_reported_by_number_and_the_rest_kept(tmp_path):
    lines = [
        EVERY_KIND[0],  # 1 good
        "{not json",  # 2
        {"kind": "course", "key": "k1"},  # 3 no title
        {
            "kind": "page_session",
            "id": "nope",
            "user": "ada@example.com",
            "page": "Home",
            "path": "/",
            "startedAt": "yesterday",
            "duration": 5,
        },  # 4 two bad fields
        {
            "kind": "enrollment",
            "user": "nobody@example.com",
            "course": "course-v1:Acme+AN101+2026",
            "enrolledAt": "2026-01-05T10:00:00Z",
        },  # 5 unknown user
        {"kind": "spaceship"},  # 6
        EVERY_KIND[2],  # 7 good (names grace, line 8)
        EVERY_KIND[1],  # 8 good
    ]
    path = write_lines(tmp_path, lines)

    out, err = run_import(path)

    assert err.splitlines() == [
        f"{path}:2: not valid JSON: Expecting property name enclosed in double quotes",
        f"{path}:3: title: is required",
        f"{path}:4: id: must be a UUID",
        f"{path}:4: startedAt: must be an ISO 8601 time such as 2026-03-01T09:30:00Z",
        f"{path}:5: user: no member of this workspace has this email",
        f"{path}:6: kind: must be one of user, course, program, chapter, video, enrollment, attempt, page_session, "
        "event, video_view, video_reaction, problem_response, subsection_open",
    ]
    assert "8 lines read, 3 imported, 5 rejected" in out
    assert sorted(User.objects.values_list("email", flat=True)) == ["ada@example.com", "grace@example.com"]
    assert list(Course.objects.values_list("key", flat=True)) == ["course-v1:Acme+AN101+2026"]
    assert not Enrollment.objects.exists()


def test_user_line_is_all_or_nothing(tmp_path):
    bad_attribute = {**EVERY_KIND[0], "attributes": {"Department": ["not", "text"]}}

    out, err = run_import(write_lines(tmp_path, [bad_attribute]))

    assert "attributes: value of 'Department' must be a string or a number" in err
    assert not User.objects.exists() and not LearnerGroup.objects.exists()


def test_fractional_progress_and_score_round_half_up(tmp_path):
    records = EVERY_KIND[:3] + [{**EVERY_KIND[6], "progress": 49.5, "score": 79.49}]

    run_import(write_lines(tmp_path, records))

    assert Attempt.objects.values_list("progress", "score").get() == (50, 79)


def test_progress_above_100_is_refused(tmp_path):
    records = EVERY_KIND[:3] + [{**EVERY_KIND[6], "progress": 100.6}]

    _, err = run_import(write_lines(tmp_path, records))

    assert "progress: must be between 0 and 100" in err
    assert not Attempt.objects.exists()


def test_reimport_updates_only_the_fields_a_line_gives(tmp_path):
    run_import(write_lines(tmp_path, EVERY_KIND[:3]))

    run_import(write_lines(tmp_path, [{"kind": "course", "key": "course-v1:Acme+AN101+2026", "title": "New title"}]))

    course = Course.objects.get()
    assert (course.title, course.thumbnail) == ("New title", "https://img.example.com/an101.png")
    assert course.instructors.count() == 1


def test_groups_given_become_the_users_exact_groups(tmp_path):
    run_import(write_lines(tmp_path, EVERY_KIND[:1]))

    run_import(write_lines(tmp_path, [{"kind": "user", "email": "ada@example.com", "groups": ["Paris"]}]))

    assert list(User.objects.get().learner_groups.values_list("name", flat=True)) == ["Paris"]
    assert LearnerGroup.objects.count() == 3


def test_profile_of_a_user_known_to_another_workspace_is_not_rewritten(tmp_path):
    shared = UserFactory(email="ada@example.com", first_name="Ada", last_name="Byron")
    MembershipFactory(user=shared, workspace=WorkspaceFactory(slug="globex"))

    run_import(write_lines(tmp_path, EVERY_KIND[:1]))

    shared.refresh_from_db()
    assert shared.last_name == "Byron"
    assert Membership.objects.get(user=shared, workspace__slug="acme").role == Role.LEARNER


def test_course_of_another_workspace_is_not_found(tmp_path):
    CourseFactory(workspace=WorkspaceFactory(slug="globex"), key="course-v1:Acme+AN101+2026")
    records = [EVERY_KIND[0], EVERY_KIND[5]]

    _, err = run_import(write_lines(tmp_path, records))

    assert err.strip().endswith(":2: course: no course with this key in the workspace")


def test_unenrolled_before_enrolled_is_refused(tmp_path):
    records = EVERY_KIND[:3] + [{**EVERY_KIND[5], "unenrolledAt": "2026-01-01T00:00:00Z"}]

    _, err = run_import(write_lines(tmp_path, records))

    assert err.strip().endswith(":4: unenrolledAt: must not be before enrolledAt")


def test_page_session_reimported_with_a_shorter_duration_keeps_the_longer(tmp_path):
    run_import(write_lines(tmp_path, EVERY_KIND[:1] + EVERY_KIND[7:8]))

    run_import(write_lines(tmp_path, [{**EVERY_KIND[7], "duration": 30}]))

    assert PageSession.objects.get().duration_s == 120


def test_gzip_file_loads(tmp_path):
    import gzip

    path = tmp_path / "data.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(record) for record in EVERY_KIND))

    out, _ = run_import(str(path))

    assert "11 imported, 0 rejected" in out


def test_import_queries_do_not_grow_with_the_number_of_lines(tmp_path, django_assert_max_num_queries):
    users = [{"kind": "user", "email": f"u{i}@example.com"} for i in range(300)]
    sessions = [
        {
            "kind": "page_session",
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "user": f"u{i}@example.com",
            "page": "Home",
            "path": "/",
            "startedAt": "2026-01-01T00:00:00Z",
            "duration": 10,
        }
        for i in range(300)
    ]
    path = write_lines(tmp_path, users + sessions)

    with django_assert_max_num_queries(30):
        run_import(path)

    assert PageSession.objects.count() == 300


# POST /api/import


def test_api_import_takes_json_lines_and_reports_by_line(workspace, api_key_client):
    body = "\n".join(json.dumps(r) for r in EVERY_KIND[:2]) + "\n" + '{"kind": "course", "key": "x"}\n'

    response = api_key_client(workspace).post("/api/import", data=body, content_type="application/x-ndjson")

    assert response.status_code == 207
    payload = response.json()
    assert payload["errors"] == [{"line": 3, "field": "title", "reason": "is required"}]
    assert payload["accepted"] == 2 and payload["rejected"] == 1
    assert payload["summary"]["user"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}


def test_api_import_takes_a_json_list(workspace, api_key_client):
    response = api_key_client(workspace).post("/api/import", data=EVERY_KIND, format="json")

    assert response.status_code == 200
    assert response.json()["accepted"] == 11
    assert VideoReaction.objects.filter(workspace=workspace).count() == 1


def test_api_import_needs_an_admin_api_key(workspace, admin_user, api_key_client, session_client):
    as_instructor_key = api_key_client(workspace, Role.INSTRUCTOR).post("/api/import", data=[], format="json")
    as_admin_session = session_client(admin_user).post("/api/import", data=[], format="json")

    assert as_instructor_key.status_code == 403
    assert as_admin_session.status_code in (401, 403)


def test_api_import_of_only_bad_lines_is_400(workspace, api_key_client):
    response = api_key_client(workspace).post("/api/import", data="nope\n", content_type="application/x-ndjson")

    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 1


def test_line_refused_by_the_database_is_reported_and_the_others_kept(tmp_path, monkeypatch):
    from django.db import IntegrityError

    from analytics.services.records import catalog

    real_upsert = catalog.upsert_courses

    def refuse_boom(workspace, rows):
        if any(row["key"] == "boom" for row in rows):
            raise IntegrityError("simulated constraint violation")
        return real_upsert(workspace, rows)

    monkeypatch.setattr(catalog, "upsert_courses", refuse_boom)
    lines = [
        {"kind": "course", "key": "a", "title": "A"},
        {"kind": "course", "key": "boom", "title": "B"},
        {"kind": "course", "key": "c", "title": "C"},
    ]

    _, err = run_import(write_lines(tmp_path, lines))

    assert err.strip().endswith(":2: refused by the database: simulated constraint violation")
    assert sorted(Course.objects.values_list("key", flat=True)) == ["a", "c"]


def _sessions_over_days(learners, per_learner):
    """page_session records: each learner has per_learner sessions of 10 s over three UTC days."""
    return [
        {
            "kind": "page_session",
            "id": f"00000000-0000-4000-8000-{learner:06d}{index:06d}",
            "user": f"u{learner}@example.com",
            "page": "Home",
            "path": "/",
            "startedAt": f"2026-01-0{1 + index % 3}T0{index % 10}:00:{index % 60:02d}Z",
            "duration": 10,
        }
        for learner in range(learners)
        for index in range(per_learner)
    ]


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_import_in_large_or_small_chunks_keeps_every_rollup(
    tmp_path, monkeypatch, chunk_size, django_capture_on_commit_callbacks
):
    """1,200 page sessions: one chunk of the command's size (more than the pipeline's 1,000), or
    many small ones; either way every row is stored and the rollups equal a recount."""
    from analytics.management.commands import import_data
    from analytics.models import LearnerDay
    from analytics.rollups.check import check_rollups

    if chunk_size is not None:
        monkeypatch.setattr(import_data, "IMPORT_CHUNK_SIZE", chunk_size)
    users = [{"kind": "user", "email": f"u{i}@example.com"} for i in range(40)]
    path = write_lines(tmp_path, users + _sessions_over_days(40, 30))

    with django_capture_on_commit_callbacks(execute=True):
        run_import(path)

    workspace = Workspace.objects.get(slug="acme")
    assert PageSession.objects.filter(workspace=workspace).count() == 1200
    days = LearnerDay.objects.filter(workspace=workspace)
    assert days.count() == 40 * 3
    assert {day.page_seconds for day in days} == {10 * 10}  # 30 sessions over 3 days: 10 a day
    assert check_rollups(workspace.pk, names=["learner_activity"]).ok
