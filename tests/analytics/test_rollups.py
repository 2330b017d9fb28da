"""The rollup registry: after a write through each input path, recomputing every rollup from the
raw rows (`check_rollups`, `manage.py rollups check`) finds no difference; a tampered rollup row
is found; bulk QuerySet writes keep the rollups; check changes nothing.

Writes run with their commit callbacks executed (the course information rollups are marked
stale and refreshed after commit; Celery runs tasks in-process in tests). Activity is dated in
the current week: the 30-second course information refresh covers the current and the previous
week, back-dated activity waits for the hourly history rebuild.
"""

import importlib
import json
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role, User
from analytics.models import (
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    ProblemAnswerCount,
    ProblemResponse,
    VideoDay,
    VideoView,
    WorkspaceDay,
)
from analytics.rollups.check import check_rollups
from analytics.rollups.registry import NAMES
from analytics.services.problem_rollups import record_problem_responses
from analytics.services.tracking_logs import import_tracking_logs
from courses.models import Attempt, AttemptState, Enrollment, Result
from tests.analytics.test_tracking_logs import COURSE, raw, video, write_log
from tests.factories import (
    AttemptFactory,
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    PageSessionFactory,
    VideoFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db

XAPI_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openedx" / "xapi-openedx"
COURSE_KEY = "course-v1:Acme+RU101+2026"


def recent(hours_ago=0, minutes=0):
    """A moment of the current week (Monday 00:00 UTC or later), going back at most a day."""
    now = timezone.now().replace(microsecond=0)
    return max(now - timedelta(hours=hours_ago, minutes=minutes), now.replace(hour=0, minute=0, second=0))


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def differences(workspace_id=None):
    """{rollup: [(table, missing, extra, changed)]} of every rollup that differs from a recount."""
    return {
        each.name: [(t.label, t.missing[:2], t.extra[:2], t.changed[:2]) for t in each.tables]
        for each in check_rollups(workspace_id).rollups
        if each.differences
    }


@pytest.fixture
def course(workspace):
    return CourseFactory(workspace=workspace, key=COURSE_KEY)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block's commit callbacks (course information: mark stale, refresh), as a new
    request would: the refresh debounce (a cache key) of an earlier block is forgotten."""

    def block():
        cache.clear()
        return django_capture_on_commit_callbacks(execute=True)

    return block


def test_every_rollup_is_registered():
    assert NAMES == (
        "learner_activity",
        "video_days",
        "video_windows",
        "reaction_days",
        "results",
        "result_totals",
        "course_info",
        "problems",
    )


def test_tracking_api_page_sessions_and_event_batch_leave_no_difference(
    workspace, learner, bearer_client, course, committed
):
    client = bearer_client(learner, workspace)
    session_id = str(uuid.uuid4())
    session = {"id": session_id, "page": "Course Player", "path": f"/player/{COURSE_KEY}", "duration": 30}
    events = [
        {"id": str(uuid.uuid4()), "type": kind, "occurredAt": iso(recent(1, minute)), "course": COURSE_KEY}
        for minute, kind in enumerate(("viewed", "posted_forum", "played_video"))
    ]
    with committed():
        assert (
            client.post("/api/track/page-sessions", {**session, "startedAt": iso(recent(2))}, format="json").status_code
            == 200
        )
        # A heartbeat, then the start moved (to another hour): the day is recomputed each time.
        client.post("/api/track/page-sessions", {**session, "startedAt": iso(recent(2)), "duration": 90}, format="json")
        client.post("/api/track/page-sessions", {**session, "startedAt": iso(recent(3)), "duration": 95}, format="json")
        assert client.post("/api/track/events", events, format="json").status_code == 200
        # Video views, one re-sent covering the last segment too; an event three weeks back
        # (counted by difference, not left to the hourly history rebuild).
        VideoFactory(course=course, key="intro", duration_s=20, segment_length_s=10)
        view = {"kind": "video_view", "id": str(uuid.uuid4()), "video": "intro", "startedAt": iso(recent(1))}
        client.post("/api/track/events", {**view, "segments": [0]}, format="json")
        client.post("/api/track/events", {**view, "segments": [1]}, format="json")
        old = {"id": str(uuid.uuid4()), "type": "attempted_problem", "course": COURSE_KEY}
        client.post("/api/track/events", {**old, "occurredAt": iso(recent() - timedelta(days=21))}, format="json")

    assert PageSession.objects.get().duration_s == 95 and LearningEvent.objects.count() == 4
    assert VideoView.objects.get().segments == [0, 1]
    assert LearnerDay.objects.filter(user=learner, page_seconds__gt=0).get().page_seconds == 95
    assert differences() == {}


def test_xapi_statements_and_voiding_leave_no_difference(workspace, api_key_client, committed):
    xapi = api_key_client(workspace, Role.ADMIN)
    names = (
        "edx.course.enrollment.activated.enterprise.json",
        "play_video.ccx.json",
        "pause_video.json",
        "stop_video.json",
        "complete_video.json",
        "problem_check(server).json",
        "edx.forum.thread.created.json",
        "edx.course.grade.now_passed.json",
        "edx.ui.lms.sequence.tab_selected.json",
    )
    statements = []
    for minute, name in enumerate(names):
        statement = json.loads((XAPI_FIXTURES / name).read_text())
        statement["timestamp"] = iso(recent(1, -minute))
        statements.append(statement)
    headers = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
    with committed():
        assert xapi.post("/xapi/statements", statements, format="json", **headers).status_code == 200
        voiding = {
            "id": str(uuid.uuid4()),
            "actor": {"objectType": "Agent", "mbox": "mailto:admin@acme.test"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": statements[6]["id"]},
        }
        assert xapi.post("/xapi/statements", voiding, format="json", **headers).status_code == 200

    assert Enrollment.objects.count() == 1 and VideoView.objects.count() == 1 and ProblemResponse.objects.exists()
    assert list(VideoDay.objects.values_list("views", flat=True)) == [1]  # written through, not only equal
    assert not LearningEvent.objects.filter(type="posted_forum").exists()  # voided
    assert differences() == {}


def test_tracking_log_import_leaves_no_difference(workspace, tmp_path, committed):
    at = recent(2)
    lines = [
        raw("play_video", iso(at), video(10)),
        raw("stop_video", iso(at + timedelta(seconds=40)), video(50)),
        raw(
            "problem_check",
            iso(at + timedelta(minutes=5)),
            {
                "problem_id": "block-v1:Acme+TL101+2026+type@problem+block@p1",
                "grade": 1,
                "max_grade": 2,
                "success": "incorrect",
                "answers": {"p1_2_1": "choice_2"},
            },
            source="server",
            as_string=False,
        ),
        raw(
            "edx.course.enrollment.activated",
            iso(at - timedelta(hours=1)),
            {"course_id": COURSE, "mode": "audit", "user_id": 7},
            source="server",
        ),
        raw(
            "edx.course.grade.now_passed",
            iso(at + timedelta(minutes=9)),
            {"course_id": COURSE, "user_id": "7"},
            source="server",
        ),
    ]
    with committed():
        summary = import_tracking_logs(workspace, [write_log(tmp_path, lines)])

    assert summary.events_created >= 2 and summary.video_views_written == 1 and summary.enrollments_written == 1
    assert list(VideoDay.objects.values_list("views", flat=True)) == [1]
    assert differences() == {}


def import_records(at):
    day = iso(at)
    return [
        {"kind": "user", "email": "ada@example.com", "name": "Ada Lovelace", "role": "learner", "gender": "f"},
        {"kind": "course", "key": COURSE_KEY, "title": "Rollups 101"},
        {"kind": "video", "course": COURSE_KEY, "key": "intro-video", "duration": 60, "segmentLength": 10},
        {"kind": "enrollment", "user": "ada@example.com", "course": COURSE_KEY, "mode": "verified", "enrolledAt": day},
        {
            "kind": "attempt",
            "user": "ada@example.com",
            "course": COURSE_KEY,
            "state": "APPROVED",
            "progress": 100,
            "score": 90,
            "firstActivityAt": day,
            "lastActivityAt": day,
        },
        {
            "kind": "page_session",
            "id": str(uuid.uuid4()),
            "user": "ada@example.com",
            "page": "Quiz",
            "path": f"/quiz/{COURSE_KEY}/ch1",
            "startedAt": day,
            "duration": 120,
        },
        {
            "kind": "event",
            "id": str(uuid.uuid4()),
            "user": "ada@example.com",
            "type": "attempted_problem",
            "occurredAt": day,
            "course": COURSE_KEY,
        },
        {
            "kind": "video_view",
            "id": str(uuid.uuid4()),
            "user": "ada@example.com",
            "video": "intro-video",
            "startedAt": day,
            "watchedSeconds": 55,
            "position": 60,
            "completed": True,
            "segments": [0, 5],
        },
    ]


def test_import_data_command_leaves_no_difference(workspace, tmp_path, committed):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in import_records(recent(1))) + "\n")
    with committed():
        call_command("import_data", "--workspace", workspace.slug, str(path), stdout=StringIO(), stderr=StringIO())

    assert Result.objects.get().state == AttemptState.APPROVED
    assert list(VideoDay.objects.values_list("views", "watch_seconds", "completed_views")) == [(1, 55, 1)]
    assert differences() == {}


def test_import_api_leaves_no_difference(workspace, api_key_client, committed):
    body = "\n".join(json.dumps(record) for record in import_records(recent(1)))
    with committed():
        response = api_key_client(workspace).post("/api/import", data=body, content_type="application/x-ndjson")

    assert response.status_code == 200, response.json()
    assert list(VideoDay.objects.values_list("views", "watch_seconds", "completed_views")) == [(1, 55, 1)]
    assert differences() == {}


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator@ops.test", "x-operator-pass-1")
    client.force_login(user)
    return client


def test_admin_enrollment_change_moving_it_to_another_course_leaves_no_difference(
    workspace, learner, course, operator, committed
):
    other = CourseFactory(workspace=workspace, key="course-v1:Acme+RU202+2026")
    with committed():
        enrollment = EnrollmentFactory(workspace=workspace, user=learner, course=course, enrolled_at=recent(3))
    assert Result.objects.get().course == course
    form = {
        "workspace": workspace.pk,
        "user": learner.pk,
        "course": other.pk,
        "mode": "verified",
        "kind": "OPTIONAL",
        "enrolled_at_0": recent(3).date().isoformat(),
        "enrolled_at_1": "00:00:00",
        "unenrolled_at_0": "",
        "unenrolled_at_1": "",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    with committed():
        response = operator.post(f"/admin/courses/enrollment/{enrollment.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Result.objects.get().course == other  # the old pair's row went, the new one came
    assert differences() == {}


def test_admin_page_session_delete_leaves_no_difference(workspace, learner, operator, committed):
    with committed():
        kept = PageSessionFactory(workspace=workspace, user=learner, started_at=recent(2), duration_s=40)
        gone = PageSessionFactory(workspace=workspace, user=learner, started_at=recent(2), duration_s=60)
    with committed():
        response = operator.post(f"/admin/analytics/pagesession/{gone.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(PageSession.objects.values_list("pk", flat=True)) == [kept.pk]
    assert LearnerDay.objects.get().page_seconds == 40
    assert differences() == {}


@pytest.fixture
def activity(workspace, learner, course, make_member):
    """Two learners' page sessions, events, views, enrollments and attempts of one course, all
    of today; returns the second learner."""
    second = make_member(workspace, email="second@acme.test")
    video_row = VideoFactory(workspace=workspace, course=course)
    for user in (learner, second):
        PageSessionFactory(workspace=workspace, user=user, course=course, started_at=recent(3), duration_s=30)
        PageSessionFactory(workspace=workspace, user=user, course=course, started_at=recent(2), duration_s=50)
        LearningEventFactory(workspace=workspace, user=user, course=course, type="posted_forum", occurred_at=recent(2))
        VideoViewFactory(workspace=workspace, user=user, video=video_row, course=course, started_at=recent(1))
        EnrollmentFactory(workspace=workspace, user=user, course=course, enrolled_at=recent(4))
        AttemptFactory(workspace=workspace, user=user, course=course, state=AttemptState.IN_PROGRESS)
    return second


def test_bulk_update_of_page_sessions_keeps_the_learner_days(workspace, learner, activity, committed):
    with committed():
        changed = PageSession.objects.filter(user=learner).update(duration_s=200)

    assert changed == 2
    assert LearnerDay.objects.get(user=learner).page_seconds == 400
    assert LearnerDay.objects.get(user=activity).page_seconds == 80
    assert differences() == {}


def test_bulk_update_moving_sessions_to_another_day_empties_their_old_day(workspace, learner, activity, committed):
    today, moved_to = recent(1).date(), recent(1) - timedelta(days=9)
    with committed():
        PageSession.objects.filter(user=learner).update(started_at=moved_to)

    # The event and the view stay on today.
    assert dict(LearnerDay.objects.filter(user=learner).values_list("day", "page_sessions")) == {
        today: 0,
        moved_to.date(): 2,
    }
    assert differences() == {}


def test_bulk_delete_of_events_and_views_keeps_the_rollups(workspace, learner, activity, committed):
    with committed():
        LearningEvent.objects.filter(workspace=workspace).delete()
        VideoView.objects.filter(user=learner).delete()

    assert LearnerDay.objects.filter(forum_posts__gt=0).count() == 0
    assert WorkspaceDay.objects.get().video_views == 1
    assert list(VideoDay.objects.values_list("views", flat=True)) == [1]
    assert differences() == {}


def test_bulk_update_of_attempts_and_enrollments_keeps_the_results(workspace, learner, activity, committed):
    with committed():
        Attempt.objects.filter(user=learner).update(state=AttemptState.APPROVED, score=95)
        enrollment = Enrollment.objects.get(user=activity)
        enrollment.mode = "verified"
        Enrollment.objects.bulk_update([enrollment], ["mode"])

    assert Result.objects.get(user=learner).state == AttemptState.APPROVED
    assert differences() == {}


def test_bulk_create_of_page_sessions_refreshes_their_days(workspace, learner, committed):
    with committed():
        PageSession.objects.bulk_create(
            [
                PageSession(workspace=workspace, user=learner, page="p", path="/p", started_at=recent(1), duration_s=s)
                for s in (10, 20)
            ]
        )

    assert LearnerActivity.objects.get(user=learner).page_seconds == 30
    assert differences() == {}


def test_bulk_update_of_problem_responses_recomputes_the_problem_rollups(workspace, learner, course):
    def response(answer, minutes):
        return ProblemResponse(
            workspace_id=workspace.pk,
            user_id=learner.pk,
            course_id=course.pk,
            problem_key="p1",
            part_id="p1_2_1",
            answer=answer,
            submitted_at=recent(1, -minutes),
            source="import",
        )

    record_problem_responses(workspace.pk, [response("a", 0), response("b", 1)])
    ProblemResponse.objects.filter(answer="b").update(answer="c")

    assert list(ProblemAnswerCount.objects.values_list("answer", "count")) == [("c", 1)]
    assert differences() == {}


def test_check_reports_a_tampered_row_and_changes_nothing(workspace, learner, activity, committed):
    day = LearnerDay.objects.get(user=learner)
    LearnerDay.objects.filter(pk=day.pk).update(page_seconds=1)
    Result.objects.filter(user=activity).delete()

    result = check_rollups(workspace.pk)

    by_name = {each.name: each for each in result.rollups}
    assert not result.ok
    [days] = [table for table in by_name["learner_activity"].tables if table.label == "analytics.LearnerDay"]
    [(key, stored, recomputed)] = days.changed
    assert key == {"workspace_id": workspace.pk, "user_id": learner.pk, "day": day.day}
    assert (stored["page_seconds"], recomputed["page_seconds"]) == (1, 80)
    [results] = by_name["results"].tables
    assert [row["user_id"] for row in results.missing] == [activity.pk] and not results.extra
    # Nothing was written back.
    assert LearnerDay.objects.get(pk=day.pk).page_seconds == 1 and not Result.objects.filter(user=activity).exists()


def test_stale_rollup_differences_do_not_fail_the_check(workspace, learner, activity):
    # The factories' writes were never committed: course information is stale (never refreshed).
    result = check_rollups(workspace.pk, ["course_info"])

    [course_info] = result.rollups
    assert course_info.is_stale and course_info.differences > 0 and result.ok


def test_command_check_prints_ok_and_exits_0_when_equal(workspace, learner, activity):
    out = StringIO()
    call_command(
        "rollups",
        "check",
        "--workspace",
        str(workspace.pk),
        "--name",
        "learner_activity",
        "--name",
        "results",
        stdout=out,
    )

    # Two learner-days, two learners, one workspace day; two results.
    assert out.getvalue().splitlines() == ["learner_activity: ok (5 rows)", "results: ok (2 rows)"]


def activity_course(user):
    return Result.objects.get(user=user).course_id


def test_command_check_lists_differences_and_exits_1(workspace, learner, activity):
    Result.objects.filter(user=learner).update(progress=7)
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("rollups", "check", "--workspace", workspace.slug, "--name", "results", stdout=out)

    assert raised.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "results: DIFFERS: 1 differences (2 rows recomputed)"
    assert lines[1] == "  courses.Result: 0 missing, 0 extra, 1 different"
    assert lines[2] == f"    different user_id={learner.pk}, course_id={activity_course(learner)}: progress 7 -> 50"


def test_command_rebuild_repairs_a_tampered_rollup(workspace, learner, activity):
    LearnerDay.objects.filter(user=learner).delete()

    call_command("rollups", "rebuild", "--workspace", workspace.slug, "--name", "learner_activity", stdout=StringIO())

    assert LearnerDay.objects.filter(user=learner).exists()
    assert check_rollups(workspace.pk, ["learner_activity"]).ok


def test_migration_0009_marks_a_filled_learner_rollup_and_migrate_rebuilds_it(workspace, learner, activity):
    from django.apps import apps
    from django.db import connection

    from analytics.models import RollupState
    from analytics.rollups.migrations import rebuild_marked

    migration = importlib.import_module("analytics.migrations.0009_recent_day_words")
    LearnerDay.objects.filter(user=learner).update(page_seconds=1)

    migration.mark_for_rebuild(apps, SimpleNamespace(connection=connection))  # it reads the alias only
    assert RollupState.objects.filter(name="rebuild:learner_activity").exists()
    rebuild_marked(using=connection.alias)

    assert LearnerDay.objects.get(user=learner).page_seconds == 80
    assert not RollupState.objects.filter(name__startswith="rebuild:").exists()


def test_migration_0009_marks_nothing_on_an_empty_database(db):
    from django.apps import apps
    from django.db import connection

    from analytics.models import RollupState

    migration = importlib.import_module("analytics.migrations.0009_recent_day_words")
    migration.mark_for_rebuild(apps, SimpleNamespace(connection=connection))

    assert not RollupState.objects.exists()
