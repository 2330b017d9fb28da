"""manage.py import_tracking_logs: every supported Open edX event type, garbage, gzip, re-imports,
and the real tracking-log fixtures."""

import gzip
import io
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Membership, Role, User, Workspace
from analytics.models import (
    LearningEvent,
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
    VideoView,
)
from analytics.services.tracking_logs import import_tracking_logs
from courses.models import Attempt, AttemptState, Enrollment, Video
from tests.analytics.openedx_problem_facts import CHECKBOX_QUESTION, FRENCH, FURNITURE, INSTRUMENTS, MCQ, OCEAN

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openedx" / "tracking-logs"
COURSE = "course-v1:Acme+TL101+2026"
VIDEO_ID = "block-v1:Acme+TL101+2026+type@video+block@vid1"
PREFIX = "2026-03-01 09:00:00,000 INFO 7 [tracking] [user 7] [ip 10.0.0.1] logger.py:41 - "


def raw(event_type, time, event, *, user_id=7, username="ada", session="s1", source="browser", as_string=True):
    """A raw LMS tracking-log line, logger prefix included; `event` JSON-encoded as the LMS does."""
    record = {
        "event_type": event_type,
        "time": time,
        "event": json.dumps(event) if as_string else event,
        "event_source": source,
        "username": username,
        "session": session,
        "context": {"course_id": COURSE, "user_id": user_id, "org_id": "Acme", "path": "/event"},
    }
    return PREFIX + json.dumps(record)


def processed(name, timestamp, data, *, user_id=7, username="ada", session="s1"):
    """A processed (event bus) line: name / timestamp / data / context, no prefix."""
    context = {"course_id": COURSE, "user_id": user_id, "username": username, "session": session}
    return json.dumps({"name": name, "timestamp": timestamp, "data": data, "context": context})


def video(current_time=None, **extra):
    data = {"id": VIDEO_ID, "code": "yt123", "duration": 100, **extra}
    if current_time is not None:
        data["currentTime"] = current_time
    return data


LINES = [
    # A viewing session s1: play 10 -> pause 40, seek 40 -> 60 while paused, play 60 -> stop 90, complete.
    raw("play_video", "2026-03-01T09:00:00+00:00", video(10)),  # 1
    processed("pause_video", "2026-03-01T09:00:30+00:00", video(40)),  # 2
    raw("seek_video", "2026-03-01T09:00:31+00:00", video(old_time=40, new_time=60, type="onSlideSeek")),  # 3
    raw("play_video", "2026-03-01T09:00:32+00:00", video(60), as_string=False),  # 4
    raw("stop_video", "2026-03-01T09:01:02+00:00", video(90)),  # 5
    processed("complete_video", "2026-03-01T09:01:03+00:00", video()),  # 6
    raw(  # 7: the server's problem_check: attempted_problem
        "problem_check",
        "2026-03-01T09:05:00+00:00",
        {
            "problem_id": "block-v1:Acme+TL101+2026+type@problem+block@p1",
            "grade": 1,
            "max_grade": 2,
            "success": "incorrect",
        },
        source="server",
        as_string=False,
    ),
    raw("problem_check", "2026-03-01T09:04:59+00:00", "input_p1_2_1=choice_2"),  # 8: the browser's: skipped
    processed("edx.forum.thread.created", "2026-03-01T10:00:00+00:00", {"id": "thread1", "title": "Hi"}),  # 9
    processed("edx.forum.thread.voted", "2026-03-01T10:01:00+00:00", {"id": "thread1", "vote_value": "up"}),  # 10
    processed(
        "edx.course.enrollment.activated",
        "2026-02-01T08:00:00+00:00",
        {"course_id": COURSE, "mode": "audit", "user_id": 7},
    ),  # 11
    processed(
        "edx.course.enrollment.mode_changed",
        "2026-02-01T09:00:00+00:00",
        {"course_id": COURSE, "mode": "verified", "user_id": 7},
    ),  # 12
    raw(
        "edx.course.enrollment.deactivated",
        "2026-02-03T08:00:00+00:00",
        {"course_id": COURSE, "mode": "verified", "user_id": 7},
        source="server",
    ),  # 13
    raw(
        "edx.course.grade.now_passed",
        "2026-03-02T08:00:00+00:00",
        {"course_id": COURSE, "user_id": "7"},
        source="server",
    ),  # 14
    raw("load_video", "2026-03-01T08:59:59+00:00", video()),  # 15: known to Open edX, not imported
    raw("edx.ui.lms.link_clicked", "2026-03-01T09:10:00+00:00", {"target_url": "http://x"}),  # 16: not imported
    "this line is not JSON at all",  # 17: invalid
    PREFIX + '{"event_type": "play_video", "time": "2026-03-01T09:00:00+00:00", "event": {"id": ',  # 18: truncated
    json.dumps({"time": "2026-03-01T09:00:00+00:00", "event": {}}),  # 19: no event_type
    "",  # 20: blank, not counted
    "[1, 2, 3]",  # 21: not an object
    raw("play_video", "2026-03-01T09:00:00+00:00", video(5), user_id=None, username=""),  # 22: no user
]
NON_BLANK_LINES = 21


def write_log(tmp_path, lines=LINES, name="tracking.log", compress=False):
    path = tmp_path / name
    text = "\n".join(lines) + "\n"
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def log_file(tmp_path):
    return write_log(tmp_path)


def test_file_with_every_supported_type_and_garbage_imports_with_exact_counts(workspace, log_file):
    summary = import_tracking_logs(workspace, [log_file])

    assert (summary.lines, summary.imported, summary.skipped, summary.invalid) == (NON_BLANK_LINES, 13, 4, 4)
    assert {name: dict(counts) for name, counts in summary.by_type.items()} == {
        "play_video": {"imported": 2, "skipped": 1},
        "pause_video": {"imported": 1},
        "seek_video": {"imported": 1},
        "stop_video": {"imported": 1},
        "complete_video": {"imported": 1},
        "problem_check": {"imported": 1, "skipped": 1},
        "edx.forum.thread.created": {"imported": 1},
        "edx.forum.thread.voted": {"imported": 1},
        "edx.course.enrollment.activated": {"imported": 1},
        "edx.course.enrollment.mode_changed": {"imported": 1},
        "edx.course.enrollment.deactivated": {"imported": 1},
        "edx.course.grade.now_passed": {"imported": 1},
        "load_video": {"skipped": 1},
        "edx.ui.lms.link_clicked": {"skipped": 1},
    }
    assert dict(summary.skip_reasons) == {"type not imported": 3, "no user": 1}
    assert [number for _, number, _ in summary.invalid_examples] == [17, 18, 19, 21]
    assert (
        summary.events_created,
        summary.video_views_written,
        summary.enrollments_written,
        summary.attempts_written,
    ) == (5, 1, 1, 1)


def test_player_events_of_a_session_become_one_video_view(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    view = VideoView.objects.get()
    # Watched [10, 40] and [60, 90]: 60 s; completed, so the furthest position is the end (100 s).
    assert (view.watched_s, view.position_s, view.is_completed, view.source) == (60, 100, True, "tracking_log")
    assert view.segments == [2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17]
    assert view.started_at.isoformat() == "2026-03-01T09:00:00+00:00"
    assert (view.video.key, view.video.duration_s, view.video.course.key) == ("vid1", 100, COURSE)


def test_each_play_is_a_played_video_event(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    played = LearningEvent.objects.filter(type="played_video").order_by("occurred_at")
    assert [(event.object, event.occurred_at.second) for event in played] == [("vid1", 0), ("vid1", 32)]


def test_server_problem_check_is_an_attempted_problem_and_the_browser_one_is_skipped(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    event = LearningEvent.objects.get(type="attempted_problem")
    assert event.object == "block-v1:Acme+TL101+2026+type@problem+block@p1"
    assert event.data == {"eventType": "problem_check", "success": False, "score": 50}
    assert (event.course.key, event.source) == (COURSE, "tracking_log")


def test_forum_created_is_posted_forum_and_other_forum_events_keep_their_name(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    forum = LearningEvent.objects.exclude(type__in=["played_video", "attempted_problem"]).order_by("occurred_at")
    assert [(event.type, event.object) for event in forum] == [
        ("posted_forum", "thread1"),
        ("edx.forum.thread.voted", "thread1"),
    ]


def test_enrollment_events_fold_into_one_enrollment(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    enrollment = Enrollment.objects.get()
    assert enrollment.mode == "verified"
    assert enrollment.enrolled_at.isoformat() == "2026-02-01T08:00:00+00:00"
    assert enrollment.unenrolled_at.isoformat() == "2026-02-03T08:00:00+00:00"


def test_grade_passed_sets_the_attempt_approved(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    attempt = Attempt.objects.get()
    assert (attempt.state, attempt.progress, attempt.completed_at.day) == (AttemptState.APPROVED, 100, 2)


def test_lms_user_becomes_one_placeholder_learner(workspace, log_file):
    import_tracking_logs(workspace, [log_file])

    user = User.objects.get()
    assert (user.email, user.first_name) == ("user-7@openedx.invalid", "ada")
    assert Membership.objects.get(user=user).role == Role.LEARNER
    assert set(LearningEvent.objects.values_list("user", flat=True)) == {user.pk}


def test_email_domain_option_names_the_placeholders(workspace, log_file):
    import_tracking_logs(workspace, [log_file], email_domain="lms.acme.test")

    assert list(User.objects.values_list("email", flat=True)) == ["user-7@lms.acme.test"]


def test_line_without_user_id_is_matched_by_username(workspace, tmp_path):
    path = write_log(
        tmp_path,
        [raw("edx.forum.thread.created", "2026-03-01T10:00:00+00:00", {"id": "t9"}, user_id=None, username="Bob.K")],
    )

    import_tracking_logs(workspace, [path])

    assert LearningEvent.objects.get().user.email == "bob.k@openedx.invalid"


def test_reimporting_the_same_file_changes_nothing(workspace, log_file):
    import_tracking_logs(workspace, [log_file])
    before = [list(model.objects.values()) for model in (LearningEvent, VideoView, Enrollment)]

    again = import_tracking_logs(workspace, [log_file])

    assert (again.events_created, again.video_views_written, again.enrollments_written, again.attempts_written) == (
        0,
        0,
        0,
        0,
    )
    assert [list(model.objects.values()) for model in (LearningEvent, VideoView, Enrollment)] == before


def test_gzipped_file_imports_like_the_plain_one(workspace, tmp_path):
    path = write_log(tmp_path, name="tracking.log.gz", compress=True)

    summary = import_tracking_logs(workspace, [path])

    assert (summary.lines, summary.imported, summary.skipped, summary.invalid) == (NON_BLANK_LINES, 13, 4, 4)
    assert (LearningEvent.objects.count(), VideoView.objects.count()) == (5, 1)


def test_session_split_across_chunks_is_still_one_view(workspace, tmp_path):
    from analytics.services.tracking_logs import TrackingLogImporter

    importer = TrackingLogImporter(workspace, chunk_lines=2)
    importer.import_file(write_log(tmp_path, LINES[:6]))
    importer.finish()

    view = VideoView.objects.get()
    assert (view.watched_s, view.position_s) == (60, 100)


def test_shared_tracking_log_fixture_imports(workspace):
    summary = import_tracking_logs(workspace, [FIXTURES / "tracking.log"])

    # 12 lines: 2 are broken JSON (as found upstream); the server problem_check and now_failed are
    # imported; the browser problem_check, the handler URL event, problem_graded and the grade
    # calculations are not imported types.
    assert (summary.lines, summary.imported, summary.skipped, summary.invalid) == (12, 2, 8, 2)
    event = LearningEvent.objects.get()
    assert (event.type, event.user.email, event.user.first_name) == (
        "attempted_problem",
        "user-6@openedx.invalid",
        "bmtcril",
    )
    assert Attempt.objects.get().state == AttemptState.FAILED


def test_processed_event_fixtures_import(workspace, tmp_path):
    lines = [json.dumps(json.loads(path.read_text())) for path in sorted((FIXTURES / "events").glob("*.json"))]

    summary = import_tracking_logs(workspace, [write_log(tmp_path, lines)])

    # 43 before navigation was read, + the 4 sequence / outline events.
    assert (summary.lines, summary.imported, summary.skipped, summary.invalid) == (81, 47, 34, 0)
    view = VideoView.objects.get(user__email="user-3@openedx.invalid")
    # The same session as the xAPI fixtures: played from 0.033 s, paused at 194.4 s, completed.
    assert (view.watched_s, view.position_s, view.is_completed, view.segments) == (194, 195, True, list(range(39)))
    assert Video.objects.get().key == "0b9e39477cf34507a7a48f74be381fdd"


def test_command_prints_the_summary_and_creates_the_workspace(db, log_file):
    out, err = io.StringIO(), io.StringIO()

    call_command("import_tracking_logs", "--workspace", "edx-logs", str(log_file), stdout=out, stderr=err)

    assert Workspace.objects.filter(slug="edx-logs").exists()
    assert f"{NON_BLANK_LINES} lines read from 1 file(s)" in out.getvalue()
    assert "13 imported, 4 skipped, 4 invalid" in out.getvalue()
    assert f"{log_file}:17: no JSON object on the line" in err.getvalue()


def test_command_json_summary(workspace, log_file):
    out = io.StringIO()

    call_command("import_tracking_logs", "--workspace", workspace.slug, "--json", str(log_file), stdout=out)

    summary = json.loads(out.getvalue())
    assert (summary["imported"], summary["skipped"], summary["invalid"], summary["eventsCreated"]) == (13, 4, 4, 5)


@pytest.mark.django_db(transaction=True)
def test_threaded_import_writes_the_same_as_the_sequential_one(tmp_path):
    from analytics.services.tracking_logs import TrackingLogImporter

    workspace = Workspace.objects.create(slug="threaded", name="Threaded")
    importer = TrackingLogImporter(workspace, chunk_lines=3, threaded=True)
    importer.import_file(write_log(tmp_path))
    summary = importer.finish()

    assert (summary.lines, summary.imported, summary.skipped, summary.invalid) == (NON_BLANK_LINES, 13, 4, 4)
    assert (summary.events_created, LearningEvent.objects.count(), VideoView.objects.get().watched_s) == (5, 5, 60)
    assert Enrollment.objects.get().mode == "verified"


@pytest.mark.django_db(transaction=True)
def test_error_in_the_writer_thread_is_raised_by_the_import(tmp_path, monkeypatch):
    from analytics.services import tracking_logs

    workspace = Workspace.objects.create(slug="failing", name="Failing")

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tracking_logs, "ensure_learners", broken)
    importer = tracking_logs.TrackingLogImporter(workspace, chunk_lines=3, threaded=True)

    with pytest.raises(RuntimeError, match="database went away"):
        importer.import_file(write_log(tmp_path))
        importer.finish()
    importer.abort()


# -- problem responses and subsection opens ----------------------------------------------------

EVENTS = FIXTURES / "events"
CHECKBOXES = "block-v1:edX+DemoX+Demo_Course+type@problem+block@3fc5461f86764ad7bdbdf6cbdde61e66"


def import_fixture(workspace, tmp_path, *names):
    lines = [json.dumps(json.loads((EVENTS / name).read_text())) for name in names]
    return import_tracking_logs(workspace, [write_log(tmp_path, lines)])


def response_rows():
    fields = ("part_id", "answer", "value_id", "correct", "grade", "max_grade", "attempt", "question", "problem_name")
    return sorted(ProblemResponse.objects.values_list(*fields))


# Read off each fixture by hand: (part, answer, value id = event.answers, correct, grade, max
# grade, attempts, question, module display name), one row per part of event.submission.
PROBLEM_FIXTURES = {
    "problem_check(server).json": [
        (
            "3fc5461f86764ad7bdbdf6cbdde61e66_2_1",
            "[a correct answer|an incorrect answer]",
            "[choice_0|choice_2]",
            False,
            0.0,
            1.0,
            10,
            CHECKBOX_QUESTION,
            "Checkboxes",
        ),
    ],
    "problem_check(server).max_grade_0.json": [
        (
            "3fc5461f86764ad7bdbdf6cbdde61e66_2_1",
            "[a correct answer|an incorrect answer]",
            "[choice_0|choice_2]",
            False,
            0.0,
            0.0,
            10,
            CHECKBOX_QUESTION,
            "Checkboxes",
        ),
    ],
    "problem_check(server)_no_response_type.json": [
        (
            "3fc5461f86764ad7bdbdf6cbdde61e66_2_1",
            "[a correct answer|an incorrect answer]",
            "[choice_0|choice_2]",
            False,
            0.0,
            1.0,
            10,
            CHECKBOX_QUESTION,
            "Checkboxes",
        ),
    ],
    "problem_check(server,string_anwers).json": [  # event.answers is empty: no value id
        (
            "3fc5461f86764ad7bdbdf6cbdde61e66_2_1",
            "A correct answer",
            "",
            False,
            0.0,
            1.0,
            10,
            CHECKBOX_QUESTION,
            "Checkboxes",
        ),
    ],
    "problem_check(server,unsupported_responsetype).json": [
        (
            "3fc5461f86764ad7bdbdf6cbdde61e66_2_1",
            "A correct answer",
            "answer",
            False,
            0.0,
            1.0,
            10,
            CHECKBOX_QUESTION,
            "Checkboxes",
        ),
    ],
    "problem_check(server,multiple_questions,correct).json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "blue", True, 3.0, 3.0, 3, OCEAN, "Multiple Choice Questions"),
        (
            "a0effb954cca4759994f1ac9e9434bf4_3_1",
            "a chair",
            "choice_2",
            True,
            3.0,
            3.0,
            3,
            FURNITURE,
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_4_1",
            "[a piano|a guitar]",
            "[choice_0|choice_2]",
            True,
            3.0,
            3.0,
            3,
            INSTRUMENTS,
            "Multiple Choice Questions",
        ),
    ],
    "problem_check(server,multiple_questions,incorrect).json": [
        (
            "a0effb954cca4759994f1ac9e9434bf4_2_1",
            "yellow",
            "yellow",
            False,
            0.0,
            3.0,
            1,
            OCEAN,
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_3_1",
            "a bookshelf",
            "choice_3",
            False,
            0.0,
            3.0,
            1,
            FURNITURE,
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_4_1",
            "[a window]",
            "[choice_3]",
            False,
            0.0,
            3.0,
            1,
            INSTRUMENTS,
            "Multiple Choice Questions",
        ),
    ],
    "problem_check(server,multiple_questions,partial_correct).json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "blue", True, 2.0, 3.0, 2, OCEAN, "Multiple Choice Questions"),
        (
            "a0effb954cca4759994f1ac9e9434bf4_3_1",
            "a bookshelf",
            "choice_3",
            False,
            2.0,
            3.0,
            2,
            FURNITURE,
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_4_1",
            "[a piano|a guitar]",
            "[choice_0|choice_2]",
            True,
            2.0,
            3.0,
            2,
            INSTRUMENTS,
            "Multiple Choice Questions",
        ),
    ],
    "problem_check(server).list_answers.json": [
        ("a0effb954cca4759994f1ac9e9434bf4_2_1", "blue", "blue", True, 2.0, 4.0, 9, "", "Multiple Choice Questions"),
        (
            "a0effb954cca4759994f1ac9e9434bf4_3_1",
            "a chair",
            "choice_2",
            True,
            2.0,
            4.0,
            9,
            "",
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_4_1",
            "[a piano|a tree|a guitar]",
            "[choice_0|choice_1|choice_2]",
            False,
            2.0,
            4.0,
            9,
            "",
            "Multiple Choice Questions",
        ),
        (
            "a0effb954cca4759994f1ac9e9434bf4_5_1",
            FRENCH,
            "[choice_0|choice_1|choice_2|choice_3|choice_4|choice_5]",
            False,
            2.0,
            4.0,
            9,
            "",
            "Multiple Choice Questions",
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(PROBLEM_FIXTURES))
def test_server_problem_check_fixture_becomes_one_response_per_part(workspace, tmp_path, name):
    summary = import_fixture(workspace, tmp_path, name)

    assert response_rows() == PROBLEM_FIXTURES[name]
    assert summary.problem_responses_created == len(PROBLEM_FIXTURES[name])
    # The attempted_problem learning event is still recorded, once per line.
    assert LearningEvent.objects.get().type == "attempted_problem"
    assert set(ProblemResponse.objects.values_list("source", "course__key")) == {
        ("tracking_log", "course-v1:edX+DemoX+Demo_Course")
    }


def test_problem_fixtures_missing_from_the_table_are_only_the_browser_ones():
    names = {path.name for path in EVENTS.glob("problem_check*.json")}
    assert names - set(PROBLEM_FIXTURES) == {
        "problem_check(browser).json",
        "problem_check(browser).ccx.json",
        "problem_check(browser).required.only.data.json",
        "problem_check(browser)legacy.json",
    }


@pytest.mark.parametrize(
    "name",
    [
        "problem_check(browser).json",
        "problem_check(browser).ccx.json",
        "problem_check(browser).required.only.data.json",
        "problem_check(browser)legacy.json",
    ],
)
def test_browser_problem_check_fixture_carries_no_grading_and_makes_no_response(workspace, tmp_path, name):
    summary = import_fixture(workspace, tmp_path, name)

    assert (summary.problem_responses_created, ProblemResponse.objects.count()) == (0, 0)


NAVIGATION_FIXTURES = {
    "edx.ui.lms.sequence.next_selected.json": "block-v1:edX+DemoX+Demo_Course+type@sequential+block@19a30717eff543078a5d94ae9d6c18a5",
    "edx.ui.lms.sequence.previous_selected.json": "block-v1:edX+DemoX+Demo_Course+type@sequential+block@19a30717eff543078a5d94ae9d6c18a5",
    "edx.ui.lms.sequence.tab_selected.json": "block-v1:edX+DemoX+Demo_Course+type@sequential+block@19a30717eff543078a5d94ae9d6c18a5",
    # The outline names the sequential in the target_url it jumps to.
    "edx.ui.lms.outline.selected.json": "block-v1:edX+DemoX+Demo_Course+type@sequential+block@48ecb924d7fe4b66a230137626bfa93e",
}


@pytest.mark.parametrize("name", sorted(NAVIGATION_FIXTURES))
def test_navigation_fixture_opens_its_sequential(workspace, tmp_path, name):
    summary = import_fixture(workspace, tmp_path, name)

    opened = SubsectionOpen.objects.get()
    assert (opened.subsection_key, opened.user.email, opened.course.key, opened.source) == (
        NAVIGATION_FIXTURES[name],
        "user-3@openedx.invalid",
        "course-v1:edX+DemoX+Demo_Course",
        "tracking_log",
    )
    assert (summary.imported, summary.subsection_opens_created) == (1, 1)


def test_every_fixture_together_gives_the_hand_counted_distributions(workspace, tmp_path):
    summary = import_fixture(workspace, tmp_path, *sorted(path.name for path in EVENTS.glob("*.json")))

    # 5 single-part checks + 3 checks of 3 parts + 1 of 4 parts = 18 responses.
    assert (summary.problem_responses_created, summary.subsection_opens_created) == (18, 4)
    # Problem a0eff: learner 8's last check (06:32, all correct, 3/3) and learner 6's (2/4).
    counts = {
        (row.part_id[-3:], row.answer, row.correct): row.count
        for row in ProblemAnswerCount.objects.filter(problem_key=MCQ)
    }
    assert counts == {
        ("2_1", "blue", True): 2,
        ("3_1", "a chair", True): 2,
        ("4_1", "[a piano|a guitar]", True): 1,
        ("4_1", "[a piano|a tree|a guitar]", False): 1,
        ("5_1", FRENCH, False): 1,
    }
    grades = {(row.grade, row.max_grade): row.count for row in ProblemGradeCount.objects.filter(problem_key=MCQ)}
    assert grades == {(3.0, 3.0): 1, (2.0, 4.0): 1}
    # Problem 3fc5: five checks by learner 3 at the same instant, imported together: the tie goes
    # to the greatest id (problem_rollups), one learner counted under that check's answer and grade.
    last = max(ProblemResponse.objects.filter(problem_key=CHECKBOXES), key=lambda row: (row.submitted_at, row.id))
    answers = {
        (row.part_id, row.answer, row.correct): row.count
        for row in ProblemAnswerCount.objects.filter(problem_key=CHECKBOXES)
    }
    assert answers == {(last.part_id, last.answer, last.correct): 1}
    grades = {(row.grade, row.max_grade): row.count for row in ProblemGradeCount.objects.filter(problem_key=CHECKBOXES)}
    assert grades == {(last.grade, last.max_grade): 1}
    # Sequential 19a3 opened three times by learner 3, 48ec once: one learner each.
    assert sorted(SubsectionLearner.objects.values_list("subsection_key", flat=True)) == sorted(
        set(NAVIGATION_FIXTURES.values())
    )


def test_shared_tracking_log_fixture_has_one_response(workspace):
    summary = import_tracking_logs(workspace, [FIXTURES / "tracking.log"])

    assert summary.problem_responses_created == 1
    assert response_rows() == [
        (
            "932e6f2ce8274072a355a94560216d1a_2_1",
            "There is an implication that the strangeness to follow can be considered like a dream.",
            "choice_2",
            True,
            1.0,
            1.0,
            3,
            "",
            "Perchance to Dream",
        )
    ]


def test_server_problem_check_without_a_submission_makes_no_response(workspace, log_file):
    summary = import_tracking_logs(workspace, [log_file])

    assert (summary.problem_responses_created, ProblemResponse.objects.count()) == (0, 0)


def test_legacy_seq_goto_opens_its_sequential_and_a_non_sequential_target_is_skipped(workspace, tmp_path):
    sequential = "i4x://Acme/TL101/sequential/s1"
    lines = [
        raw("seq_goto", "2026-03-01T09:00:00+00:00", {"old": 1, "new": 2, "id": sequential}),
        raw("seq_next", "2026-03-01T09:01:00+00:00", {"old": 2, "new": 3, "id": sequential}, user_id=8, username="bo"),
        processed(
            "edx.ui.lms.outline.selected",
            "2026-03-01T09:02:00+00:00",
            {"target_url": "http://lms/courses/x/jump_to/block-v1:Acme+TL101+2026+type@chapter+block@c1"},
        ),
    ]

    summary = import_tracking_logs(workspace, [write_log(tmp_path, lines)])

    assert (summary.imported, summary.skipped, dict(summary.skip_reasons)) == (2, 1, {"no subsection": 1})
    assert SubsectionLearner.objects.filter(subsection_key=sequential).count() == 2


def test_reimporting_fixtures_adds_no_response_and_no_open(workspace, tmp_path):
    names = [*sorted(PROBLEM_FIXTURES), *sorted(NAVIGATION_FIXTURES)]
    import_fixture(workspace, tmp_path, *names)
    before = (
        sorted(ProblemResponse.objects.values_list("pk", flat=True)),
        sorted(SubsectionOpen.objects.values_list("pk", flat=True)),
    )

    again = import_fixture(workspace, tmp_path, *names)

    assert (again.problem_responses_created, again.subsection_opens_created) == (0, 0)
    after = (
        sorted(ProblemResponse.objects.values_list("pk", flat=True)),
        sorted(SubsectionOpen.objects.values_list("pk", flat=True)),
    )
    assert after == before


def test_the_last_write_refreshes_the_learner_activity_once_for_every_view_batch(workspace, tmp_path, monkeypatch):
    """Two viewing sessions written one view per batch (VIEW_BATCH = 1): one refresh of the
    learner days and activity for the whole last write (one LearnerActivity upsert, not one per
    batch), and the rollup has the learner's one day."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.models import LearnerDay
    from analytics.services import tracking_logs

    monkeypatch.setattr(tracking_logs, "VIEW_BATCH", 1)
    lines = [
        raw("play_video", "2026-03-01T09:00:00+00:00", video(10), session="s1"),
        raw("pause_video", "2026-03-01T09:00:30+00:00", video(40), session="s1"),
        raw("play_video", "2026-03-01T10:00:00+00:00", video(0), session="s2"),
        raw("pause_video", "2026-03-01T10:00:20+00:00", video(20), session="s2"),
    ]
    importer = tracking_logs.TrackingLogImporter(workspace)
    importer.import_file(write_log(tmp_path, lines))
    with CaptureQueriesContext(connection) as queries:
        summary = importer.finish()

    assert summary.video_views_written == 2
    # On PostgreSQL the upsert may follow a WITH clause (the WorkspaceDay difference, added last).
    activity_upserts = [q for q in queries.captured_queries if 'INSERT INTO "analytics_learneractivity"' in q["sql"]]
    assert len(activity_upserts) == 1
    assert list(LearnerDay.objects.values_list("day", flat=True)) == [date(2026, 3, 1)]


def test_import_creates_learners_without_a_usable_password(workspace, tmp_path):
    lines = [raw("play_video", "2026-03-01T09:00:00+00:00", video(10), user_id=n, username=f"u{n}") for n in (1, 2)]
    import_tracking_logs(workspace, [write_log(tmp_path, lines)])

    passwords = list(User.objects.filter(memberships__workspace=workspace).values_list("password", flat=True))
    assert len(passwords) == 2 and len(set(passwords)) == 2
    assert all(password.startswith("!") and len(password) == 41 for password in passwords)
    assert not any(User(password=password).has_usable_password() for password in passwords)
