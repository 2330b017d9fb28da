"""Validators for the interchange kinds (DESIGN.md, "The interchange format").

`validate_record(kind, data)` turns one camelCase dict into a dict of clean Python values keyed by
snake_case names, or a list of (field, reason) errors naming the camelCase field. Validators never
touch the database: references (a user's email, a course, chapter or video key) stay as they were
sent and are resolved in bulk later (see lookups.py and pipeline.py).

Only the fields present in a record appear in its clean dict, so an upsert changes only what the
record says. A JSON null for an optional field clears it (to its empty value or NULL). Unknown
fields are ignored.
"""

from dataclasses import dataclass
from typing import Any, Callable

from accounts.models import EducationLevel, Gender, Role
from analytics.models import Device, Platform, ReactionType
from courses.models import AttemptState, CoursePacing, EnrollmentKind, EnrollmentMode

from .fields import (
    MAX_DURATION_S,
    FieldError,
    parse_answer,
    parse_attributes,
    parse_bool,
    parse_choice,
    parse_country,
    parse_email,
    parse_float,
    parse_int,
    parse_list,
    parse_object,
    parse_text,
    parse_time,
    parse_url,
    parse_uuid,
    parse_whole,
)


class Kind:
    USER = "user"
    COURSE = "course"
    CHAPTER = "chapter"
    VIDEO = "video"
    ENROLLMENT = "enrollment"
    ATTEMPT = "attempt"
    PAGE_SESSION = "page_session"
    EVENT = "event"
    VIDEO_VIEW = "video_view"
    VIDEO_REACTION = "video_reaction"
    PROGRAM = "program"
    PROBLEM_RESPONSE = "problem_response"
    SUBSECTION_OPEN = "subsection_open"


# What a record may name must be written before it: kinds are processed in this order.
DEPENDENCY_ORDER = (
    Kind.USER,
    Kind.COURSE,
    Kind.PROGRAM,
    Kind.CHAPTER,
    Kind.VIDEO,
    Kind.ENROLLMENT,
    Kind.ATTEMPT,
    Kind.PAGE_SESSION,
    Kind.EVENT,
    Kind.VIDEO_VIEW,
    Kind.VIDEO_REACTION,
    Kind.PROBLEM_RESPONSE,
    Kind.SUBSECTION_OPEN,
)
KINDS = frozenset(DEPENDENCY_ORDER)


@dataclass(frozen=True)
class Field:
    name: str  # camelCase, as sent
    attr: str  # snake_case key of the clean dict
    parse: Callable[[Any], Any]
    required: bool = False
    empty: Any = None  # the clean value of a JSON null for an optional field


KEY = parse_text(255)
TIME = parse_time
SECONDS = parse_whole(0, MAX_DURATION_S, unit="seconds")
PERCENT = parse_whole(0, 100)

SPECS = {
    Kind.USER: (
        Field("email", "email", parse_email, required=True),
        Field("name", "name", parse_text(301, allow_blank=True), empty=""),
        Field("role", "role", parse_choice(Role)),
        Field("birthYear", "birth_year", parse_int(1900, 2100)),
        Field("gender", "gender", parse_choice(Gender), empty=""),
        Field("educationLevel", "education_level", parse_choice(EducationLevel), empty=""),
        Field("country", "country", parse_country, empty=""),
        Field("groups", "groups", parse_list(parse_text(200), max_items=1000), empty=[]),
        Field("attributes", "attributes", parse_attributes, empty={}),
    ),
    Kind.COURSE: (
        Field("key", "key", KEY, required=True),
        Field("title", "title", parse_text(300), required=True),
        Field("thumbnail", "thumbnail", parse_url(500), empty=""),
        Field("instructors", "instructors", parse_list(parse_email, max_items=1000), empty=[]),
        Field("start", "start", TIME),
        Field("end", "end", TIME),
        Field("pacing", "pacing", parse_choice(CoursePacing), empty=""),
        Field("catalogCourse", "catalog_course", parse_text(255, allow_blank=True), empty=""),
        Field("catalogTitle", "catalog_title", parse_text(300, allow_blank=True), empty=""),
    ),
    Kind.PROGRAM: (
        Field("id", "key", KEY, required=True),
        Field("title", "title", parse_text(300), required=True),
        Field("type", "program_type", parse_text(100, allow_blank=True), empty=""),
        Field("courses", "courses", parse_list(KEY, max_items=1000), empty=[]),
    ),
    Kind.CHAPTER: (
        Field("course", "course", KEY, required=True),
        Field("key", "key", KEY, required=True),
        Field("title", "title", parse_text(300), required=True),
        Field("position", "position", parse_int(0), empty=0),
    ),
    Kind.VIDEO: (
        Field("course", "course", KEY, required=True),
        Field("key", "key", KEY, required=True),
        Field("title", "title", parse_text(300, allow_blank=True), empty=""),
        Field("chapter", "chapter", KEY),
        Field("duration", "duration_s", parse_whole(0, 10 * MAX_DURATION_S, unit="seconds"), empty=0),
        Field("segmentLength", "segment_length_s", parse_whole(1, 3600, unit="seconds"), empty=5),
    ),
    Kind.ENROLLMENT: (
        Field("user", "user", parse_email, required=True),
        Field("course", "course", KEY, required=True),
        Field("mode", "mode", parse_choice(EnrollmentMode), empty=EnrollmentMode.AUDIT),
        Field("type", "kind", parse_choice(EnrollmentKind, upper=True), empty=EnrollmentKind.OPTIONAL),
        Field("enrolledAt", "enrolled_at", TIME, required=True),
        Field("unenrolledAt", "unenrolled_at", TIME),
        Field("expiresAt", "expires_at", TIME),
    ),
    Kind.ATTEMPT: (
        Field("user", "user", parse_email, required=True),
        Field("course", "course", KEY, required=True),
        Field("state", "state", parse_choice(AttemptState, upper=True), empty=AttemptState.IN_PROGRESS),
        Field("progress", "progress", PERCENT, empty=0),
        Field("score", "score", PERCENT),
        Field("timeSpent", "time_spent_s", parse_whole(0, unit="seconds"), empty=0),
        Field("firstActivityAt", "first_activity_at", TIME),
        Field("lastActivityAt", "last_activity_at", TIME),
        Field("completedAt", "completed_at", TIME),
        Field("certificateIssuedAt", "certificate_issued_at", TIME),
        Field("expiresAt", "expires_at", TIME),
        Field("lang", "lang", parse_text(16, allow_blank=True), empty=""),
        Field("versionNumber", "version_number", parse_int(0), empty=0),
    ),
    Kind.PAGE_SESSION: (
        Field("id", "id", parse_uuid, required=True),
        Field("user", "user", parse_email, required=True),
        Field("page", "page", parse_text(100), required=True),
        Field("path", "path", parse_text(500), required=True),
        Field("startedAt", "started_at", TIME, required=True),
        Field("duration", "duration_s", SECONDS, required=True),
        Field("device", "device", parse_choice(Device), empty=""),
    ),
    Kind.EVENT: (
        Field("id", "id", parse_uuid, required=True),
        Field("user", "user", parse_email, required=True),
        Field("type", "type", parse_text(100), required=True),
        Field("occurredAt", "occurred_at", TIME, required=True),
        Field("course", "course", KEY),
        Field("object", "object", parse_text(500, allow_blank=True), empty=""),
        Field("data", "data", parse_object(), empty={}),
    ),
    Kind.VIDEO_VIEW: (
        Field("id", "id", parse_uuid, required=True),
        Field("user", "user", parse_email, required=True),
        Field("video", "video", KEY, required=True),
        Field("startedAt", "started_at", TIME, required=True),
        Field("watchedSeconds", "watched_s", SECONDS, empty=0),
        Field("position", "position_s", parse_whole(0, 10 * MAX_DURATION_S, unit="seconds"), empty=0),
        Field("completed", "is_completed", parse_bool, empty=False),
        Field("segments", "segments", parse_list(parse_int(0, 1_000_000), max_items=100_000), empty=[]),
        Field("device", "device", parse_choice(Device), empty=""),
        Field("platform", "platform", parse_choice(Platform), empty=""),
        Field("country", "country", parse_country, empty=""),
        Field("bufferingSeconds", "buffering_s", parse_float(0, MAX_DURATION_S)),
        Field("bitrateKbps", "bitrate_kbps", parse_whole(0, 10_000_000)),
        Field("errors", "errors", parse_int(0)),
    ),
    Kind.VIDEO_REACTION: (
        Field("user", "user", parse_email, required=True),
        Field("video", "video", KEY, required=True),
        Field("type", "type", parse_choice(ReactionType), required=True),
        Field("at", "at", TIME, required=True),
    ),
    Kind.PROBLEM_RESPONSE: (
        Field("id", "id", parse_uuid),
        Field("user", "user", parse_email, required=True),
        Field("course", "course", KEY, required=True),
        Field("problem", "problem_key", parse_text(500), required=True),
        Field("part", "part_id", KEY, required=True),
        Field("answer", "answer", parse_answer(10_000), required=True),
        Field("valueId", "value_id", parse_answer(255), empty=""),
        Field("correct", "correct", parse_bool, required=True),
        Field("grade", "grade", parse_float(0, 1e6)),
        Field("maxGrade", "max_grade", parse_float(0, 1e6)),
        Field("variant", "variant", parse_text(100, allow_blank=True), empty=""),
        Field("attempt", "attempt", parse_int(0)),
        Field("at", "submitted_at", TIME, required=True),
        Field("question", "question", parse_text(10_000, allow_blank=True), empty=""),
        Field("problemName", "problem_name", parse_text(300, allow_blank=True), empty=""),
    ),
    Kind.SUBSECTION_OPEN: (
        Field("id", "id", parse_uuid),
        Field("user", "user", parse_email, required=True),
        Field("course", "course", KEY, required=True),
        Field("subsection", "subsection_key", parse_text(500), required=True),
        Field("at", "opened_at", TIME, required=True),
    ),
}

REQUIRED = "is required"


def _check_enrollment(clean):
    enrolled_at, unenrolled_at = clean.get("enrolled_at"), clean.get("unenrolled_at")
    if enrolled_at and unenrolled_at and unenrolled_at < enrolled_at:
        return [("unenrolledAt", "must not be before enrolledAt")]
    return []


def _check_attempt(clean):
    first, last = clean.get("first_activity_at"), clean.get("last_activity_at")
    if first and last and last < first:
        return [("lastActivityAt", "must not be before firstActivityAt")]
    return []


def _check_user(clean):
    name = clean.get("name")
    if name:
        first, _, last = name.partition(" ")
        if len(first) > 150 or len(last.strip()) > 150:
            return [("name", "each of the first and last names must be at most 150 characters")]
    return []


def _check_course(clean):
    start, end = clean.get("start"), clean.get("end")
    if start and end and end < start:
        return [("end", "must not be before start")]
    return []


def _check_problem_response(clean):
    grade, max_grade = clean.get("grade"), clean.get("max_grade")
    if (grade is None) != (max_grade is None):
        return [("maxGrade" if max_grade is None else "grade", "grade and maxGrade go together: give both or neither")]
    if grade is not None and grade > max_grade:
        return [("grade", "must not be more than maxGrade")]
    return []


CHECKS = {
    Kind.USER: _check_user,
    Kind.COURSE: _check_course,
    Kind.ENROLLMENT: _check_enrollment,
    Kind.ATTEMPT: _check_attempt,
    Kind.PROBLEM_RESPONSE: _check_problem_response,
}


def validate_record(kind, data):
    """(clean, errors) for one record of the given kind.

    clean is a dict of the fields present (snake_case keys, Python values) when errors is empty;
    errors is a list of (camelCase field, reason). The `kind` key of data is not read here.
    """
    specs = SPECS.get(kind)
    if specs is None:
        return None, [("kind", f"must be one of {', '.join(DEPENDENCY_ORDER)}")]
    if not isinstance(data, dict):
        return None, [("", "must be a JSON object")]
    clean, errors = {}, []
    for spec in specs:
        value = data.get(spec.name)
        if value is None:
            if spec.required:
                errors.append((spec.name, REQUIRED))
            elif spec.name in data:
                clean[spec.attr] = spec.empty
            continue
        try:
            clean[spec.attr] = spec.parse(value)
        except FieldError as exc:
            errors.append((spec.name, str(exc)))
    if not errors and kind in CHECKS:
        errors = CHECKS[kind](clean)
    return (None, errors) if errors else (clean, [])
