"""Statements onto the learning record: enrollments, attempts, events, video views, problem
responses and subsection opens (docs/api/xapi.md has the table).

- reading: IRIs to keys, verb names, language maps, activity types, the learner an Agent names
- learning: map_statements (events, enrollments, attempts; calls video and problems)
- video: player statements onto viewing sessions (recompute_video_sessions), video length
- problems: interaction answers onto problem responses and subsection opens, and their removal
  when a statement is voided

The names below are those the rest of the project imports from this package.
"""

from analytics.services.xapi.mapping.learning import map_statements
from analytics.services.xapi.mapping.problems import remove_voided_problem_facts
from analytics.services.xapi.mapping.reading import is_activity, learner_email
from analytics.services.xapi.mapping.video import is_video_player_statement, recompute_video_sessions

__all__ = [
    "is_activity",
    "is_video_player_statement",
    "learner_email",
    "map_statements",
    "recompute_video_sessions",
    "remove_voided_problem_facts",
]
