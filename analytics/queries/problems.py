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

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Sum, When

from analytics.models import ProblemAnswerCount, ProblemGradeCount, SubsectionLearner, VideoView


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
    over the parts. `part_ids` sorted; `problem_name` the latest display name seen (may be "").
    Two queries.
    """
    counts = (
        ProblemAnswerCount.objects.filter(course=course)
        .values("problem_key")
        .annotate(
            total=Sum("count"),
            correct_total=Sum(Case(When(correct=True, then=F("count")), default=0, output_field=IntegerField())),
            parts=Count("part_id", distinct=True),
            name=Max("problem_name"),
        )
        .order_by("problem_key")
    )
    part_rows = (
        ProblemAnswerCount.objects.filter(course=course)
        .values_list("problem_key", "part_id")
        .distinct()
        .order_by("problem_key", "part_id")
    )
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


def _segment_counts_sql():
    """SQL (one parameter: the video id) giving (segment, num_views, num_users) for every segment
    index some view of the video watched: the views' `segments` arrays expanded in the database
    (jsonb_array_elements on PostgreSQL, json_each on SQLite), non-numbers and negatives skipped."""
    table = connection.ops.quote_name(VideoView._meta.db_table)
    if connection.vendor == "postgresql":
        return f"""
            SELECT segment, COUNT(*) AS num_views, COUNT(DISTINCT user_id) AS num_users
            FROM (
                SELECT TRUNC((s.value #>> '{{}}')::numeric)::int AS segment, v.user_id
                FROM {table} v CROSS JOIN LATERAL jsonb_array_elements(
                    CASE WHEN jsonb_typeof(v.segments) = 'array' THEN v.segments ELSE '[]'::jsonb END
                ) AS s(value)
                WHERE v.video_id = %s AND jsonb_typeof(s.value) = 'number'
            ) watched
            WHERE segment >= 0
            GROUP BY segment
        """
    return f"""
        SELECT CAST(s.value AS INTEGER) AS segment, COUNT(*) AS num_views, COUNT(DISTINCT v.user_id) AS num_users
        FROM {table} v, json_each(CASE WHEN json_type(v.segments) = 'array' THEN v.segments ELSE '[]' END) s
        WHERE v.video_id = %s AND s.type IN ('integer', 'real') AND s.value >= 0
        GROUP BY CAST(s.value AS INTEGER)
    """


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
    and no watched ones. One query.
    """
    with connection.cursor() as cursor:
        cursor.execute(_segment_counts_sql(), [video.pk])
        counts = {int(segment): (int(views), int(users)) for segment, views, users in cursor.fetchall()}
    total = max(video_segment_total(video.duration_s, video.segment_length_s), max(counts, default=-1) + 1)
    return [
        {"segment": segment, "num_users": counts.get(segment, (0, 0))[1], "num_views": counts.get(segment, (0, 0))[0]}
        for segment in range(total)
    ]
