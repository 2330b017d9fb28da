"""Numbers of the Open edX-compatible problem and video timeline endpoints
(`/api/v0/courses/{course_id}/problems/`, `/api/v0/problems/{module_id}/...`,
`/api/v0/videos/{pipeline_video_id}/timeline/`), shared with the course dashboard.

Every function returns plain dicts and lists; the callers have already checked that the course,
video or workspace is the caller's. The problem figures read the rollups that
analytics.services.problem_rollups keeps in the writing transaction (so they are never stale):

- ProblemAnswerCount: per course, problem, part and answer, the learners whose LAST submission of
  the part gave that answer (Open edX's answer-distribution `count`);
- ProblemGradeCount: per problem and grade, the learners whose last graded submission scored it;
- SubsectionLearner: one row per learner who opened a subsection.

The video timeline is computed from the stored video views' `segments` (indexes of the
segment_length_s slices each view watched) in one query: docs/api/course_info.md has the rules.
"""

from collections import defaultdict
from itertools import groupby

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Sum, When

from analytics.queries.sql import quoted_table, read_cursor
from analytics.models import ProblemAnswerCount, ProblemGradeCount, SubsectionLearner, VideoView


# How long one video's timeline counts are reused (a new view shows within this; issue 18 asks
# for 60 s). The counting itself is the views' own segments: see _segment_counts.
TIMELINE_CACHE_S = 30


def _scoped(queryset, workspace_id, course_ids):
    queryset = queryset.filter(workspace_id=workspace_id)
    if course_ids is not None:
        queryset = queryset.filter(course_id__in=list(course_ids))
    return queryset


# ---------------------------------------------------------------------------------------------
# Problems of a course


def course_problems(course):
    """[{module_id, total_submissions, correct_submissions, part_ids, problem_name}], one per
    problem of the course with at least one counted answer, ordered by module_id.

    As Open edX's ProblemsListView SQL over its answer distribution: `total_submissions` is the
    sum of the problem's answer-distribution counts divided by its number of parts (integer part),
    `correct_submissions` the same over the answers marked correct. With counts of final answers,
    that is the learners per part who submitted (resp. whose final answer was correct), averaged
    over the parts. `part_ids` sorted; `problem_name` the display name the rollups keep for it
    (the greatest when its parts differ; "" when none was received).
    Two queries.
    """
    answers = ProblemAnswerCount.objects.filter(workspace_id=course.workspace_id, course=course)  # the index's columns
    counts = (
        answers.values("problem_key")
        .annotate(
            total=Sum("count"),
            correct_total=Sum(Case(When(correct=True, then=F("count")), default=0, output_field=IntegerField())),
            parts=Count("part_id", distinct=True),
            name=Max("problem_name"),
        )
        .order_by("problem_key")
    )
    part_rows = answers.values_list("problem_key", "part_id").distinct().order_by("problem_key", "part_id")
    part_ids = {key: [part for _, part in rows] for key, rows in groupby(part_rows, key=lambda row: row[0])}
    return [
        {
            "module_id": row["problem_key"],
            "total_submissions": int(row["total"] or 0) // row["parts"],
            "correct_submissions": int(row["correct_total"] or 0) // row["parts"],
            "part_ids": part_ids.get(row["problem_key"], []),
            "problem_name": row["name"] or "",
        }
        for row in counts
    ]


# ---------------------------------------------------------------------------------------------
# Distributions of one problem / subsection


def _variant(value):
    """Open edX's variant is an integer seed or null: digits become an int, blank null, other text
    is kept as it is."""
    if not value:
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def _matching_tuple(answer):
    # What must agree among the answers of one value_id for them to be merged (Open edX's
    # analytics_data_api.utils.matching_tuple).
    return (answer["question_text"], answer["answer_value"], answer["problem_display_name"], answer["correct"])


def _consolidate_part(answers):
    """Open edX's consolidate_answers for the answers of one part: when every value_id's answers
    agree on question, answer, problem name and correctness, the answers of each value_id given
    under several variants become one row (counts summed, variant null, consolidated_variant
    true), in order of first appearance of the value_id; otherwise the part is left as it is."""
    by_value = defaultdict(list)
    tuples = defaultdict(set)
    for answer in answers:
        answer["consolidated_variant"] = False
        by_value[answer["value_id"]].append(answer)
        tuples[answer["value_id"]].add(_matching_tuple(answer))
    if any(len(found) > 1 for found in tuples.values()):
        return answers
    merged = []
    for group in by_value.values():
        first = group[0]
        if len(group) > 1:
            first["count"] = sum(answer["count"] for answer in group)
            first["variant"] = None
            first["consolidated_variant"] = True
        merged.append(first)
    return merged


def problem_answer_distribution(workspace_id, module_id, course_ids=None):
    """[{course_id, module_id, part_id, correct, count, value_id, answer_value,
    problem_display_name, question_text, variant, consolidated_variant}] of one problem (by its
    usage key) in the workspace, optionally only in the courses `course_ids` (primary keys).

    `count`: learners whose last submission of the part gave this answer (ProblemAnswerCount).
    Ordered by part_id (Open edX's order), then value_id, answer, variant; then consolidated
    per part as Open edX does (_consolidate_part). `course_id` is the course key; blank
    value_id, question text and problem name are null; `variant` as _variant. One query.
    """
    rows = (
        _scoped(ProblemAnswerCount.objects, workspace_id, course_ids)
        .filter(problem_key=module_id)
        .order_by("part_id", "value_id", "answer", "variant", "correct", "course__key")
        .values_list(
            "course__key", "part_id", "correct", "count", "value_id", "answer", "problem_name", "question", "variant"
        )
    )
    answers = [
        {
            "course_id": course_key,
            "module_id": module_id,
            "part_id": part_id,
            "correct": correct,
            "count": count,
            "value_id": value_id or None,
            "answer_value": answer,
            "problem_display_name": problem_name or None,
            "question_text": question or None,
            "variant": _variant(variant),
        }
        for course_key, part_id, correct, count, value_id, answer, problem_name, question, variant in rows
    ]
    consolidated = []
    for _part, part_answers in groupby(answers, key=lambda answer: answer["part_id"]):
        consolidated.extend(_consolidate_part(list(part_answers)))
    return consolidated


def _number(value):
    """Grades are stored as floats; whole numbers are answered as integers (Open edX's columns are
    integers)."""
    return int(value) if value is not None and float(value).is_integer() else value


def problem_grade_distribution(workspace_id, module_id, course_ids=None):
    """[{course_id, module_id, grade, max_grade, count}] of one problem in the workspace (optionally
    only the courses `course_ids`): learners whose last graded submission scored `grade` of
    `max_grade` (ProblemGradeCount), ordered by grade, max_grade, course. One query."""
    rows = (
        _scoped(ProblemGradeCount.objects, workspace_id, course_ids)
        .filter(problem_key=module_id)
        .order_by("grade", "max_grade", "course__key")
        .values_list("course__key", "grade", "max_grade", "count")
    )
    return [
        {
            "course_id": course_key,
            "module_id": module_id,
            "grade": _number(grade),
            "max_grade": _number(max_grade),
            "count": count,
        }
        for course_key, grade, max_grade, count in rows
    ]


def sequential_open_distribution(workspace_id, module_id, course_ids=None):
    """[{course_id, module_id, count}] of one subsection (sequential usage key) in the workspace
    (optionally only the courses `course_ids`): distinct learners who opened it, one row per
    course (normally one), by course key. One query."""
    rows = (
        _scoped(SubsectionLearner.objects, workspace_id, course_ids)
        .filter(subsection_key=module_id)
        .values("course__key")
        .annotate(learners=Count("user_id"))
        .order_by("course__key")
        .values_list("course__key", "learners")
    )
    return [{"course_id": course_key, "module_id": module_id, "count": learners} for course_key, learners in rows]


# ---------------------------------------------------------------------------------------------
# Video timeline


# PostgreSQL: each view's watched segments as runs [lo, hi), then +1 / -1 at the ends of the runs
# of the views and of each learner's union of runs (range_agg), summed in segment order. A view
# whose `segments` run without a gap from the first to the last (a view without seeking;
# ingestion writes sorted distinct indexes) is one run read from the array's two ends, without
# expanding it; only the other views are expanded, and their segments grouped back into runs
# (segment - row_number is constant along a run). The work is proportional to the views, not to
# the segments they watched (docs/api/course_info.md has the timings).
_SEGMENT = "TRUNC(LEAST(GREATEST(({value})::numeric, -1), 1000000))::int"  # odd values stay in int range
_TIMELINE_STEPS_SQL = (
    """
    WITH stored AS (
        SELECT id, user_id, segments,
            CASE WHEN jsonb_typeof(segments) = 'array' THEN jsonb_array_length(segments) ELSE 0 END AS n
        FROM {table} WHERE video_id = %s
    ),
    views AS MATERIALIZED (
        SELECT id, user_id, segments, n, """
    + _SEGMENT.format(value="segments ->> 0")
    + """ AS first,
            """
    + _SEGMENT.format(value="segments ->> -1")
    + """ AS last
        FROM stored
        WHERE n > 0 AND jsonb_typeof(segments -> 0) = 'number' AND jsonb_typeof(segments -> -1) = 'number'
    ),
    scattered AS (
        SELECT DISTINCT v.id, v.user_id, """
    + _SEGMENT.format(value="e #>> '{{}}'")
    + """ AS segment
        FROM views v CROSS JOIN LATERAL jsonb_array_elements(v.segments) AS e
        WHERE v.last - v.first + 1 <> v.n AND jsonb_typeof(e) = 'number'
    ),
    runs AS MATERIALIZED (
        SELECT user_id, first AS lo, last + 1 AS hi FROM views WHERE last - first + 1 = n
        UNION ALL
        SELECT user_id, MIN(segment), MAX(segment) + 1 FROM (
            SELECT id, user_id, segment, segment - ROW_NUMBER() OVER (PARTITION BY id ORDER BY segment) AS run
            FROM scattered
        ) numbered GROUP BY id, user_id, run
    ),
    learner_runs AS (SELECT unnest(range_agg(int4range(lo, hi))) AS r FROM runs GROUP BY user_id),
    steps (at, views, learners) AS (
        SELECT lo, 1, 0 FROM runs
        UNION ALL SELECT hi, -1, 0 FROM runs
        UNION ALL SELECT lower(r), 0, 1 FROM learner_runs
        UNION ALL SELECT upper(r), 0, -1 FROM learner_runs
    )
    SELECT at, SUM(SUM(views)) OVER (ORDER BY at), SUM(SUM(learners)) OVER (ORDER BY at)
    FROM steps GROUP BY at ORDER BY at
"""
)

# SQLite (no ranges): every watched segment expanded with json_each, once per view, and counted.
_TIMELINE_COUNTS_SQL = """
    SELECT segment, COUNT(*), COUNT(DISTINCT user_id) FROM (
        SELECT DISTINCT v.id, v.user_id, CAST(s.value AS INTEGER) AS segment
        FROM {table} v, json_each(CASE WHEN json_type(v.segments) = 'array' THEN v.segments ELSE '[]' END) s
        WHERE v.video_id = %s AND s.type IN ('integer', 'real')
    ) watched
    GROUP BY segment
"""


def _segment_counts(video):
    """{segment: (num_views, num_users)} for every segment index from 0 that some view of the
    video watched. One query."""
    table = quoted_table(VideoView)
    with read_cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(_TIMELINE_COUNTS_SQL.format(table=table), [video.pk])
            return {
                int(segment): (int(views), int(users)) for segment, views, users in cursor.fetchall() if segment >= 0
            }
        cursor.execute(_TIMELINE_STEPS_SQL.format(table=table), [video.pk])
        steps = [(int(at), int(views), int(users)) for at, views, users in cursor.fetchall()]
    # Lay the running totals out on the segments: each holds from its `at` to the next one.
    counts = {}
    for (at, views, users), (next_at, _, _) in zip(steps, steps[1:]):
        if views:
            for segment in range(max(at, 0), next_at):
                counts[segment] = (views, users)
    return counts


def video_segment_total(duration_s, segment_length_s):
    """Segments of a video: its duration over the segment length, rounded up."""
    if not segment_length_s:
        return 0
    return -(-int(duration_s or 0) // int(segment_length_s))


def video_timeline(video):
    """[{segment, num_users, num_views}] for every segment of the video from 0, zeros included.

    Segments: duration_s / segment_length_s rounded up, extended to the highest segment a view
    watched when views went past the stored duration. `num_views`: views whose `segments` include
    the segment; `num_users`: distinct learners among them. [] when the video has no segments
    and no watched ones. One query, its result kept TIMELINE_CACHE_S seconds in the cache: a
    video watched by tens of thousands costs ~200 ms to count, and the figures may lag that long.
    """
    counts = cache.get_or_set(f"video-timeline:{video.pk}", lambda: _segment_counts(video), TIMELINE_CACHE_S)
    total = max(video_segment_total(video.duration_s, video.segment_length_s), max(counts, default=-1) + 1)
    return [
        {"segment": segment, "num_users": counts.get(segment, (0, 0))[1], "num_views": counts.get(segment, (0, 0))[0]}
        for segment in range(total)
    ]
