"""Validate, resolve and upsert a mixed list of interchange records, with a per-record report.

Used by `manage.py import_data`, `POST /api/import` and the tracking API. Records of every kind
may come in any order: they are validated one by one (no query), bucketed by kind, then written
kind by kind in dependency order (users, courses, programs, chapters, videos, enrollments, attempts,
page sessions, events, video views, reactions, problem responses, subsection opens), so a record
may name anything written earlier in the same call or already stored. Each kind is written in
chunks; a chunk is a few queries whatever its size. If the database refuses a write (a constraint
the validators could not see, a concurrent writer), it is retried record by record so that only
the refused records are reported and every other record is kept: all-or-nothing per record.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, transaction

from analytics.models import EventSource
from analytics.services.learner_activity import refreshed_together

from . import behaviour, catalog
from .behaviour import UpsertResult
from .lookups import chapter_ids_by_key, course_ids_by_key, ensure_courses, user_ids_by_email, videos_by_key
from .validators import DEPENDENCY_ORDER, KINDS, Kind, validate_record

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
NO_USER = "no member of this workspace has this email"
NO_COURSE = "no course with this key in the workspace"
NO_VIDEO = "no video with this key in the workspace"
NO_CHAPTER = "no chapter with this key in the course"
# Kinds whose records name the user they are about.
ACTIVITY_KINDS = frozenset(
    {
        Kind.ENROLLMENT,
        Kind.ATTEMPT,
        Kind.PAGE_SESSION,
        Kind.EVENT,
        Kind.VIDEO_VIEW,
        Kind.VIDEO_REACTION,
        Kind.PROBLEM_RESPONSE,
        Kind.SUBSECTION_OPEN,
    }
)
# Kinds that create the courses they name when missing (title = key), as the tracking-log and xAPI
# paths do: problem responses and subsection opens come from an LMS whose catalog may not have
# been imported, and a program lists the course runs it groups.
CREATES_COURSES = frozenset({Kind.PROGRAM, Kind.PROBLEM_RESPONSE, Kind.SUBSECTION_OPEN})


class BadRecord(str):
    """Stands in for a record that could not be read (e.g. a line that is not JSON): the reason."""


@dataclass(frozen=True)
class RecordError:
    ref: Any  # what the caller named the record by: a line number, a list index...
    field: str  # camelCase field as sent, "" for the record as a whole
    reason: str


@dataclass
class IngestReport:
    """counts: {kind: UpsertResult} for the kinds seen; errors in the order records came."""

    total: int = 0
    counts: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    @property
    def rejected(self):
        return len({error.ref for error in self.errors})

    @property
    def accepted(self):
        return self.total - self.rejected

    def summary(self):
        """{kind: {created, updated, unchanged, rejected}} in dependency order."""
        return {
            kind: {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected": len({ref for ref, _, _ in result.rejected}),
            }
            for kind, result in sorted(self.counts.items(), key=lambda item: DEPENDENCY_ORDER.index(item[0]))
        }


@dataclass(frozen=True)
class Actor:
    """The person a learner credential sends for: their records may only name them."""

    user_id: int
    email: str


class _Resolver:
    """Resolves the names records use to ids, a query per kind of name per chunk, caching hits."""

    def __init__(self, workspace, actor=None):
        self.workspace = workspace
        self.users = {actor.email: actor.user_id} if actor else {}
        self.courses = {}
        self.videos = {}

    def user_ids(self, emails):
        missing = {email for email in emails if email not in self.users}
        if missing:
            self.users.update(user_ids_by_email(self.workspace, missing))
        return self.users

    def video_refs(self, keys):
        missing = {key for key in keys if key not in self.videos}
        if missing:
            self.videos.update(videos_by_key(self.workspace, missing))
        return self.videos

    def course_ids(self, keys, *, create=False):
        missing = {key for key in keys if key and key not in self.courses}
        if missing:
            lookup = ensure_courses if create else course_ids_by_key
            self.courses.update(lookup(self.workspace, missing))
        return self.courses


def _resolve(kind, items, resolver, workspace):
    """(rows ready for the upsert function, [(ref, field, reason)], extra upsert kwargs)."""
    rows, errors, extra = [], [], {}
    users = resolver.user_ids({c["user"] for _, c in items if "user" in c})
    if kind in CREATES_COURSES:
        # Only the courses of records that will be written (their user is a member) are created.
        keys = {c["course"] for _, c in items if c.get("course") and c.get("user") in users}
        keys |= {key for _, c in items for key in c.get("courses") or []}
        courses = resolver.course_ids(keys, create=True) if keys else {}
    else:
        keys = {c["course"] for _, c in items if c.get("course")}
        courses = resolver.course_ids(keys) if keys else {}
    if kind == Kind.COURSE:
        users = resolver.user_ids({email for _, c in items for email in c.get("instructors") or []})
    videos = (
        resolver.video_refs({c["video"] for _, c in items}) if kind in (Kind.VIDEO_VIEW, Kind.VIDEO_REACTION) else {}
    )
    chapters = {}
    if kind == Kind.VIDEO:
        chapters = chapter_ids_by_key(
            workspace, {(courses.get(c["course"]), c["chapter"]) for _, c in items if c.get("chapter")}
        )
    for ref, clean in items:
        row, problems = {"ref": ref}, []
        for attr, value in clean.items():
            if attr == "user":
                if value in users:
                    row["user_id"] = users[value]
                else:
                    problems.append(("user", NO_USER))
            elif attr == "course":
                if value is None:
                    row["course_id"] = None
                elif value in courses:
                    row["course_id"] = courses[value]
                elif kind not in CREATES_COURSES:  # there, only a refused user leaves it uncreated
                    problems.append(("course", NO_COURSE))
            elif attr == "video":
                if value in videos:
                    row["video_id"] = videos[value].id
                else:
                    problems.append(("video", NO_VIDEO))
            elif attr == "courses":
                row["course_ids"] = [courses[key] for key in value]
            elif attr == "instructors":
                unknown = [email for email in value if email not in users]
                if unknown:
                    problems.append(("instructors", f"{NO_USER}: {', '.join(unknown)}"))
                row["instructor_ids"] = [users[email] for email in value if email in users]
            elif attr == "chapter":
                if value is None:
                    row["chapter_id"] = None
                elif clean["course"] in courses:
                    chapter_id = chapters.get((courses.get(clean["course"]), value))
                    if chapter_id is None:
                        problems.append(("chapter", NO_CHAPTER))
                    row["chapter_id"] = chapter_id
            else:
                row[attr] = value
        if problems:
            errors.extend((ref, name, reason) for name, reason in problems)
        else:
            rows.append(row)
    if kind == Kind.VIDEO_VIEW:
        extra["videos"] = {ref.id: ref for ref in videos.values()}
    return rows, errors, extra


def _upserter(kind, source):
    return {
        Kind.USER: catalog.upsert_users,
        Kind.COURSE: catalog.upsert_courses,
        Kind.CHAPTER: catalog.upsert_chapters,
        Kind.VIDEO: catalog.upsert_videos,
        Kind.ENROLLMENT: catalog.upsert_enrollments,
        Kind.ATTEMPT: catalog.upsert_attempts,
        Kind.PAGE_SESSION: behaviour.upsert_page_sessions,
        Kind.EVENT: lambda ws, rows: behaviour.upsert_events(ws, rows, source=source),
        Kind.VIDEO_VIEW: lambda ws, rows, videos=None: behaviour.upsert_video_views(
            ws, rows, source=source, videos=videos
        ),
        Kind.VIDEO_REACTION: behaviour.upsert_video_reactions,
        Kind.PROGRAM: catalog.upsert_programs,
        Kind.PROBLEM_RESPONSE: lambda ws, rows: behaviour.upsert_problem_responses(ws, rows, source=source),
        Kind.SUBSECTION_OPEN: lambda ws, rows: behaviour.upsert_subsection_opens(ws, rows, source=source),
    }[kind]


def _write_chunk(kind, workspace, items, resolver, source, isolate):
    """Resolve and upsert one chunk in a savepoint; record by record if the database refuses it.

    isolate=False: no savepoint and no retry; a refusal propagates (the caller retries the call).
    """
    upsert = _upserter(kind, source)
    if not isolate:
        rows, errors, extra = _resolve(kind, items, resolver, workspace)
        result = upsert(workspace, rows, **extra)
        result.rejected[:0] = errors
        return result
    try:
        with transaction.atomic():
            rows, errors, extra = _resolve(kind, items, resolver, workspace)
            result = upsert(workspace, rows, **extra)
    except DatabaseError:
        logger.warning("The database refused a chunk of %s records; retrying them one by one", kind, exc_info=True)
    else:
        result.rejected[:0] = errors
        return result
    result = UpsertResult()
    for item in items:
        try:
            with transaction.atomic():
                rows, errors, extra = _resolve(kind, [item], resolver, workspace)
                result.add(upsert(workspace, rows, **extra))
                result.rejected.extend(errors)
        except DatabaseError as exc:
            result.rejected.append((item[0], "", f"refused by the database: {str(exc).strip().splitlines()[0]}"))
    return result


def ingest_records(
    workspace,
    records,
    *,
    source=EventSource.IMPORT,
    actor=None,
    allowed_kinds=KINDS,
    default_kind=None,
    chunk_size=CHUNK_SIZE,
):
    """Validate and upsert records; return an IngestReport. Every door of interchange records
    (the tracking API, POST /api/import, manage.py import_data) writes through here.

    records: iterable of (ref, data): data a camelCase dict with `kind` (or default_kind when it
    has none), or a BadRecord(reason). allowed_kinds: the kinds this caller accepts. actor: when
    set (a learner's own credential), a record without `user` is the actor's, and one naming
    anyone else is refused (field `user`). source: the EventSource stored on events and views.

    How the records are written:
    - at most chunk_size records (a tracking batch, a small import): in one transaction, without a
      savepoint per chunk, and with one learner-day refresh for every kind (refreshed_together).
      If the database refuses that write (DatabaseError), the transaction is rolled back and the
      records written again isolated. OperationalError and InterfaceError (the database cannot be
      reached, a lock timed out) are raised instead: nothing was committed, and the caller answers
      503 or stops; a client re-sending is harmless (records carry their ids).
    - more: isolated from the start, each chunk in its own transaction (a savepoint when the
      caller holds one), so that a large import commits as it goes.
    Isolated: a chunk the database refuses is retried record by record.
    """
    records = list(records)
    options = {
        "source": source,
        "actor": actor,
        "allowed_kinds": allowed_kinds,
        "default_kind": default_kind,
        "chunk_size": chunk_size,
    }
    if len(records) > chunk_size:
        return _ingest(workspace, records, isolate=True, **options)
    try:
        with transaction.atomic(), refreshed_together():
            return _ingest(workspace, records, isolate=False, **options)
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError:
        logger.warning(
            "The database refused a batch of %d records; writing them again isolated", len(records), exc_info=True
        )
    with transaction.atomic(), refreshed_together():
        return _ingest(workspace, records, isolate=True, **options)


def _ingest(workspace, records, *, source, actor, allowed_kinds, default_kind, chunk_size, isolate):
    """ingest_records' work. isolate=False: no savepoint and no retry; a refusal propagates."""
    report = IngestReport()
    buckets = {kind: [] for kind in DEPENDENCY_ORDER}
    position = {}
    for ref, data in records:
        position[ref] = report.total
        report.total += 1
        if isinstance(data, BadRecord):
            report.errors.append(RecordError(ref, "", str(data)))
            continue
        if not isinstance(data, dict):
            report.errors.append(RecordError(ref, "", "must be a JSON object"))
            continue
        kind = data.get("kind") or default_kind
        if kind not in allowed_kinds:
            listing = ", ".join(k for k in DEPENDENCY_ORDER if k in allowed_kinds)
            report.errors.append(RecordError(ref, "kind", f"must be one of {listing}"))
            continue
        if actor is not None and kind in ACTIVITY_KINDS:
            sent = data.get("user")
            if sent is None:
                data = {**data, "user": actor.email}
            elif not isinstance(sent, str) or sent.strip().lower() != actor.email:
                report.errors.append(
                    RecordError(ref, "user", "must be your own email: you can only send your own activity")
                )
                continue
        clean, errors = validate_record(kind, data)
        if errors:
            report.errors.extend(RecordError(ref, name, reason) for name, reason in errors)
            report.counts.setdefault(kind, UpsertResult()).rejected.extend((ref, n, r) for n, r in errors)
            continue
        buckets[kind].append((ref, clean))

    resolver = _Resolver(workspace, actor)
    for kind in DEPENDENCY_ORDER:
        items = buckets[kind]
        if not items:
            continue
        result = report.counts.setdefault(kind, UpsertResult())
        for start in range(0, len(items), chunk_size):
            written = _write_chunk(kind, workspace, items[start : start + chunk_size], resolver, source, isolate)
            result.add(written)
            report.errors.extend(RecordError(ref, name, reason) for ref, name, reason in written.rejected)
    report.errors.sort(key=lambda error: position.get(error.ref, 0))
    return report
