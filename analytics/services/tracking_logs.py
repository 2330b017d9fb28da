"""Import Open edX tracking logs (docs/tracking-logs.md has the mapping and every rule).

A tracking log is JSON lines, each optionally prefixed by the Python logger's text (`2023-05-23
13:53:13,461 INFO 20 [tracking] ... logger.py:41 - {json}`), in the raw LMS form (`event_type`,
`time`, `event` as a JSON string or object, `context`) or the processed form of the event bus
(`name`, `timestamp`, `data`, `context`). Files may be gzipped.

Lines are read in chunks; each chunk's learners and courses are resolved in bulk and its events
written in a few multi-row statements (records.upsert_events), in one transaction per chunk.
A server `problem_check` also becomes one ProblemResponse per part of its submission, and the
sequence navigation events one SubsectionOpen each, written through analytics.services
.problem_rollups (which keeps the answer, grade and subsection rollups in the same transaction).
Player events are gathered per viewing session over the whole import and become one VideoView per
session at the end (video_sessions.summarize_session); enrollment and grade changes are folded
onto the stored rows at the end. Importing the same lines again changes nothing: event and view
ids are derived from the lines themselves.
"""

import gzip
import hashlib
import json
import logging
import queue
import threading
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from itertools import islice
from urllib.parse import unquote

from django.db import connection, transaction
from django.utils import timezone

from analytics.models import EventSource, LearningEvent, ProblemResponse, SubsectionOpen
from analytics.services import video_sessions
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    VideoSpec,
    apply_attempt_outcomes,
    apply_enrollment_changes,
    derived_id,
    ensure_learners,
    ensure_titled_courses,
    ensure_videos,
    session_view_row,
)
from analytics.rollups.changes import batched, rows_changed
from analytics.services.learner_activity import activity_pairs
from analytics.services.partitions import conflict_columns, note_times
from analytics.services.problem_rollups import list_answer, record_problem_responses, record_subsection_opens
from analytics.services.records import upsert_events, upsert_video_views
from courses.models import AttemptState

try:  # several times faster than the standard library on log lines; NaN-bearing lines fall back
    import orjson

    _fast_loads = orjson.loads

    def _fast_dumps(value):
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - orjson is in requirements.txt
    _fast_loads = json.loads

    def _fast_dumps(value):
        return json.dumps(value, separators=(",", ":"))


logger = logging.getLogger(__name__)

CHUNK_LINES = 20_000
VIEW_BATCH = 2_000
DEFAULT_EMAIL_DOMAIN = "openedx.invalid"
MAX_EXAMPLES = 20

PLAYER_EVENTS = {
    "play_video": video_sessions.PLAY,
    "edx.video.played": video_sessions.PLAY,
    "pause_video": video_sessions.PAUSE,
    "edx.video.paused": video_sessions.PAUSE,
    "seek_video": video_sessions.SEEK,
    "edx.video.position.changed": video_sessions.SEEK,
    "stop_video": video_sessions.STOP,
    "edx.video.stopped": video_sessions.STOP,
    "complete_video": video_sessions.COMPLETE,
    "edx.video.completed": video_sessions.COMPLETE,
}
FORUM_CREATED = {"edx.forum.thread.created", "edx.forum.response.created", "edx.forum.comment.created"}
ENROLLMENT_EVENTS = {
    "edx.course.enrollment.activated": "enroll",
    "edx.course.enrollment.deactivated": "unenroll",
    "edx.course.enrollment.mode_changed": "mode",
}
GRADE_EVENTS = {
    "edx.course.grade.passed.first_time": AttemptState.APPROVED,
    "edx.course.grade.now_passed": AttemptState.APPROVED,
    "edx.course.grade.now_failed": AttemptState.FAILED,
}

# Events that open a subsection (an Open edX sequential): the legacy courseware's seq_goto /
# seq_next / seq_prev and the learning MFE's sequence and outline events.
NAVIGATION_EVENTS = {
    "seq_goto",
    "seq_next",
    "seq_prev",
    "edx.ui.lms.sequence.next_selected",
    "edx.ui.lms.sequence.previous_selected",
    "edx.ui.lms.sequence.tab_selected",
    "edx.ui.lms.outline.selected",
}

IMPORTED_TYPES = {"problem_check", *ENROLLMENT_EVENTS, *GRADE_EVENTS, *NAVIGATION_EVENTS}

# What became of a line.
IMPORTED = "imported"
SKIPPED = "skipped"


@dataclass
class ImportSummary:
    """Counts of one import. lines: non-blank lines read; invalid: lines that are not a JSON event;
    by_type: {event type: Counter(imported=, skipped=)} for every JSON event read."""

    files: int = 0
    lines: int = 0
    invalid: int = 0
    by_type: dict = field(default_factory=lambda: defaultdict(Counter))
    skip_reasons: Counter = field(default_factory=Counter)
    invalid_examples: list = field(default_factory=list)
    events_created: int = 0
    video_views_written: int = 0
    enrollments_written: int = 0
    attempts_written: int = 0
    problem_responses_created: int = 0
    subsection_opens_created: int = 0

    @property
    def imported(self):
        return sum(counts[IMPORTED] for counts in self.by_type.values())

    @property
    def skipped(self):
        return sum(counts[SKIPPED] for counts in self.by_type.values())

    def as_dict(self):
        return {
            "files": self.files,
            "lines": self.lines,
            "imported": self.imported,
            "skipped": self.skipped,
            "invalid": self.invalid,
            "eventsCreated": self.events_created,
            "videoViewsWritten": self.video_views_written,
            "enrollmentsWritten": self.enrollments_written,
            "attemptsWritten": self.attempts_written,
            "problemResponsesCreated": self.problem_responses_created,
            "subsectionOpensCreated": self.subsection_opens_created,
            "byType": {name: dict(counts) for name, counts in sorted(self.by_type.items())},
            "skipReasons": dict(self.skip_reasons),
        }


class LineInvalid(ValueError):
    """A line that is not a tracking-log event; the message says why."""


class LogEvent:
    """One tracking-log event, normalised from either form (a plain slotted class: it is made once
    per line, so it stays cheap)."""

    __slots__ = ("name", "at", "data", "context", "username", "session", "source", "text")

    def __init__(self, name, at, data, context, username, session, source, text):
        self.name = name
        self.at = at  # aware datetime
        self.data = data  # the `event` / `data` payload: dict, str, list or None
        self.context = context
        self.username = username
        self.session = session
        self.source = source  # "server", "browser", "mobile" or ""
        self.text = text  # the JSON text, for the derived id


def _parse_time(value):
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value if "T" in value else value.replace(" ", "T", 1))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)
    raise LineInvalid("time: not an ISO 8601 time")


def parse_line(line):
    """The LogEvent of one tracking-log line (logger prefix allowed), or raise LineInvalid.

    The payload (`event` / `data`) is decoded from its JSON string only for the event types this
    import reads: it is most of a line's cost and other types are only counted.
    """
    start = line.find("{")
    if start < 0:
        raise LineInvalid("no JSON object on the line")
    text = line[start:].rstrip()
    try:
        record = json_loads(text)
    except ValueError as error:
        raise LineInvalid(f"not valid JSON ({_json_reason(error, start)})") from None
    if not isinstance(record, dict):
        raise LineInvalid("not a JSON object")
    name = record.get("event_type") or record.get("name")
    if not isinstance(name, str) or not name:
        raise LineInvalid("event_type: missing")
    at = _parse_time(record.get("time") or record.get("timestamp"))
    context = record.get("context")
    if not isinstance(context, dict):
        context = {}
    data = record["event"] if "event" in record else record.get("data")
    if isinstance(data, str) and data[:1] in ("{", "[") and _is_imported_type(name):
        try:
            data = json_loads(data)
        except ValueError:
            pass
    username = (
        record.get("username") or context.get("username") or (data.get("username") if isinstance(data, dict) else "")
    )
    return LogEvent(
        name,
        at,
        data,
        context,
        username if isinstance(username, str) else "",
        str(record.get("session") or context.get("session") or ""),
        str(record.get("event_source") or context.get("event_source") or ""),
        text,
    )


def json_loads(text):
    """Parse JSON like the standard library (which also reads the NaN / Infinity that Python's
    json.dumps writes), with orjson's speed for the common case."""
    try:
        return _fast_loads(text)
    except ValueError:
        return json.loads(text)


def _json_reason(error, offset):
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {offset + error.pos + 1}"
    return str(error)


def line_event_id(workspace_id, text):
    """The id of the event a line becomes: a name-based (version 5 style) UUID of the workspace
    and the line's JSON text, so the same line imported again is the same event."""
    digest = hashlib.sha1(b"tracking-log|%d|" % workspace_id)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return uuid.UUID(bytes=digest.digest()[:16], version=5)


def _is_imported_type(name):
    return name in PLAYER_EVENTS or name in IMPORTED_TYPES or name.startswith("edx.forum.")


def _user_id_of(event):
    """The LMS user id of an event (context, else payload), as text; "" when none."""
    data = event.data if isinstance(event.data, dict) else {}
    for value in (event.context.get("user_id"), data.get("user_id")):
        if isinstance(value, bool):
            continue
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return str(int(value))
    return ""


def learner_email(event, domain):
    """(placeholder email, display name) of the learner of an event, or (None, "").

    Keyed by the LMS user id when the event has one (`user-<id>@<domain>`, first name = the
    username), else by the username (`<username>@<domain>`).
    """
    user_id = _user_id_of(event)
    username = event.username.strip()
    if user_id:
        return f"user-{user_id}@{domain}", username
    if username:
        safe = "".join(char if char.isalnum() or char in "._+-" else "-" for char in username.lower())
        return f"{safe[:64]}@{domain}", username
    return None, ""


def _course_key_of(event):
    data = event.data if isinstance(event.data, dict) else {}
    key = event.context.get("course_id") or data.get("course_id") or ""
    return key[:255] if isinstance(key, str) else ""


def video_key(value):
    """Video key of a tracking-log video id: the block id of a usage key (`...block@ab12` ->
    `ab12`, `i4x-Org-X-video-ab12` -> `ab12`), as xAPI statements name the same video."""
    value = str(value or "").strip()
    if "block@" in value:
        return value.rsplit("block@", 1)[-1]
    if "-video-" in value:
        return value.rsplit("-video-", 1)[-1]
    return value


def _number(data, *names):
    for name in names:
        value = data.get(name)
        position = video_sessions.clean_position(value)
        if position is not None:
            return position
    return None


def _problem_score(data):
    grade, maximum = data.get("grade"), data.get("max_grade")
    if (
        isinstance(grade, (int, float))
        and isinstance(maximum, (int, float))
        and maximum > 0
        and not isinstance(grade, bool)
    ):
        return round(max(0.0, min(1.0, grade / maximum)) * 100)
    return None


def _answer_text(value):
    """An answer or value id as text: a list (checkboxes) as `[a|b]`, as problem_rollups spells it."""
    if value is None:
        return ""
    if isinstance(value, list):
        return list_answer(item if isinstance(item, str) else json_dumps(item) for item in value)
    return value if isinstance(value, str) else json_dumps(value)


def _grade_pair(data):
    """(grade, max_grade) of a problem_check as floats, or (None, None) unless both are numbers."""
    grade, maximum = data.get("grade"), data.get("max_grade")
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (grade, maximum)):
        return float(grade), float(maximum)
    return None, None


def problem_responses(event, data, problem):
    """[dict of ProblemResponse fields] of a server problem_check: one per part of
    `event.submission`, with the event's grade, max_grade and attempts, the module's display name,
    and as value id the part's raw value in `event.answers` (what the learner submitted: choice ids
    for choice inputs). `state.student_answers` is the state before this check, so it is not read.
    An id is derived from the line and the part."""
    submission = data.get("submission")
    if not isinstance(submission, dict):
        return []
    answers = data.get("answers") if isinstance(data.get("answers"), dict) else {}
    correct_map = data.get("correct_map") if isinstance(data.get("correct_map"), dict) else {}
    module = event.context.get("module") if isinstance(event.context.get("module"), dict) else {}
    grade, max_grade = _grade_pair(data)
    attempt = data.get("attempts")
    attempt = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and 0 <= attempt < 2**31 else None
    problem_name = module.get("display_name") if isinstance(module.get("display_name"), str) else ""
    rows = []
    for part, sent in submission.items():
        if not isinstance(sent, dict) or not part:
            continue
        correct = sent.get("correct")
        if not isinstance(correct, bool):
            mark = correct_map.get(part)
            correct = (
                mark.get("correctness") == "correct" if isinstance(mark, dict) and mark.get("correctness") else None
            )
        rows.append(
            {
                "part": str(part),
                "problem_key": problem[:500],
                "part_id": str(part)[:255],
                "answer": _answer_text(sent.get("answer")),
                "value_id": _answer_text(answers.get(part))[:255],
                "correct": correct,
                "grade": grade,
                "max_grade": max_grade,
                "variant": str(sent.get("variant") or "")[:100],
                "attempt": attempt,
                "submitted_at": event.at,
                "question": sent.get("question") if isinstance(sent.get("question"), str) else "",
                "problem_name": problem_name[:300],
            }
        )
    return rows


def subsection_key(event, data):
    """The usage key of the sequential a navigation event opens, or "": the event's `id` (the
    sequence the learner moves in), or for edx.ui.lms.outline.selected the block its `target_url`
    jumps to. Only sequentials count (`type@sequential`, legacy `.../sequential/...`)."""
    if event.name == "edx.ui.lms.outline.selected":
        target = data.get("target_url") if isinstance(data.get("target_url"), str) else ""
        key = unquote(target.split("/jump_to/", 1)[1]).split("?", 1)[0].strip("/") if "/jump_to/" in target else ""
    else:
        key = data.get("id") if isinstance(data.get("id"), str) else ""
    key = key.strip()
    return key[:500] if "type@sequential" in key or "/sequential/" in key else ""


@dataclass
class _Pending:
    """What a chunk of lines asks to write, before learners and courses are resolved."""

    events: list = field(default_factory=list)  # (email, course key, row dict)
    players: list = field(default_factory=list)  # (email, course key, video key, session, duration, PlayerEvent)
    enrollments: list = field(default_factory=list)  # (email, course key, at, action, mode)
    outcomes: list = field(default_factory=list)  # (email, course key, at, state)
    responses: list = field(default_factory=list)  # (email, course key, dict of ProblemResponse fields + id)
    opens: list = field(default_factory=list)  # (email, course key, id, subsection key, at)
    people: dict = field(default_factory=dict)
    course_keys: set = field(default_factory=set)


class TrackingLogImporter:
    """Imports tracking-log lines into one workspace; feed files, then finish() for the summary."""

    def __init__(self, workspace, *, email_domain=DEFAULT_EMAIL_DOMAIN, chunk_lines=CHUNK_LINES, threaded=None):
        self.workspace = workspace
        self.domain = email_domain.strip().lower().lstrip("@")
        self.chunk_lines = chunk_lines
        self.summary = ImportSummary()
        self.user_ids = {}
        self.course_ids = {}
        self.sessions = defaultdict(list)  # (user id, course id, video key, session) -> [PlayerEvent]
        self.video_specs = {}  # video key -> VideoSpec
        self.enrollments = []
        self.outcomes = []
        # Writing chunk n while chunk n + 1 is parsed lets the import use two cores (the database
        # and the parser). Only outside a transaction: the writer thread has its own connection,
        # which would not see what the caller's open transaction wrote.
        if threaded is None:
            threaded = not connection.in_atomic_block
        self.writer = _ChunkWriter(self._write_chunk) if threaded else None

    # -- reading ---------------------------------------------------------------------------------

    def import_file(self, path):
        """Import one file (plain or gzip, detected by its first bytes)."""
        self.summary.files += 1
        with open(path, "rb") as probe:
            is_gzip = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if is_gzip else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            self.import_lines(lines, source_name=str(path))

    def import_lines(self, lines, source_name="-"):
        numbered = enumerate(lines, start=1)
        while chunk := list(islice(numbered, self.chunk_lines)):
            self._import_chunk(chunk, source_name)

    def _import_chunk(self, chunk, source_name):
        pending = _Pending()
        for number, line in chunk:
            if not line.strip():
                continue
            self.summary.lines += 1
            try:
                event = parse_line(line)
            except LineInvalid as error:
                self.summary.invalid += 1
                if len(self.summary.invalid_examples) < MAX_EXAMPLES:
                    self.summary.invalid_examples.append((source_name, number, str(error)))
                continue
            outcome, reason = self._plan(event, pending)
            self.summary.by_type[event.name][outcome] += 1
            if reason:
                self.summary.skip_reasons[reason] += 1
        if self.writer is not None:
            self.writer.submit(pending)
        else:
            with import_transaction():
                self._write_chunk(pending)

    # -- mapping ---------------------------------------------------------------------------------

    def _plan(self, event, pending):
        """Record what event asks to write into pending; returns (IMPORTED or SKIPPED, reason)."""
        name = event.name
        kind = self._kind(event)
        if kind is None:
            return SKIPPED, "type not imported"
        email, display = learner_email(event, self.domain)
        if email is None:
            return SKIPPED, "no user"
        course_key = _course_key_of(event)
        if not course_key:
            return SKIPPED, "no course"
        data = event.data if isinstance(event.data, dict) else {}
        if kind == "player":
            key = video_key(data.get("id"))[:255]
            if not key:
                return SKIPPED, "no video id"
            player_kind = PLAYER_EVENTS[name]
            if player_kind == video_sessions.SEEK:
                position = _number(data, "old_time", "currentTime", "current_time")
                seek_to = _number(data, "new_time")
            else:
                position, seek_to = _number(data, "currentTime", "current_time"), None
            duration = _number(data, "duration") or 0
            session = event.session or "day:" + event.at.date().isoformat()
            player = video_sessions.PlayerEvent(at=event.at, kind=player_kind, position=position, seek_to=seek_to)
            pending.players.append((email, course_key, key, session, duration, player))
            if player_kind == video_sessions.PLAY:
                self._add_event(pending, event, email, course_key, "played_video", key, {})
        elif kind == "problem":
            extra = {"success": data.get("success") == "correct"} if "success" in data else {}
            score = _problem_score(data)
            if score is not None:
                extra["score"] = score
            module = event.context.get("module") if isinstance(event.context.get("module"), dict) else {}
            problem = data.get("problem_id") or module.get("usage_key", "")
            line_id = self._add_event(pending, event, email, course_key, "attempted_problem", problem, extra)
            if isinstance(problem, str) and problem:
                for row in problem_responses(event, data, problem):
                    row["id"] = derived_id("tracking-log-response", line_id, row.pop("part"))
                    pending.responses.append((email, course_key, row))
        elif kind == "navigation":
            key = subsection_key(event, data)
            if not key:
                return SKIPPED, "no subsection"
            opened_id = derived_id("tracking-log-open", line_event_id(self.workspace.id, event.text))
            pending.opens.append((email, course_key, opened_id, key, event.at))
        elif kind == "forum":
            event_type = "posted_forum" if name in FORUM_CREATED else name
            self._add_event(
                pending, event, email, course_key, event_type, data.get("id") or data.get("commentable_id") or "", {}
            )
        elif kind == "enrollment":
            mode = data.get("mode") if isinstance(data.get("mode"), str) else ""
            pending.enrollments.append((email, course_key, event.at, ENROLLMENT_EVENTS[name], mode))
        elif kind == "grade":
            pending.outcomes.append((email, course_key, event.at, GRADE_EVENTS[name]))
        pending.people.setdefault(email, display)
        pending.course_keys.add(course_key)
        return IMPORTED, ""

    @staticmethod
    def _kind(event):
        name = event.name
        if name in PLAYER_EVENTS:
            return "player"
        if name == "problem_check":
            # The server's problem_check carries the graded answers (a dict); the browser's is the
            # same submission seen from the page (a query string): imported once, from the server.
            return "problem" if event.source == "server" or isinstance(event.data, dict) else None
        if name in NAVIGATION_EVENTS:
            return "navigation"
        if name.startswith("edx.forum."):
            return "forum"
        if name in ENROLLMENT_EVENTS:
            return "enrollment"
        if name in GRADE_EVENTS:
            return "grade"
        return None

    def _add_event(self, pending, event, email, course_key, event_type, obj, extra):
        """Queue the LearningEvent of a line; returns its id (derived from the line)."""
        row = {
            "id": line_event_id(self.workspace.id, event.text),
            "type": event_type[:100],
            "object": str(obj or "")[:500],
            "occurred_at": event.at,
            "data": {"eventType": event.name, **extra},
        }
        pending.events.append((email, course_key, row))
        return row["id"]

    # -- writing ---------------------------------------------------------------------------------

    def _resolve(self, pending):
        people = {email: name for email, name in pending.people.items() if email not in self.user_ids}
        if people:
            self.user_ids.update(ensure_learners(self.workspace, people))
        keys = {key: "" for key in pending.course_keys if key not in self.course_ids}
        if keys:
            self.course_ids.update(ensure_titled_courses(self.workspace, keys))

    def _write_chunk(self, pending):
        # One refresh of each rollup per chunk (learners, events, responses and opens together).
        with batched():
            self._write_chunk_rows(pending)

    def _write_chunk_rows(self, pending):
        self._resolve(pending)
        rows = []
        for email, course_key, row in pending.events:
            row["user_id"] = self.user_ids[email]
            row["course_id"] = self.course_ids[course_key]
            rows.append(row)
        if rows:
            if connection.vendor == "postgresql":
                self.summary.events_created += copy_events(self.workspace, rows)
            else:
                self.summary.events_created += upsert_events(
                    self.workspace, rows, source=EventSource.TRACKING_LOG
                ).created
        if pending.responses:
            responses = [
                ProblemResponse(
                    workspace_id=self.workspace.pk,
                    user_id=self.user_ids[email],
                    course_id=self.course_ids[course_key],
                    source=EventSource.TRACKING_LOG,
                    **row,
                )
                for email, course_key, row in pending.responses
            ]
            self.summary.problem_responses_created += record_problem_responses(self.workspace.pk, responses).created
        if pending.opens:
            opens = [
                SubsectionOpen(
                    id=opened_id,
                    workspace_id=self.workspace.pk,
                    user_id=self.user_ids[email],
                    course_id=self.course_ids[course_key],
                    subsection_key=key,
                    opened_at=at,
                    source=EventSource.TRACKING_LOG,
                )
                for email, course_key, opened_id, key, at in pending.opens
            ]
            self.summary.subsection_opens_created += record_subsection_opens(self.workspace.pk, opens).created
        for email, course_key, key, session, duration, player in pending.players:
            user_id, course_id = self.user_ids[email], self.course_ids[course_key]
            self.sessions[(user_id, key, session)].append(player)
            spec = self.video_specs.get(key)
            if spec is None or (not spec.duration_s and duration):
                self.video_specs[key] = VideoSpec(spec.course_id if spec else course_id, "", round(duration))
        for email, course_key, at, action, mode in pending.enrollments:
            self.enrollments.append(
                EnrollmentChange(self.user_ids[email], self.course_ids[course_key], at, action, mode)
            )
        for email, course_key, at, state in pending.outcomes:
            self.outcomes.append(AttemptOutcome(self.user_ids[email], self.course_ids[course_key], at, state))

    def abort(self):
        """Stop the writer thread after the chunks already handed to it (an import that failed)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.chunks.put(None)
            writer.thread.join()

    def finish(self):
        """Write the video views, enrollments and attempts gathered over the import; the summary."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        with import_transaction(), batched():
            self.summary.enrollments_written = _written(apply_enrollment_changes(self.workspace, self.enrollments))
            self.summary.attempts_written = _written(apply_attempt_outcomes(self.workspace, self.outcomes))
            if self.sessions:
                videos = ensure_videos(self.workspace, self.video_specs)
                by_id = {video.id: video for video in videos.values()}
                views = []
                for (user_id, key, session), players in self.sessions.items():
                    video = videos[key]
                    views.append(session_view_row(self.workspace.id, user_id, video, key, session, players))
                for start in range(0, len(views), VIEW_BATCH):
                    result = upsert_video_views(
                        self.workspace, views[start : start + VIEW_BATCH], source=EventSource.TRACKING_LOG, videos=by_id
                    )
                    self.summary.video_views_written += result.created + result.updated
        return self.summary


class _ChunkWriter:
    """One thread that writes chunks, each in its own transaction on the thread's own connection,
    while the caller parses the next one. At most two chunks wait; an error in the writer is
    raised again in the caller (at its next submit or at close)."""

    def __init__(self, write):
        self.write = write
        self.chunks = queue.Queue(maxsize=2)
        self.error = None
        self.thread = threading.Thread(target=self._run, name="tracking-log-writer", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while (pending := self.chunks.get()) is not None:
                if self.error is None:
                    try:
                        with import_transaction():
                            self.write(pending)
                    except BaseException as error:  # handed to the caller, which raises it
                        self.error = error
        finally:
            connection.close()

    def submit(self, pending):
        self._raise()
        self.chunks.put(pending)

    def close(self):
        self.chunks.put(None)
        self.thread.join()
        self._raise()

    def _raise(self):
        if self.error is not None:
            raise self.error


@contextmanager
def import_transaction():
    """transaction.atomic() for one chunk (or the last write) of an import. When it is the
    outermost transaction on PostgreSQL, its commit does not wait for the WAL to reach the disk
    (synchronous_commit off, as courses.services.bulk_write's bulk loads): a crash may lose the
    last chunks committed, never part of one, and an interrupted import is simply run again (its
    ids are derived from the lines). A caller's own transaction keeps its setting."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        yield


EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "user_id",
    "course_id",
    "type",
    "object",
    "occurred_at",
    "source",
    "data",
    "received_at",
)


def copy_events(workspace, rows):
    """PostgreSQL: store event rows with COPY into a temporary table, then one INSERT ... SELECT
    ... ON CONFLICT (id) DO NOTHING; returns how many were new.

    The same rule as records.upsert_events (an event is immutable, a re-sent id changes nothing)
    at the speed a log import needs: multi-row INSERTs spend most of their time adapting and
    splitting parameters in Python, COPY streams rows. No ownership look-up is needed: these ids
    are derived from the workspace and the line, so another workspace's or user's event never
    has one.
    """
    table = LearningEvent._meta.db_table
    columns = ", ".join(EVENT_COLUMNS)
    now = timezone.now()
    note_times(LearningEvent, (row["occurred_at"] for row in rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS tracking_log_events (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE tracking_log_events")
        with cursor.cursor.copy(f"COPY tracking_log_events ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    (
                        row["id"],
                        workspace.pk,
                        row["user_id"],
                        row["course_id"],
                        row["type"],
                        row["object"],
                        row["occurred_at"],
                        EventSource.TRACKING_LOG.value,
                        json_dumps(row["data"]),
                        now,
                    )
                )
        conflict = ", ".join(conflict_columns(LearningEvent))
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM tracking_log_events ON CONFLICT ({conflict}) DO NOTHING"
        )
        created = cursor.rowcount
    # Every row's day: re-sent lines changed nothing, and recomputing their days is harmless.
    rows_changed(
        workspace.pk,
        LearningEvent,
        pairs=activity_pairs(rows, time_key="occurred_at"),
        may_empty=False,
        course_ids={row["course_id"] for row in rows},
    )
    return created


def json_dumps(value):
    return _fast_dumps(value)


def import_tracking_logs(workspace, paths, *, email_domain=DEFAULT_EMAIL_DOMAIN):
    """Import the tracking-log files at paths into workspace; returns the ImportSummary.

    Each chunk of lines is its own transaction (written by a second thread while the next chunk
    is parsed, unless the caller holds a transaction), and the views / enrollments / attempts
    gathered over all files are written in a last one: an interrupted import can simply be run
    again.
    """
    importer = TrackingLogImporter(workspace, email_domain=email_domain)
    try:
        for path in paths:
            importer.import_file(path)
    except BaseException:
        importer.abort()
        raise
    return importer.finish()


def _written(result):
    return result.created + result.updated
