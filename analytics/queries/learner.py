"""A learner's own analytics: time per page, per day and per course (SkillRise `/api/user/analytics`).

One function, `learner_analytics`, feeds both `GET /api/user/analytics` and the learner dashboard.
It runs four aggregate queries whatever the number of sessions: pages (whose sums are the
totals), days, courses, chapters. The rules (which sessions count, which day a session belongs
to, the orders) are listed in docs/api/learner.md.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Func, IntegerField, OuterRef, Q, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber, TruncDate

from analytics.models import PageSession
from courses.models import Chapter, Course

# Pages that never count (the SkillRise document's list, matched exactly, case included).
EXCLUDED_PAGES = ("Home", "Browse Courses", "Course Details", "Analytics", "Other")
DAILY_STATS_DAYS = 7
UTC = ZoneInfo("UTC")

# A learning session is on `/player/:courseId`, a quiz session on `/quiz/:courseId/:chapterId`.
# course_key / chapter_key are read from the path when the session is stored.
IS_LEARNING = Q(path__startswith="/player/") & ~Q(course_key="")
IS_QUIZ = Q(path__startswith="/quiz/") & ~Q(course_key="") & ~Q(chapter_key="")


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


class SumOfAggregate(Func):
    """`SUM(<aggregate>)`, for use inside a Window: `SUM(SUM(x)) OVER (PARTITION BY ...)`.

    Django's Sum refuses an aggregate annotation as its input, though SQL allows it in a window.
    """

    function = "SUM"
    window_compatible = True
    output_field = IntegerField()


def counted_page_sessions(workspace, user):
    """The user's page sessions in the workspace that count: every page but EXCLUDED_PAGES."""
    return PageSession.objects.filter(workspace=workspace, user=user).exclude(page__in=EXCLUDED_PAGES)


def learner_analytics(workspace, user, *, today: date, tz: ZoneInfo = UTC) -> LearnerAnalytics:
    """Everything the learner's analytics shows, over the user's counted sessions in `workspace`.

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
    """
    sessions = counted_page_sessions(workspace, user)
    page_stats = _page_stats(sessions)
    # Every counted session is in exactly one page's figures: the totals are their sums.
    return LearnerAnalytics(
        total_duration_s=sum(page.total_duration_s for page in page_stats),
        total_sessions=sum(page.visits for page in page_stats),
        page_stats=page_stats,
        daily_stats=_daily_stats(sessions, today, tz),
        course_breakdown=_course_breakdown(sessions, workspace),
    )


def _page_stats(sessions):
    # One row per (page, path). Window sums over the rows of a page give the page's totals, and the
    # row numbered 1 in each page (most visits, then the path's alphabetical order) is its most
    # visited path; only those rows are kept (Django filters on a window in an outer query).
    page = [F("page")]
    rows = (
        sessions.values("page", "path")
        .annotate(path_visits=Count("id"), path_duration_s=Sum("duration_s"))
        .annotate(
            page_duration_s=Window(SumOfAggregate("path_duration_s"), partition_by=page),
            page_visits=Window(SumOfAggregate("path_visits"), partition_by=page),
            rank=Window(RowNumber(), partition_by=page, order_by=[F("path_visits").desc(), F("path").asc()]),
        )
        .filter(rank=1)
        .order_by("-page_duration_s", "-page_visits", "page")
    )
    # int(): PostgreSQL's SUM over a bigint is a numeric, which arrives as a Decimal.
    return [
        PageStat(
            page=row["page"],
            path=row["path"],
            total_duration_s=int(row["page_duration_s"]),
            visits=int(row["page_visits"]),
        )
        for row in rows
    ]


def _local_midnight(day, tz):
    return datetime.combine(day, time.min, tzinfo=tz)


def _daily_stats(sessions, today, tz):
    first_day = today - timedelta(days=DAILY_STATS_DAYS - 1)
    durations = dict(
        sessions.filter(
            started_at__gte=_local_midnight(first_day, tz),
            started_at__lt=_local_midnight(today + timedelta(days=1), tz),
        )
        .annotate(day=TruncDate("started_at", tzinfo=tz))
        .values("day")
        .annotate(duration_s=Sum("duration_s"))
        .values_list("day", "duration_s")
    )
    days = (first_day + timedelta(days=offset) for offset in range(DAILY_STATS_DAYS))
    return [DailyStat(date=day, duration_s=durations.get(day, 0)) for day in days]


def _course_breakdown(sessions, workspace):
    # Titles and thumbnails are correlated subqueries that must run once per group, not once per
    # session row: they are plain Subquery annotations (a Coalesce around one is grouped on), added
    # in an annotate() of their own after the aggregates (Django regroups on every non-aggregate
    # annotation present when an aggregate is annotated). A course missing from the catalog comes
    # back as NULL, sorts after the known titles (nulls_last, alike on every database) and gets
    # its key as title below. test_catalog_lookups_are_not_grouped_on checks the GROUP BY.
    course = Course.objects.filter(workspace=workspace, key=OuterRef("course_key"))
    courses = (
        sessions.filter(IS_LEARNING | IS_QUIZ)
        .values("course_key")
        .annotate(
            learning_s=Coalesce(Sum("duration_s", filter=IS_LEARNING), 0),
            learning_sessions=Count("id", filter=IS_LEARNING),
            quiz_s=Coalesce(Sum("duration_s", filter=IS_QUIZ), 0),
        )
        .annotate(total_s=F("learning_s") + F("quiz_s"))
        .annotate(
            title=Subquery(course.values("title")[:1]),
            thumbnail=Subquery(course.values("thumbnail")[:1]),
        )
        .order_by("-total_s", F("title").asc(nulls_last=True), "course_key")
    )
    chapter = Chapter.objects.filter(
        course__workspace=workspace, course__key=OuterRef("course_key"), key=OuterRef("chapter_key")
    )
    chapters = (
        sessions.filter(IS_QUIZ)
        .values("course_key", "chapter_key")
        .annotate(quiz_s=Sum("duration_s"), quiz_sessions=Count("id"))
        .annotate(title=Subquery(chapter.values("title")[:1]))
        .order_by("course_key", "-quiz_s", F("title").asc(nulls_last=True), "chapter_key")
    )
    chapters_by_course = {}
    for row in chapters:
        chapters_by_course.setdefault(row["course_key"], []).append(
            ChapterQuizTime(
                chapter_key=row["chapter_key"],
                chapter_title=UNKNOWN_CHAPTER_TITLE if row["title"] is None else row["title"],
                quiz_duration_s=row["quiz_s"],
                quiz_sessions=row["quiz_sessions"],
            )
        )
    return [
        CourseTime(
            course_key=row["course_key"],
            course_title=UNKNOWN_COURSE_TITLE if row["title"] is None else row["title"],
            # The catalog's course without a thumbnail: ""; no such course in the catalog: null.
            course_thumbnail=None if row["title"] is None else row["thumbnail"],
            learning_duration_s=row["learning_s"],
            learning_sessions=row["learning_sessions"],
            total_quiz_duration_s=row["quiz_s"],
            chapters=chapters_by_course.get(row["course_key"], []),
        )
        for row in courses
    ]
