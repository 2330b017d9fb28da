"""Bulk upserts of behaviour data: page sessions, learning events, video views, video reactions.

Shared by the tracking API, import_data, xAPI and the Open edX tracking-log import. Each function
takes rows whose references are already resolved to ids (see lookups.py), writes them in a few
queries whatever their number (a look-up of what exists, then one multi-row INSERT ... ON
CONFLICT per 1,000 rows), and returns an UpsertResult. Call them inside a transaction when the
caller needs all-or-nothing.

Rows are dicts. Every row may carry a `ref` (a line number, a list index...) that comes back with
its rejection. An id that exists for another user or another workspace is rejected for that row
(field `id`), never overwritten.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timezone as dt_timezone
from urllib.parse import unquote, urlsplit

from django.db import connection
from django.utils import timezone

from analytics.models import (
    CourseActivityKind,
    EventSource,
    LearningEvent,
    PageSession,
    ProblemResponse,
    SubsectionOpen,
    VideoReaction,
    VideoView,
)
from analytics.queries.course_info import EVENT_ACTIVITY, week_start
from analytics.rollups.changes import rows_changed
from analytics.services.partitions import conflict_columns, forget_moved_rows
from analytics.services.learner_activity import activity_pairs
from analytics.services.problem_rollups import record_problem_responses, record_subsection_opens
from courses.models import Course

from .lookups import course_ids_by_key, videos_by_id
from .sql import column, excluded, insert_rows, name, select_rows, server_cursor

ID_TAKEN = "is already used by another record"


@dataclass
class UpsertResult:
    """How many rows were created, changed, or already stored as sent; and the rows refused.

    rejected holds (ref, field, reason) tuples.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list = field(default_factory=list)

    @property
    def accepted(self):
        return self.created + self.updated + self.unchanged

    def add(self, other):
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)
        return self


def course_and_chapter_from_path(path):
    """(course key, chapter key) read from `/player/:courseId` or `/quiz/:courseId/:chapterId`.

    Segments are URL-decoded (`course-v1%3AOrg%2BX` is `course-v1:Org+X`); a query string or a
    fragment is ignored; other paths give ("", "").
    """
    parts = [part for part in urlsplit(path).path.split("/") if part]
    if len(parts) >= 2 and parts[0] in ("player", "quiz"):
        course_key = unquote(parts[1])[:255]
        chapter_key = unquote(parts[2])[:255] if parts[0] == "quiz" and len(parts) >= 3 else ""
        return course_key, chapter_key
    return "", ""


PAGE_SESSION_COLUMNS = (
    "id",
    "workspace_id",
    "user_id",
    "page",
    "path",
    "started_at",
    "duration_s",
    "course_id",
    "course_key",
    "chapter_key",
    "device",
    "received_at",
)
PAGE_SESSION_STATE = ("page", "path", "started_at", "duration_s", "device")


def _page_session_conflict_sql():
    model = PageSession
    updates = [
        f"{name(model, 'duration_s')} = CASE WHEN {excluded(model, 'duration_s')} > "
        f"{column(model, 'duration_s')} THEN {excluded(model, 'duration_s')} ELSE {column(model, 'duration_s')} END"
    ]
    for attr in ("page", "path", "started_at", "course_id", "course_key", "chapter_key", "device"):
        updates.append(f"{name(model, attr)} = {excluded(model, attr)}")
    return (
        f"ON CONFLICT ({', '.join(conflict_columns(model))}) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {column(model, 'workspace_id')} = {excluded(model, 'workspace_id')} "
        f"AND {column(model, 'user_id')} = {excluded(model, 'user_id')}"
    )


def _moved(written, stored):
    """The ids of stored rows whose start changes (on PostgreSQL they move to another partition
    key, see partitions.forget_moved_rows)."""
    return [row_id for row_id, row in written if row_id in stored and stored[row_id]["started_at"] != row["started_at"]]


def upsert_page_sessions(workspace, rows):
    """Create or update page sessions by their client-made id.

    rows: dicts with `id` (UUID), `user_id`, `page`, `path`, `started_at` (aware datetime),
    `duration_s` (int >= 0), optionally `device` and `ref`.

    Rules: a re-sent id updates its session and the duration only grows (the larger of the stored
    and the sent duration is kept, also against a concurrent write, in SQL); page, path, start and
    device take the sent values. course_key / chapter_key come from the path
    (course_and_chapter_from_path) and `course` is linked when that key is a course of the
    workspace. The same id twice in rows is merged the same way. Queries: existing ids (1), course
    keys (1), one INSERT ... ON CONFLICT per 1,000 rows written; unchanged rows are not written.
    Then the rollups (rows_changed); a re-sent session still in its course and week adds nothing
    to the course activity, so a heartbeat runs no course activity statement. One session on
    PostgreSQL (the tracker's request): the stored row and the course key are read in one
    statement, which also grows the duration of a heartbeat (_grow_heartbeat); a heartbeat then
    runs no other statement here, only its learner-day refresh.
    """
    result = UpsertResult()
    rows = list(rows)
    if not rows:
        return result
    stored_columns = ("id", "workspace_id", "user_id", "course_id", *PAGE_SESSION_STATE)
    looked_up = {}  # course key -> course id or None, when already read
    if len(rows) == 1 and connection.vendor == "postgresql":
        stored_rows, is_grown, looked_up = _grow_heartbeat(workspace, rows[0], stored_columns)
        if is_grown:
            # Only the duration grew, within the session's day, course and week: its learner day
            # is refreshed, nothing else changes (what the general path below would tell too).
            result.updated = 1
            row = rows[0]
            rows_changed(workspace.pk, PageSession, pairs={(row["user_id"], row["started_at"])}, may_empty=False)
            return result
    else:
        stored_rows = select_rows(PageSession, stored_columns, "id", {row["id"] for row in rows})
    stored, stored_course_ids = {}, {}
    for values in stored_rows:
        stored[values[0]] = {"owner": (values[1], values[2]), **dict(zip(PAGE_SESSION_STATE, values[4:]))}
        stored_course_ids[values[0]] = values[3]
    state = {}  # id -> the row as it will be written
    for row in rows:
        session_id, owner = row["id"], (workspace.pk, row["user_id"])
        current = state.get(session_id) or stored.get(session_id)
        if current is None:
            state[session_id] = {"owner": owner, "device": "", **{k: row[k] for k in PAGE_SESSION_STATE if k in row}}
            result.created += 1
            continue
        if current["owner"] != owner:
            result.rejected.append((row.get("ref"), "id", ID_TAKEN))
            continue
        merged = {**current, **{k: row[k] for k in PAGE_SESSION_STATE if k in row}}
        merged["duration_s"] = max(current["duration_s"], row["duration_s"])
        if merged == current:
            result.unchanged += 1
        else:
            result.updated += 1
        state[session_id] = merged
    to_write = {sid: s for sid, s in state.items() if stored.get(sid) != s}
    if not to_write:
        return result
    keys = {sid: course_and_chapter_from_path(s["path"]) for sid, s in to_write.items()}
    # A re-sent path may move a session out of a course: that course's figures change too.
    left = {course_and_chapter_from_path(stored[sid]["path"])[0] for sid in to_write if sid in stored}
    needed = {course_key for course_key, _ in keys.values() if course_key} | {key for key in left if key}
    if needed <= looked_up.keys():
        course_ids = {key: course_id for key, course_id in looked_up.items() if course_id is not None}
    else:
        course_ids = course_ids_by_key(workspace, needed)
    now = timezone.now()
    values = [
        (
            sid,
            workspace.pk,
            s["owner"][1],
            s["page"],
            s["path"],
            s["started_at"],
            s["duration_s"],
            course_ids.get(keys[sid][0]),
            keys[sid][0],
            keys[sid][1],
            s["device"] or "",
            now,
        )
        for sid, s in to_write.items()
    ]
    forget_moved_rows(PageSession, _moved(to_write.items(), stored))
    insert_rows(PageSession, PAGE_SESSION_COLUMNS, values, _page_session_conflict_sql())
    # A session's course and week are counted by difference; one moved out of its course or week
    # leaves the old one to a rebuild.
    left_ids = {
        course_ids.get(course_and_chapter_from_path(stored[sid]["path"])[0])
        for sid in to_write
        if sid in stored
        and (
            course_and_chapter_from_path(stored[sid]["path"])[0] != keys[sid][0]
            or week_start(stored[sid]["started_at"]) != week_start(to_write[sid]["started_at"])
        )
    }
    # A re-sent session still in its course and week (a heartbeat) was counted in that week's
    # activity when it was first written (or by the rebuild of the course its write made stale):
    # only new and moved sessions are sent to the course activity counts.
    activity = [
        (value[7], value[2], value[5], None)
        for value in values
        if value[0] not in stored
        or stored_course_ids[value[0]] != value[7]
        or week_start(stored[value[0]]["started_at"]) != week_start(value[5])
    ]
    _rows_changed(PageSession, workspace, to_write.items(), stored, left_ids, activity=activity)
    return result


def _grow_heartbeat(workspace, row, stored_columns):
    """PostgreSQL, one session: (its stored row as select_rows gives it, or none; whether it was
    a heartbeat, now written; {the path's course key: its course id or None}, the key's look-up).

    A heartbeat is a re-send by the session's owner whose page, path, start and device (when
    sent) are the stored ones, whose duration is larger, and whose stored course is the one the
    upsert would link (the course of the path's key, which may have been created or deleted
    since): the upsert would only grow duration_s, and the UPDATE here does it instead. One
    statement: the stored row (read before the update, as the upsert's look-up reads it), the
    course look-up and the update; when it is no heartbeat nothing is written."""
    quote = connection.ops.quote_name
    table, courses = quote(PageSession._meta.db_table), quote(Course._meta.db_table)
    course_key = course_and_chapter_from_path(row["path"])[0]
    device_sql, device_params = "", []
    if "device" in row:
        device_sql, device_params = "AND s.device = %s ", [row["device"] or ""]
    stored_sql = ", ".join(f"stored.{quote(PageSession._meta.get_field(attname).column)}" for attname in stored_columns)
    sql = (
        f"WITH stored AS (SELECT * FROM {table} WHERE id = %s), "
        f"course AS (SELECT c.id FROM {courses} c WHERE c.workspace_id = %s AND c.key = %s AND c.key <> ''), "
        f"grown AS (UPDATE {table} s SET duration_s = %s WHERE s.id = %s AND s.started_at = %s "
        f"AND s.workspace_id = %s AND s.user_id = %s AND s.page = %s AND s.path = %s {device_sql}"
        f"AND s.duration_s < %s AND s.course_id IS NOT DISTINCT FROM (SELECT id FROM course) RETURNING s.id) "
        f"SELECT (SELECT id FROM course), (SELECT COUNT(*) FROM grown), {stored_sql} "
        f"FROM (SELECT) AS one LEFT JOIN stored ON TRUE"
    )
    duration = row["duration_s"]
    params = [
        row["id"],
        workspace.pk,
        course_key,
        duration,
        row["id"],
        row["started_at"],
        workspace.pk,
        row["user_id"],
        row["page"],
        row["path"],
        *device_params,
        duration,
    ]
    with server_cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    course_id, grown = fetched[0][:2]
    stored_rows = [values[2:] for values in fetched if values[2] is not None]
    return stored_rows, grown > 0, ({course_key: course_id} if course_key else {})


def _rows_changed(model, workspace, written, stored, course_ids, **course_info):
    """Tell the rollups (analytics.rollups) of the written rows: every (user, day) a written row
    is on, and was on before; the days may lose rows only when a start moved to another day.
    course_ids: the courses only a rebuild brings up to date; course_info: what the written rows
    add to the course information counts (rows_changed's activity and audience)."""
    pairs, moved = set(), False
    for row_id, row in written:
        pairs.add((row["owner"][1], row["started_at"]))
        if row_id in stored:
            before = (stored[row_id]["owner"][1], stored[row_id]["started_at"])
            pairs.add(before)
            moved = moved or _utc_date(before[1]) != _utc_date(row["started_at"])
    rows_changed(workspace.pk, model, pairs=pairs, may_empty=moved, course_ids=course_ids, **course_info)


def _utc_date(moment):
    return moment.astimezone(dt_timezone.utc).date()


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


def upsert_events(workspace, rows, *, source=EventSource.TRACKER):
    """Store learning events, idempotent by id: an id already stored is left as it is.

    rows: dicts with `id` (UUID), `user_id`, `type`, `occurred_at`, optionally `course_id`,
    `object`, `data` (dict), `source` (default: the source argument) and `ref`.
    An event is immutable once stored: a re-send with other content changes nothing (counted
    unchanged). An id stored for another user or workspace is rejected. Queries: one INSERT ...
    ON CONFLICT DO NOTHING RETURNING id per chunk, then, only when some ids were already
    stored, one look-up of their owners.
    """
    result = UpsertResult()
    rows = list(rows)
    if not rows:
        return result
    now = timezone.now()
    first = {}  # id -> the row that will be inserted; later rows with that id are re-sends
    repeats = []
    for row in rows:
        if row["id"] in first:
            repeats.append(row)
        else:
            first[row["id"]] = row
    values = [
        (
            row["id"],
            workspace.pk,
            row["user_id"],
            row.get("course_id"),
            row["type"],
            row.get("object") or "",
            row["occurred_at"],
            row.get("source") or source,
            row.get("data") or {},
            now,
        )
        for row in first.values()
    ]
    inserted = set(insert_rows(LearningEvent, EVENT_COLUMNS, values, "ON CONFLICT DO NOTHING", returning="id"))
    stored_before = [row["id"] for row in first.values() if row["id"] not in inserted]
    owners = {}
    if stored_before:
        owners = {
            event_id: (workspace_id, user_id)
            for event_id, workspace_id, user_id in select_rows(
                LearningEvent, ("id", "workspace_id", "user_id"), "id", stored_before
            )
        }
    for event_id in inserted:
        owners[event_id] = (workspace.pk, first[event_id]["user_id"])
    if inserted:
        new_rows = [first[event_id] for event_id in inserted]
        rows_changed(
            workspace.pk,
            LearningEvent,
            pairs=activity_pairs(new_rows, time_key="occurred_at"),
            may_empty=False,
            activity=[
                (row.get("course_id"), row["user_id"], row["occurred_at"], EVENT_ACTIVITY.get(row["type"]))
                for row in new_rows
            ],
        )
    for row in rows:
        if first.get(row["id"]) is row and row["id"] in inserted:
            result.created += 1
        elif owners.get(row["id"]) == (workspace.pk, row["user_id"]):
            result.unchanged += 1
        else:
            result.rejected.append((row.get("ref"), "id", ID_TAKEN))
    return result


VIDEO_VIEW_COLUMNS = (
    "id",
    "workspace_id",
    "user_id",
    "video_id",
    "course_id",
    "started_at",
    "watched_s",
    "position_s",
    "segments",
    "watched_first_segment",
    "watched_last_segment",
    "is_completed",
    "device",
    "platform",
    "country",
    "buffering_s",
    "bitrate_kbps",
    "errors",
    "source",
    "received_at",
)
VIDEO_VIEW_STATE = (
    "started_at",
    "watched_s",
    "position_s",
    "segments",
    "is_completed",
    "device",
    "platform",
    "country",
    "buffering_s",
    "bitrate_kbps",
    "errors",
    "source",
)
VIDEO_VIEW_DEFAULTS = {
    "watched_s": 0,
    "position_s": 0,
    "segments": [],
    "is_completed": False,
    "device": "",
    "platform": "",
    "country": "",
    "buffering_s": None,
    "bitrate_kbps": None,
    "errors": None,
}
GROWING = ("watched_s", "position_s")
VIDEO_VIEW_EDGES = ("watched_first_segment", "watched_last_segment")


def _video_view_conflict_sql():
    model = VideoView
    updates = [
        f"{name(model, attr)} = CASE WHEN {excluded(model, attr)} > {column(model, attr)} "
        f"THEN {excluded(model, attr)} ELSE {column(model, attr)} END"
        for attr in GROWING
    ]
    updates += [
        f"{name(model, attr)} = {excluded(model, attr)}"
        for attr in VIDEO_VIEW_COLUMNS
        if attr not in GROWING and attr not in ("id", "workspace_id", "user_id", "video_id", "course_id", "received_at")
    ]
    return (
        f"ON CONFLICT ({', '.join(conflict_columns(model))}) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {column(model, 'workspace_id')} = {excluded(model, 'workspace_id')} "
        f"AND {column(model, 'user_id')} = {excluded(model, 'user_id')} "
        f"AND {column(model, 'video_id')} = {excluded(model, 'video_id')}"
    )


def upsert_video_views(workspace, rows, *, source=EventSource.TRACKER, videos=None):
    """Create or update video views by id.

    rows: dicts with `id` (UUID), `user_id`, `video_id`, `started_at`, optionally `watched_s`,
    `position_s` (furthest second), `segments` (indexes watched), `is_completed`, `device`,
    `platform`, `country`, `buffering_s`, `bitrate_kbps`, `errors`, `source`, `ref`.
    videos: {video id: VideoRef} when the caller already has them (else one query).

    A re-sent id merges into the stored view: watched and position keep the larger value,
    segments are the union, completed stays true once true, fields a row leaves out keep their
    stored value, others take the sent value. watched_first_segment / watched_last_segment say
    whether segment 0 / the video's last segment (duration / segment length) are in segments.
    course is the video's course. A row whose id is a view of another user, workspace or video is
    rejected (field `id`); a video_id not in the workspace is rejected (field `video`).
    """
    result = UpsertResult()
    rows = list(rows)
    if not rows:
        return result
    if videos is None:
        videos = videos_by_id(workspace, {row["video_id"] for row in rows})
    stored, stored_edges = {}, {}
    for values in select_rows(
        VideoView,
        ("id", "workspace_id", "user_id", "video_id", *VIDEO_VIEW_STATE, *VIDEO_VIEW_EDGES),
        "id",
        {row["id"] for row in rows},
    ):
        stored[values[0]] = {"owner": values[1:4], **dict(zip(VIDEO_VIEW_STATE, values[4:-2]))}
        stored_edges[values[0]] = values[-2:]
    state = {}
    for row in rows:
        video = videos.get(row["video_id"])
        if video is None:
            result.rejected.append((row.get("ref"), "video", "is not a video of this workspace"))
            continue
        view_id, owner = row["id"], (workspace.pk, row["user_id"], row["video_id"])
        sent = {k: row[k] for k in VIDEO_VIEW_STATE if k in row}
        if "segments" in sent:
            sent["segments"] = sorted(set(sent["segments"]))
        current = state.get(view_id) or stored.get(view_id)
        if current is None:
            state[view_id] = {"owner": owner, **VIDEO_VIEW_DEFAULTS, "source": source, **sent}
            result.created += 1
            continue
        if current["owner"] != owner:
            result.rejected.append((row.get("ref"), "id", ID_TAKEN))
            continue
        merged = {**current, **sent}
        for attr in GROWING:
            merged[attr] = max(current[attr], merged[attr])
        merged["segments"] = sorted(set(current["segments"]) | set(merged["segments"]))
        merged["is_completed"] = current["is_completed"] or merged["is_completed"]
        if merged == current:
            result.unchanged += 1
        else:
            result.updated += 1
        state[view_id] = merged
    to_write = [(view_id, s) for view_id, s in state.items() if stored.get(view_id) != s]
    now = timezone.now()
    values = []
    for view_id, s in to_write:
        video = videos[s["owner"][2]]
        segments = s["segments"]
        values.append(
            (
                view_id,
                workspace.pk,
                s["owner"][1],
                video.id,
                video.course_id,
                s["started_at"],
                s["watched_s"],
                s["position_s"],
                segments,
                0 in segments,
                (video.segment_count - 1) in segments,
                s["is_completed"],
                s["device"] or "",
                s["platform"] or "",
                s["country"] or "",
                s["buffering_s"],
                s["bitrate_kbps"],
                s["errors"],
                s["source"] or source,
                now,
            )
        )
    forget_moved_rows(VideoView, _moved(to_write, stored))
    insert_rows(VideoView, VIDEO_VIEW_COLUMNS, values, _video_view_conflict_sql())
    # Views are counted by difference; one moved to another week, or no longer covering an edge
    # it covered (the video's length changed), leaves its course to a rebuild.
    rebuilt = {
        value[4]
        for value in values
        if value[0] in stored
        and (
            week_start(stored[value[0]]["started_at"]) != week_start(value[5])
            or any(was and not now for was, now in zip(stored_edges[value[0]], value[9:11]))
        )
    }
    _rows_changed(
        VideoView,
        workspace,
        to_write,
        stored,
        rebuilt,
        activity=[(value[4], value[2], value[5], CourseActivityKind.PLAYED_VIDEO) for value in values],
        audience=[(value[3], value[2], value[9], value[10]) for value in values],
    )
    return result


REACTION_COLUMNS = ("workspace_id", "user_id", "video_id", "type", "at")


def upsert_video_reactions(workspace, rows):
    """Store video reactions, idempotent on (user, video, type, at).

    rows: dicts with `user_id`, `video_id`, `type` (like / comment / share), `at`, optionally `ref`.
    The caller checks that video_id is a video of the workspace (the resolving step does).
    Queries: one INSERT ... ON CONFLICT DO NOTHING RETURNING per chunk (what it did not insert
    was already stored: unchanged), then the recount of the reaction days written (rows_changed).
    """
    result = UpsertResult()
    keys = list(dict.fromkeys((row["user_id"], row["video_id"], row["type"], row["at"]) for row in rows))
    if not keys:
        return result
    inserted = insert_rows(
        VideoReaction,
        REACTION_COLUMNS,
        [(workspace.pk, *key) for key in keys],
        "ON CONFLICT DO NOTHING",
        returning="id",
    )
    result.created = len(inserted)
    result.unchanged = len(rows) - result.created
    if inserted:
        rows_changed(workspace.pk, VideoReaction, pairs=[(user_id, at) for user_id, _, _, at in keys], may_empty=False)
    return result


RESPONSE_ATTRS = (
    "course_id",
    "problem_key",
    "part_id",
    "answer",
    "value_id",
    "correct",
    "grade",
    "max_grade",
    "variant",
    "attempt",
    "submitted_at",
    "question",
    "problem_name",
)


# Namespace of the ids given to problem responses and subsection opens imported without one.
INTERCHANGE_ID_NAMESPACE = uuid.UUID("8f4e2c1a-6b3d-4e5f-a7c9-1d2b3e4f5a60")


def interchange_id(kind, workspace_id, *parts):
    """The id of an interchange record sent without one: a uuid5 of what identifies it (times in
    UTC ISO 8601), so importing the same line again finds the same row."""
    text = "|".join(
        part.astimezone(dt_timezone.utc).isoformat() if hasattr(part, "astimezone") else str(part)
        for part in (kind, workspace_id, *parts)
    )
    return uuid.uuid5(INTERCHANGE_ID_NAMESPACE, text)


def _owned_ids(model, workspace, rows):
    """{id: (workspace id, user id)} of the rows' ids already stored (any workspace)."""
    return {
        row_id: (workspace_id, user_id)
        for row_id, workspace_id, user_id in select_rows(
            model, ("id", "workspace_id", "user_id"), "id", {row["id"] for row in rows}
        )
    }


def _record_immutable(model, workspace, rows, make, record):
    """Shared body of the problem-response and subsection-open upserts: rows whose id is stored
    for this learner are unchanged (the raw rows are immutable), for anyone else rejected; the new
    ones go through `record` (problem_rollups), which keeps the rollups."""
    result = UpsertResult()
    rows = list(rows)
    if not rows:
        return result
    owners = _owned_ids(model, workspace, rows)
    fresh, seen = [], set()
    for row in rows:
        owner = owners.get(row["id"])
        if owner is not None and owner != (workspace.pk, row["user_id"]):
            result.rejected.append((row.get("ref"), "id", ID_TAKEN))
        elif owner is not None or row["id"] in seen:
            result.unchanged += 1
        else:
            seen.add(row["id"])
            fresh.append(make(row))
    recorded = record(workspace.pk, fresh)
    result.created += recorded.created
    result.unchanged += recorded.duplicates
    return result


def upsert_problem_responses(workspace, rows, *, source=EventSource.IMPORT):
    """Store problem responses (the `problem_response` kind) through
    problem_rollups.record_problem_responses, the only writer of responses and their rollups.

    rows: dicts with `user_id`, `course_id`, `problem_key`, `part_id`, `answer` (list answers
    already `[a|b]`), `correct`, `submitted_at`, optionally `id`, `value_id`, `grade`,
    `max_grade`, `variant`, `attempt`, `question`, `problem_name`, `ref`. A row without `id`
    gets one derived from workspace, learner, problem, part and time. A response is immutable:
    an id already stored for this learner changes nothing (unchanged); for another learner or
    workspace it is rejected (field `id`).
    """
    rows = [
        row
        if row.get("id")
        else {
            **row,
            "id": interchange_id(
                "problem_response",
                workspace.pk,
                row["user_id"],
                row["problem_key"],
                row["part_id"],
                row["submitted_at"],
            ),
        }
        for row in rows
    ]

    def make(row):
        values = {attr: row[attr] for attr in RESPONSE_ATTRS if attr in row and row[attr] is not None}
        return ProblemResponse(id=row["id"], workspace_id=workspace.pk, user_id=row["user_id"], source=source, **values)

    return _record_immutable(ProblemResponse, workspace, rows, make, record_problem_responses)


def upsert_subsection_opens(workspace, rows, *, source=EventSource.IMPORT):
    """Store subsection opens (the `subsection_open` kind) through
    problem_rollups.record_subsection_opens. rows: `user_id`, `course_id`, `subsection_key`,
    `opened_at`, optionally `id` (derived from workspace, learner, subsection and time when
    absent) and `ref`. Immutable like problem responses."""
    rows = [
        row
        if row.get("id")
        else {
            **row,
            "id": interchange_id(
                "subsection_open", workspace.pk, row["user_id"], row["subsection_key"], row["opened_at"]
            ),
        }
        for row in rows
    ]

    def make(row):
        return SubsectionOpen(
            id=row["id"],
            workspace_id=workspace.pk,
            user_id=row["user_id"],
            course_id=row["course_id"],
            subsection_key=row["subsection_key"],
            opened_at=row["opened_at"],
            source=source,
        )

    return _record_immutable(SubsectionOpen, workspace, rows, make, record_subsection_opens)
