"""Instructor and admin dashboards: workspace overview, courses, a course, the Analyse results,
a video. Server-rendered; plotly figures built in Python (analytics.dashboards.charts).

Views only check who may see what, parse the GET filters (analytics.dashboards.filters), call
query functions (cached by analytics.dashboards.cache) and render. Every number shown comes from a
query function; docs/dashboards.md lists which.

Who: admins see everything of their workspace; instructors the courses they teach (and those
courses' videos and results); learners, and users without a workspace, get a 403 page.

The package, by concern: `access` (who may see what), `paging` (sort and page links),
`rendering` (pages and their deferred, cached sections), `lookups` (what the filter bars offer),
and one module per page: `workspace`, `courses`, `course`, `results`, `video`.
"""

from .course import course_dashboard
from .courses import courses_dashboard
from .results import results_dashboard
from .video import video_dashboard
from .workspace import workspace_dashboard

__all__ = ["course_dashboard", "courses_dashboard", "results_dashboard", "video_dashboard", "workspace_dashboard"]
