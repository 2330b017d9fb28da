"""Numbers only the instructor and admin dashboards show (no API has them).

Everything else on those pages comes from the API query functions (course_info, analyse,
video_cloud, learner); these functions follow the same rules and reuse their building blocks:

- the learner scope of a filter (groups, custom attributes) is the Analyse API's
  (`learners_in_scope`);
- "active" is analytics.queries.activity's (as the VideoCloud user analytics): a learner (role
  learner in the workspace) with a page session, a learning event or a video view starting in the
  window;
- course quiz time is the learner analytics' rule (quiz sessions on `/quiz/:courseId/:chapterId`
  pages, EXCLUDED_PAGES never count), summed over every learner of the course;
- a video's segments are VideoView.segments, the indexes of the segment_length_s slices a view
  covered (the same data users_at_start / users_at_end of course_videos come from);
- a course's problems and their answer and grade distributions are the Open edX problem
  endpoints' (analytics.queries.problems): counts of each learner's last submission.

Days, weeks (Monday) and months are UTC.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

from analytics.definitions import UTC
from analytics.models import PageSession, ProblemAnswerCount, VideoView
from courses.models import Chapter, Enrollment

from .activity import learner_days
from .analyse import COURSE, ResultFilters, _learners_matching, result_rows_sql
from .course_info import course_videos
from .learner import EXCLUDED_PAGES, is_quiz
from .problems import course_problems, problem_answer_distribution, problem_grade_distribution, video_timeline
from .video_cloud.periods import bucket_starts
from analytics.queries.sql import read_cursor

TOP_CONTENTS_LIMIT = 10
# Enrollment counts go per week rather than per day past this many days (a readable chart).
DAILY_BUCKETS_MAX_DAYS = 120


def learners_in_scope(workspace, filters):
    """Users passing the learner-level filters of `filters` (groups OR'ed, users, every custom
    attribute AND'ed) as an id queryset, or None without such a filter: the Analyse API's rule."""
    return _learners_matching(workspace, filters or ResultFilters())


def _as_date(value):
    """Truncated days come back as `date` (PostgreSQL) or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _month_starts(period):
    first = period.start.date().replace(day=1)
    months = []
    while datetime.combine(first, datetime.min.time(), UTC) < period.end:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


# Active learners ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveLearners:
    """Distinct active learners: over the whole period, and per UTC day, ISO week and month.

    Each series is [(bucket start date, learners)] for every bucket overlapping the period, zeros
    included; a week or month cut by the period's start counts only its days inside the period.
    """

    total: int
    daily: list
    weekly: list
    monthly: list


def active_learners_trend(workspace, period, *, learner_ids=None):
    """Learners active in `period` (an analytics.definitions Period), per day / week / month and in
    total.

    Active: analytics.queries.activity's definition, read from the same rows (learner_days: one
    per learner and UTC day they were active). `learner_ids` (an id queryset, see
    learners_in_scope) narrows the learners. `period` is made of whole UTC days. One query,
    counted per bucket in the database. With no filter, the last daily point and the `7d` / `30d`
    totals are the `activity.active_users` daily / weekly / monthly of `user_analytics`.
    """
    pairs = (
        learner_days(workspace, period.start_day, period.end_day, learner_ids)
        .annotate(week=TruncWeek("day"), month=TruncMonth("day"))
        .values_list("day", "week", "month", "user_id")
    )
    pairs_sql, params = pairs.query.sql_with_params()
    sql = f"""
        WITH pairs (day, week, month, learner) AS ({pairs_sql})
        SELECT 'p', NULL, COUNT(DISTINCT learner) FROM pairs
        UNION ALL SELECT 'd', day, COUNT(DISTINCT learner) FROM pairs GROUP BY day
        UNION ALL SELECT 'w', week, COUNT(DISTINCT learner) FROM pairs GROUP BY week
        UNION ALL SELECT 'm', month, COUNT(DISTINCT learner) FROM pairs GROUP BY month
    """
    counts = {"p": {}, "d": {}, "w": {}, "m": {}}
    with read_cursor() as cursor:
        cursor.execute(sql, params)
        for kind, bucket, learners_count in cursor.fetchall():
            counts[kind][None if bucket is None else _as_date(bucket)] = int(learners_count)
    days = [moment.date() for moment in bucket_starts(period, "day")]
    weeks = [moment.date() for moment in bucket_starts(period, "week")]
    return ActiveLearners(
        total=counts["p"].get(None, 0),
        daily=[(day, counts["d"].get(day, 0)) for day in days],
        weekly=[(week, counts["w"].get(week, 0)) for week in weeks],
        monthly=[(month, counts["m"].get(month, 0)) for month in _month_starts(period)],
    )


# Enrollments over time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentTimeline:
    """New enrollments and unenrollments per bucket (`day` or `week`), and their totals."""

    unit: str
    rows: list  # [{"start": date, "enrolled": n, "unenrolled": n}]
    enrolled: int
    unenrolled: int


def enrollments_over_time(workspace, period, *, learner_ids=None, course_ids=None):
    """Enrollments made and ended in `period`, per UTC day (per ISO week past
    DAILY_BUCKETS_MAX_DAYS days), every bucket listed, zeros included.

    An enrollment counts on the day of enrolled_at; an unenrollment on the day of unenrolled_at.
    Every user's enrollments count (the Analyse rows' rule, not only the learner role);
    `learner_ids` and `course_ids` (id querysets or lists) narrow them. Two grouped queries.
    """
    unit = "day" if (period.end - period.start).days <= DAILY_BUCKETS_MAX_DAYS else "week"
    trunc = TruncDate if unit == "day" else TruncWeek
    enrollments = _enrollments(workspace, learner_ids, course_ids)
    counted = {}
    for name, field in (("enrolled", "enrolled_at"), ("unenrolled", "unenrolled_at")):
        rows = (
            enrollments.filter(**{f"{field}__gte": period.start, f"{field}__lt": period.end})
            .annotate(bucket=trunc(field, tzinfo=UTC))
            .values("bucket")
            .annotate(n=Count("id"))
            .values_list("bucket", "n")
        )
        counted[name] = {_as_date(bucket): n for bucket, n in rows}
    starts = [moment.date() for moment in bucket_starts(period, unit)]
    rows = [
        {
            "start": start,
            "enrolled": counted["enrolled"].get(start, 0),
            "unenrolled": counted["unenrolled"].get(start, 0),
        }
        for start in starts
    ]
    return EnrollmentTimeline(
        unit=unit,
        rows=rows,
        enrolled=sum(counted["enrolled"].values()),
        unenrolled=sum(counted["unenrolled"].values()),
    )


def _enrollments(workspace, learner_ids, course_ids):
    enrollments = Enrollment.objects.filter(workspace=workspace).order_by()
    if learner_ids is not None:
        enrollments = enrollments.filter(user_id__in=learner_ids)
    if course_ids is not None:
        enrollments = enrollments.filter(course_id__in=course_ids)
    return enrollments


# Top courses by time -----------------------------------------------------------------------------


def top_contents_by_time(workspace, filters=ResultFilters(), *, limit=TOP_CONTENTS_LIMIT, course_ids=None, now=None):
    """[{id, name, time_spent, results}]: the `limit` courses whose Analyse result rows (the
    same rows and filters as POST /analyse/results) hold the most time spent, in seconds; ties
    by title (case-insensitive) then key. Courses without time are left out. One query."""
    rows_sql, params = result_rows_sql(workspace, filters, course_ids=course_ids, now=now)
    sql = (
        f"SELECT c.key, c.title, SUM(r.time_spent) AS time_spent, COUNT(*) AS results "
        f"FROM ({rows_sql}) AS r JOIN {COURSE} c ON c.id = r.course_pk "
        "GROUP BY c.id, c.key, c.title HAVING SUM(r.time_spent) > 0 "
        "ORDER BY time_spent DESC, LOWER(c.title), c.key LIMIT %s"
    )
    with read_cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [
            {"id": key, "name": title, "time_spent": int(time_spent), "results": int(results)}
            for key, title, time_spent, results in cursor.fetchall()
        ]


# Course: quiz time per chapter -------------------------------------------------------------------


def course_chapter_quiz_time(course, *, start=None, end=None):
    """[{chapter_key, chapter_title, quiz_duration_s, quiz_sessions, learners}] for the course:
    every chapter of the catalog in position order (zeros included), then chapter keys seen in
    quiz sessions but missing from the catalog (titled with their key), by key.

    Quiz sessions are the learner analytics' (is_quiz: `/quiz/:courseId/:chapterId` pages,
    EXCLUDED_PAGES never count) of every learner, started in [start, end) when given. Two queries.
    """
    sessions = course_quiz_sessions(course)
    if start is not None:
        sessions = sessions.filter(started_at__gte=start)
    if end is not None:
        sessions = sessions.filter(started_at__lt=end)
    per_chapter = {
        row["chapter_key"]: row
        for row in sessions.values("chapter_key").annotate(
            seconds=Sum("duration_s"), sessions=Count("id"), learners=Count("user_id", distinct=True)
        )
    }
    chapters = list(Chapter.objects.filter(course=course).order_by("position", "key").values_list("key", "title"))
    known = {key for key, _ in chapters}
    chapters += [(key, key) for key in sorted(per_chapter) if key not in known]
    result = []
    for key, title in chapters:
        row = per_chapter.get(key, {})
        result.append(
            {
                "chapter_key": key,
                "chapter_title": title or key,
                "quiz_duration_s": int(row.get("seconds") or 0),
                "quiz_sessions": row.get("sessions", 0),
                "learners": row.get("learners", 0),
            }
        )
    return result


def course_quiz_sessions(course):
    """The course's counted quiz page sessions (learner analytics rules), all learners."""
    return (
        PageSession.objects.filter(workspace_id=course.workspace_id, course_key=course.key)
        .filter(is_quiz())
        .exclude(page__in=EXCLUDED_PAGES)
        .order_by()
    )


# Videos: drop-off and retention ------------------------------------------------------------------


def drop_off_rate(users_at_start, users_at_end):
    """Share of the learners who saw the first segment and not the last one: 1 - end / start,
    rounded to 4 places; None when nobody started. Never below 0 (more learners may reach the
    end than the start when they skip the beginning)."""
    if not users_at_start:
        return None
    return round(max(0.0, 1 - users_at_end / users_at_start), 4)


def course_video_drop_off(course):
    """The rows of course_videos (the Open edX videos endpoint) with `title`, `drop_off`
    (users_at_start - users_at_end, at least 0) and `drop_off_rate` (drop_off_rate) added."""
    rows = course_videos(course)
    titles = dict(course.videos.values_list("key", "title"))
    for row in rows:
        row["title"] = titles.get(row["video_key"]) or row["video_key"]
        row["drop_off"] = max(0, row["users_at_start"] - row["users_at_end"])
        row["drop_off_rate"] = drop_off_rate(row["users_at_start"], row["users_at_end"])
    return rows


@dataclass(frozen=True)
class VideoRetention:
    """Distinct learners per segment of a video, and where most of them left."""

    segment_length_s: int
    segments: list  # [{"segment": i, "start_s": i * length, "viewers": n}] for every segment
    largest_drop_segment: int | None  # the segment before which the most learners were lost
    largest_drop: int  # learners lost there (0 when the curve never falls)


def _segment_viewers_sql():
    table = VideoView._meta.db_table
    if connection.vendor == "postgresql":
        elements = f"{table} v CROSS JOIN LATERAL jsonb_array_elements_text(v.segments) AS seg(value)"
        segment = "CAST(seg.value AS INTEGER)"
    else:  # SQLite's JSON1 table function
        elements = f"{table} v, json_each(v.segments) AS seg"
        segment = "CAST(seg.value AS INTEGER)"
    return (
        f"SELECT {segment} AS segment, COUNT(DISTINCT v.user_id) FROM {elements} "
        f"WHERE v.video_id = %s GROUP BY {segment}"
    )


def video_retention(video):
    """Per segment of `video` (every segment of its duration, zeros included), the distinct
    learners with a view covering it, all time; and the largest fall between consecutive
    segments (the first one on a tie). Segment indexes outside the duration are ignored. One query.
    """
    with read_cursor() as cursor:
        cursor.execute(_segment_viewers_sql(), [video.pk])
        viewers = {int(segment): int(count) for segment, count in cursor.fetchall()}
    count = video.segment_count
    segments = [
        {"segment": index, "start_s": index * video.segment_length_s, "viewers": viewers.get(index, 0)}
        for index in range(count)
    ]
    largest_drop, largest_at = 0, None
    for before, after in zip(segments, segments[1:]):
        drop = before["viewers"] - after["viewers"]
        if drop > largest_drop:
            largest_drop, largest_at = drop, after["segment"]
    return VideoRetention(
        segment_length_s=video.segment_length_s,
        segments=segments,
        largest_drop_segment=largest_at,
        largest_drop=largest_drop,
    )


__all__ = [
    "ActiveLearners",
    "EnrollmentTimeline",
    "VideoRetention",
    "active_learners_trend",
    "course_chapter_quiz_time",
    "course_quiz_sessions",
    "course_video_drop_off",
    "drop_off_rate",
    "enrollments_over_time",
    "learners_in_scope",
    "top_contents_by_time",
    "video_retention",
]


# Problems ----------------------------------------------------------------------------------------


def correct_rate(correct, total):
    """correct / total as a fraction of 1 (None when nobody submitted)."""
    return correct / total if total else None


def course_problem_summary(course):
    """The rows of course_problems (the Open edX problems endpoint: `total_submissions`,
    `correct_submissions` averaged over the parts, `part_ids`, `problem_name`) with
    `correct_rate` (correct / total submissions) and `part_count` added. Two queries."""
    rows = course_problems(course)
    for row in rows:
        row["correct_rate"] = correct_rate(row["correct_submissions"], row["total_submissions"])
        row["part_count"] = len(row["part_ids"])
    return rows


def course_has_problem(course, module_id):
    """Whether the course has a counted answer to the problem `module_id` (one query)."""
    return ProblemAnswerCount.objects.filter(
        workspace_id=course.workspace_id, course=course, problem_key=module_id
    ).exists()


def course_problem_distributions(course, module_id):
    """One problem of a course: {"answers": problem_answer_distribution rows, "parts": the same
    rows grouped by part ([{part_id, question_text, answers, learners}] in part order; learners:
    the part's counts summed, i.e. learners who answered it), "grades":
    problem_grade_distribution rows}, both limited to this course. Two queries."""
    answers = problem_answer_distribution(course.workspace_id, module_id, course_ids=[course.pk])
    parts = {}
    for answer in answers:
        part = parts.setdefault(
            answer["part_id"],
            {"part_id": answer["part_id"], "question_text": answer["question_text"], "answers": [], "learners": 0},
        )
        part["answers"].append(answer)
        part["learners"] += answer["count"]
        part["question_text"] = part["question_text"] or answer["question_text"]
    grades = problem_grade_distribution(course.workspace_id, module_id, course_ids=[course.pk])
    return {"answers": answers, "parts": list(parts.values()), "grades": grades}


def video_segment_timeline(video):
    """The Open edX video timeline (video_timeline: every segment from 0 with `num_views` and
    `num_users`) with each segment's `start_s` (segment x segment_length_s) added. One query."""
    rows = video_timeline(video)
    length = video.segment_length_s or 0
    for row in rows:
        row["start_s"] = row["segment"] * length
    return rows
