"""Interchange records: validation, look-ups and bulk upserts shared by every way data comes in.

- validators.validate_record(kind, data): one camelCase dict -> clean values or (field, reason)s.
- lookups: user_ids_by_email, user_by_email, course_ids_by_key, ensure_courses (created when new,
  title = key), chapter_ids_by_key, videos_by_key / videos_by_id (VideoRef with segment_count).
- behaviour: upsert_page_sessions, upsert_events, upsert_video_views, upsert_video_reactions,
  upsert_problem_responses, upsert_subsection_opens (the last two through problem_rollups), each
  a few queries per batch, returning an UpsertResult(created, updated, unchanged, rejected).
- catalog: upsert_users, upsert_courses, upsert_programs, upsert_chapters, upsert_videos,
  upsert_enrollments, upsert_attempts (the import's kinds).
- pipeline.ingest_records: validate + resolve + upsert a mixed list of records in dependency
  order, with a per-record error report (import_data, POST /api/import, the tracking API).
"""

from .behaviour import (
    UpsertResult,
    course_and_chapter_from_path,
    upsert_events,
    upsert_page_sessions,
    upsert_video_reactions,
    upsert_video_views,
)
from .lookups import (
    VideoRef,
    chapter_ids_by_key,
    course_ids_by_key,
    ensure_courses,
    user_by_email,
    user_ids_by_email,
    videos_by_id,
    videos_by_key,
)
from .validators import DEPENDENCY_ORDER, KINDS, Kind, validate_record

__all__ = [
    "DEPENDENCY_ORDER",
    "KINDS",
    "Kind",
    "UpsertResult",
    "VideoRef",
    "chapter_ids_by_key",
    "course_and_chapter_from_path",
    "course_ids_by_key",
    "ensure_courses",
    "upsert_events",
    "upsert_page_sessions",
    "upsert_video_reactions",
    "upsert_video_views",
    "user_by_email",
    "user_ids_by_email",
    "validate_record",
    "videos_by_id",
    "videos_by_key",
]
