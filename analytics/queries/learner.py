"""A learner's own analytics: time per page, per day and per course (SkillRise `/api/user/analytics`).

One function, `learner_analytics`, feeds both `GET /api/user/analytics` and the learner dashboard.
It runs four aggregate statements (their SQL written once) whatever the number of sessions: pages (whose sums are the
totals), days, courses, chapters. The rules (which sessions count, which day a session belongs
to, the orders) are listed in docs/api/learner.md.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from analytics.models import PageSession
from courses.models import Chapter, Course

from .sql import db_datetime, read_cursor

# Pages that never count (the SkillRise document's list, matched exactly, case included).
EXCLUDED_PAGES = ("Home", "Browse Courses", "Course Details", "Analytics", "Other")
DAILY_STATS_DAYS = 7
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class PageStat:
    page: str
    path: str  # the page's most visited path
    total_duration_s: int
    visits: int


@dataclass(frozen=True)
class DailyStat:
    date: date
    duration_s: int


UNKNOWN_COURSE_TITLE = "Unknown Course"
UNKNOWN_CHAPTER_TITLE = "Unknown Chapter"


@dataclass(frozen=True)
class ChapterQuizTime:
    chapter_key: str
    chapter_title: str
    quiz_duration_s: int
    quiz_sessions: int


@dataclass(frozen=True)
class CourseTime:
    course_key: str
    course_title: str
    course_thumbnail: str | None
    learning_duration_s: int
    learning_sessions: int
    total_quiz_duration_s: int
    chapters: list[ChapterQuizTime] = field(default_factory=list)

    @property
    def total_duration_s(self):
        return self.learning_duration_s + self.total_quiz_duration_s


@dataclass(frozen=True)
class LearnerAnalytics:
    total_duration_s: int
    total_sessions: int
    page_stats: list[PageStat]
    daily_stats: list[DailyStat]
    course_breakdown: list[CourseTime]

    @property
    def is_empty(self):
        return self.total_sessions == 0

    @property
    def week_duration_s(self):
        """Time over the 7 days of daily_stats."""
        return sum(day.duration_s for day in self.daily_stats)


# The statements of learner_analytics, written once (building them through the ORM on each request
# cost most of the request). Portable SQL: the same text runs on PostgreSQL and SQLite. Every
# statement reads the user's counted sessions (COUNTED: EXCLUDED_PAGES never count) and takes the
# workspace and the user as its first two parameters. IS_LEARNING_SQL / IS_QUIZ_SQL are the
# rules: a learning session is on `/player/:courseId`, a quiz session on `/quiz/:courseId/:chapterId`
# (course_key / chapter_key are read from the path when the session is stored); `LIKE` as
# Django's startswith writes it on each database.
_SESSIONS = PageSession._meta.db_table
_COUNTED = "workspace_id = %s AND user_id = %s AND page NOT IN ({})".format(
    ", ".join("'{}'".format(page.replace("'", "''")) for page in EXCLUDED_PAGES)
)
IS_LEARNING_SQL = "(path LIKE '/player/%%' AND NOT (course_key = ''))"
IS_QUIZ_SQL = "(path LIKE '/quiz/%%' AND NOT (course_key = '') AND NOT (chapter_key = ''))"


def is_quiz():
    """IS_QUIZ_SQL as a condition of a PageSession queryset (the dashboards' quiz sessions)."""
    return RawSQL(IS_QUIZ_SQL, [], output_field=BooleanField())


# One row per (page, path). Window sums over the rows of a page give the page's totals, and the
# row numbered 1 in each page (most visits, then the path's alphabetical order) is its most
# visited path; only those rows are kept.
_PAGE_STATS_SQL = f"""
SELECT page, path, page_duration_s, page_visits FROM (
    SELECT page, path,
        SUM(SUM(duration_s)) OVER (PARTITION BY page) AS page_duration_s,
        SUM(COUNT(*)) OVER (PARTITION BY page) AS page_visits,
        ROW_NUMBER() OVER (PARTITION BY page ORDER BY COUNT(*) DESC, path ASC) AS path_rank
    FROM {_SESSIONS} WHERE {_COUNTED}
    GROUP BY page, path
) pages
WHERE path_rank = 1
ORDER BY page_duration_s DESC, page_visits DESC, page ASC
"""

# Each day's sum over [its local midnight, the next one): the days' bounds are computed in Python
# in the requested zone (DST included), so no database needs the zone; a day without sessions
# sums to NULL.
_DAILY_STATS_SQL = "SELECT {} FROM {} WHERE {} AND started_at >= %s AND started_at < %s".format(
    ", ".join(["SUM(CASE WHEN started_at >= %s AND started_at < %s THEN duration_s END)"] * DAILY_STATS_DAYS),
    _SESSIONS,
    _COUNTED,
)

# Titles and thumbnails are correlated subqueries that run once per group, not once per session
# row (they are not grouped on). A course missing from the catalog comes back as NULL, sorts after
# the known titles and gets "Unknown Course" below. The catalog's workspace is the third parameter.
_COURSE_LOOKUP = f"FROM {Course._meta.db_table} c WHERE c.workspace_id = %s AND c.key = s.course_key"
_COURSES_SQL = f"""
SELECT s.course_key,
    COALESCE(SUM(CASE WHEN {IS_LEARNING_SQL} THEN s.duration_s END), 0) AS learning_s,
    COUNT(CASE WHEN {IS_LEARNING_SQL} THEN 1 END) AS learning_sessions,
    COALESCE(SUM(CASE WHEN {IS_QUIZ_SQL} THEN s.duration_s END), 0) AS quiz_s,
    (SELECT c.title {_COURSE_LOOKUP}) AS title,
    (SELECT c.thumbnail {_COURSE_LOOKUP}) AS thumbnail,
    COALESCE(SUM(CASE WHEN {IS_LEARNING_SQL} THEN s.duration_s END), 0)
        + COALESCE(SUM(CASE WHEN {IS_QUIZ_SQL} THEN s.duration_s END), 0) AS total_s
FROM {_SESSIONS} s WHERE {_COUNTED} AND ({IS_LEARNING_SQL} OR {IS_QUIZ_SQL})
GROUP BY 1 ORDER BY 7 DESC, 5 ASC NULLS LAST, 1 ASC
"""
_CHAPTERS_SQL = f"""
SELECT s.course_key, s.chapter_key, SUM(s.duration_s) AS quiz_s, COUNT(*) AS quiz_sessions,
    (SELECT ch.title FROM {Chapter._meta.db_table} ch INNER JOIN {Course._meta.db_table} c ON ch.course_id = c.id
     WHERE c.workspace_id = %s AND c.key = s.course_key AND ch.key = s.chapter_key) AS title
FROM {_SESSIONS} s WHERE {_COUNTED} AND {IS_QUIZ_SQL}
GROUP BY 1, 2 ORDER BY 1 ASC, 3 DESC, 5 ASC NULLS LAST, 2 ASC
"""


def learner_analytics(workspace, user, *, today: date, tz: ZoneInfo = UTC) -> LearnerAnalytics:
    """Everything the learner's analytics shows, over the user's counted sessions in `workspace`
    (every page but EXCLUDED_PAGES).

    - totals: the sum of durations and the number of counted sessions, all time;
    - page_stats: one entry per page name, its path the page's most visited path;
      by total duration desc, then visits desc, then page name;
    - daily_stats: the 7 calendar days in `tz` ending on `today`, oldest first, 0 for a day
      without sessions; a session belongs to the local day of its start;
    - course_breakdown: per course key, learning time from `/player/:courseId` sessions and quiz
      time per chapter from `/quiz/:courseId/:chapterId` sessions, all time; by learning + quiz
      desc, then course title, then key; chapters by quiz duration desc, then title, then key.
      A course key unknown to the workspace's catalog shows "Unknown Course" and a null
      thumbnail; an unknown chapter key "Unknown Chapter".

    Four statements, their SQL written once (_PAGE_STATS_SQL, _DAILY_STATS_SQL, _COURSES_SQL,
    _CHAPTERS_SQL).
    """
    owner = [getattr(workspace, "pk", workspace), getattr(user, "pk", user)]
    with read_cursor() as cursor:
        page_stats = _page_stats(cursor, owner)
        daily_stats = _daily_stats(cursor, owner, today, tz)
        course_breakdown = _course_breakdown(cursor, owner)
    # Every counted session is in exactly one page's figures: the totals are their sums.
    return LearnerAnalytics(
        total_duration_s=sum(page.total_duration_s for page in page_stats),
        total_sessions=sum(page.visits for page in page_stats),
        page_stats=page_stats,
        daily_stats=daily_stats,
        course_breakdown=course_breakdown,
    )


def _page_stats(cursor, owner):
    cursor.execute(_PAGE_STATS_SQL, owner)
    # int(): PostgreSQL's SUM over a bigint is a numeric, which arrives as a Decimal.
    return [
        PageStat(page=page, path=path, total_duration_s=int(duration_s), visits=int(visits))
        for page, path, duration_s, visits in cursor.fetchall()
    ]


def _local_midnight(day, tz):
    return datetime.combine(day, time.min, tzinfo=tz)


def _daily_stats(cursor, owner, today, tz):
    days = [today - timedelta(days=DAILY_STATS_DAYS - 1 - offset) for offset in range(DAILY_STATS_DAYS + 1)]
    bounds = [db_datetime(_local_midnight(day, tz)) for day in days]
    day_params = [bound for first, end in zip(bounds, bounds[1:]) for bound in (first, end)]
    cursor.execute(_DAILY_STATS_SQL, [*day_params, *owner, bounds[0], bounds[-1]])
    durations = cursor.fetchone()
    return [DailyStat(date=day, duration_s=duration_s or 0) for day, duration_s in zip(days, durations)]


def _course_breakdown(cursor, owner):
    workspace_id = owner[0]
    cursor.execute(_CHAPTERS_SQL, [workspace_id, *owner])
    chapters_by_course = {}
    for course_key, chapter_key, quiz_s, quiz_sessions, title in cursor.fetchall():
        chapters_by_course.setdefault(course_key, []).append(
            ChapterQuizTime(
                chapter_key=chapter_key,
                chapter_title=UNKNOWN_CHAPTER_TITLE if title is None else title,
                quiz_duration_s=quiz_s,
                quiz_sessions=quiz_sessions,
            )
        )
    cursor.execute(_COURSES_SQL, [workspace_id, workspace_id, *owner])
    return [
        CourseTime(
            course_key=course_key,
            course_title=UNKNOWN_COURSE_TITLE if title is None else title,
            # The catalog's course without a thumbnail: ""; no such course in the catalog: null.
            course_thumbnail=None if title is None else thumbnail,
            learning_duration_s=learning_s,
            learning_sessions=learning_sessions,
            total_quiz_duration_s=quiz_s,
            chapters=chapters_by_course.get(course_key, []),
        )
        for course_key, learning_s, learning_sessions, quiz_s, title, thumbnail, _ in cursor.fetchall()
    ]
