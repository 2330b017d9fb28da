"""Problem responses and subsection opens: the one entry point that writes them, and the
rollups behind the Open edX problem endpoints, kept in the same transaction.

Every input path (the import's `problem_response` and `subsection_open` kinds, tracking-log
`problem_check` and `seq_goto`, xAPI `answered`/`evaluated` statements) calls
`record_problem_responses` / `record_subsection_opens`, which insert the raw rows that are new
(ids already stored are skipped: a re-sent event adds nothing) and then update:

- ProblemPartLatest: each learner's last submission of each part; ProblemAnswerCount: how many
  learners' last submission gave each answer (Open edX counts final answers);
- ProblemLearnerLatest / ProblemGradeCount: the same for the grade of the whole problem;
- SubsectionLearner: each learner who opened a subsection, once.

Raw responses are only ever added, so a new row replaces a learner's "last" row when it is
later, and the counts move by the difference (the old answer's count down one, the new one's
up one): the cost is the batch's, not the problem's audience. On PostgreSQL the writers of one
workspace take a transaction-level advisory lock, so two batches never read the same "last"
row. Anything else that changes raw rows (a deleted user, the admin, xAPI voiding, a bulk
QuerySet write through analytics.rollups) ends in `rebuild_problem_rollups`, which recomputes a
workspace's rollups from the raw rows with one statement per table.
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from analytics.queries.sql import quoted_table, quoted_column
from analytics.models import (
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemLearnerLatest,
    ProblemPartLatest,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
)

# Advisory lock namespace (the first int4 of pg_advisory_xact_lock(int4, int4)): "PROB".
LOCK_CLASS = 0x50524F42
RESPONSE_FIELDS = (
    "id",
    "user_id",
    "course_id",
    "problem_key",
    "part_id",
    "answer",
    "value_id",
    "correct",
    "grade",
    "max_grade",
    "variant",
    "attempt",
    "submitted_at",
    "question",
    "problem_name",
    "source",
)
# What makes two last answers count in the same answer distribution row.
ANSWER_FIELDS = ("course_id", "problem_key", "part_id", "answer", "value_id", "correct", "variant")


def list_answer(values):
    """A list answer (checkboxes) as one text: `[a|b]`, as Open edX's answer distributions show it."""
    return "[" + "|".join(str(value) for value in values) + "]"


def _lock_workspace(workspace_id):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, workspace_id])


def _new_rows(model, workspace_id, rows):
    """The rows whose id is not stored yet (the first of repeated ids in the batch)."""
    ids = {row.id for row in rows}
    stored = set(model.objects.filter(workspace_id=workspace_id, id__in=ids).values_list("id", flat=True))
    fresh = {}
    for row in rows:
        if row.id not in stored and row.id not in fresh:
            fresh[row.id] = row
    return list(fresh.values())


def _later(row, than):
    """True when response `row` supersedes the stored last row `than` (None: nothing stored)."""
    return than is None or row.submitted_at >= than.submitted_at


@dataclass
class RecordResult:
    created: int = 0
    duplicates: int = 0


def record_problem_responses(workspace_id, responses):
    """Store ProblemResponse objects (unsaved; workspace set) that are new, and update the
    problem rollups. Returns a RecordResult. Runs in one transaction."""
    with transaction.atomic():
        _lock_workspace(workspace_id)
        fresh = _new_rows(ProblemResponse, workspace_id, responses)
        # One arrival time per batch, and ties in time broken by id: the incremental "last"
        # below and rebuild_problem_rollups' ORDER BY then always pick the same row.
        received_at = timezone.now()
        for row in fresh:
            row.received_at = received_at
        # The plain manager: these rollups are kept by difference below, not rebuilt.
        ProblemResponse._base_manager.bulk_create(fresh)
        _update_answer_rollups(workspace_id, fresh)
        _update_grade_rollups(
            workspace_id, [row for row in fresh if row.grade is not None and row.max_grade is not None]
        )
    return RecordResult(created=len(fresh), duplicates=len(responses) - len(fresh))


def _stored_latest(model, workspace_id, rows, key_of, key_fields):
    """{key: stored row} for the keys of rows (one query, narrowed in Python to the exact keys)."""
    keys = {key_of(row) for row in rows}
    if not keys:
        return {}
    candidates = model.objects.filter(
        workspace_id=workspace_id,
        problem_key__in={row.problem_key for row in rows},
        user_id__in={row.user_id for row in rows},
    )
    stored = {}
    for latest in candidates:
        key = tuple(getattr(latest, name) for name in key_fields)
        if key in keys:
            stored[key] = latest
    return stored


def _supersede(rows, stored, key_of, make):
    """Walk rows in time order, replacing stored[key] where a row is later. Returns
    (replaced: [(old or None, new)], by key), the new latest objects made by make(row, old)."""
    replaced = {}
    for row in sorted(rows, key=lambda item: (item.submitted_at, item.id)):
        key = key_of(row)
        current = replaced[key][1] if key in replaced else stored.get(key)
        if _later(row, current):
            first_old = replaced[key][0] if key in replaced else stored.get(key)
            replaced[key] = (first_old, make(row, first_old))
    return list(replaced.values())


def _save_latest(model, changes, fields):
    created = [new for old, new in changes if old is None]
    updated = [new for old, new in changes if old is not None]
    model.objects.bulk_create(created)
    if updated:
        model.objects.bulk_update(updated, fields)


def _update_answer_rollups(workspace_id, rows):
    key_fields = ("problem_key", "part_id", "user_id")

    def key_of(row):
        return (row.problem_key, row.part_id, row.user_id)

    def make(row, old):
        latest = old or ProblemPartLatest(
            workspace_id=workspace_id, problem_key=row.problem_key, part_id=row.part_id, user_id=row.user_id
        )
        for name in ("course_id", "submitted_at", "answer", "value_id", "correct", "variant"):
            setattr(latest, name, getattr(row, name))
        return latest

    stored = _stored_latest(ProblemPartLatest, workspace_id, rows, key_of, key_fields)
    olds = {
        key: (latest.course_id, latest.answer, latest.value_id, latest.correct, latest.variant)
        for key, latest in stored.items()
    }
    changes = _supersede(rows, stored, key_of, make)
    delta = Counter()
    for old, new in changes:
        if old is not None:
            course_id, answer, value_id, correct, variant = olds[(old.problem_key, old.part_id, old.user_id)]
            delta[(course_id, old.problem_key, old.part_id, answer, value_id, correct, variant)] -= 1
        delta[tuple(getattr(new, name) for name in ANSWER_FIELDS)] += 1
    _save_latest(ProblemPartLatest, changes, ["course_id", "submitted_at", "answer", "value_id", "correct", "variant"])
    labels = _labels(rows)
    _apply_counts(
        ProblemAnswerCount,
        workspace_id,
        delta,
        ANSWER_FIELDS,
        extra=lambda key: labels.get((key[1], key[2]), {}),
    )


def _labels(rows):
    """{(problem, part): {question, problem_name}}: the latest non-blank texts of the batch."""
    labels = {}
    for row in sorted(rows, key=lambda item: item.submitted_at):
        texts = labels.setdefault((row.problem_key, row.part_id), {})
        if row.question:
            texts["question"] = row.question
        if row.problem_name:
            texts["problem_name"] = row.problem_name
    return labels


def _update_grade_rollups(workspace_id, rows):
    key_fields = ("problem_key", "user_id")

    def key_of(row):
        return (row.problem_key, row.user_id)

    def make(row, old):
        latest = old or ProblemLearnerLatest(
            workspace_id=workspace_id, problem_key=row.problem_key, user_id=row.user_id
        )
        for name in ("course_id", "submitted_at", "grade", "max_grade"):
            setattr(latest, name, getattr(row, name))
        return latest

    stored = _stored_latest(ProblemLearnerLatest, workspace_id, rows, key_of, key_fields)
    olds = {key: (latest.course_id, latest.grade, latest.max_grade) for key, latest in stored.items()}
    changes = _supersede(rows, stored, key_of, make)
    delta = Counter()
    for old, new in changes:
        if old is not None:
            course_id, grade, max_grade = olds[(old.problem_key, old.user_id)]
            delta[(course_id, old.problem_key, grade, max_grade)] -= 1
        delta[(new.course_id, new.problem_key, new.grade, new.max_grade)] += 1
    _save_latest(ProblemLearnerLatest, changes, ["course_id", "submitted_at", "grade", "max_grade"])
    _apply_counts(ProblemGradeCount, workspace_id, delta, ("course_id", "problem_key", "grade", "max_grade"))


def _apply_counts(model, workspace_id, delta, key_fields, extra=None):
    """Add delta {key tuple: change} to the count rows of model; rows reaching 0 are deleted."""
    delta = {key: change for key, change in delta.items() if change or extra}
    if not delta:
        return
    now = timezone.now()
    stored = {}
    for row in model.objects.filter(workspace_id=workspace_id, problem_key__in={key[1] for key in delta}):
        stored[tuple(getattr(row, name) for name in key_fields)] = row
    created, updated, emptied = [], [], []
    for key, change in delta.items():
        row = stored.get(key)
        texts = extra(key) if extra else {}
        if row is None:
            row = model(workspace_id=workspace_id, count=0, **dict(zip(key_fields, key)))
            created.append(row)
        elif change or texts:
            updated.append(row)
        row.count += change
        row.updated_at = now
        for name, text in texts.items():
            setattr(row, name, text)
        if row.count <= 0 and row.pk is not None:
            emptied.append(row.pk)
    model.objects.bulk_create([row for row in created if row.count > 0])
    kept = [row for row in updated if row.count > 0]
    if kept:
        model.objects.bulk_update(kept, ["count", "updated_at", *(("question", "problem_name") if extra else ())])
    if emptied:
        model.objects.filter(pk__in=emptied).delete()


def record_subsection_opens(workspace_id, opens):
    """Store SubsectionOpen objects (unsaved; workspace set) that are new, and the learners who
    opened each subsection. Returns a RecordResult."""
    with transaction.atomic():
        fresh = _new_rows(SubsectionOpen, workspace_id, opens)
        SubsectionOpen._base_manager.bulk_create(fresh)
        first = {}
        for row in sorted(fresh, key=lambda item: item.opened_at):
            first.setdefault((row.subsection_key, row.user_id), row)
        SubsectionLearner.objects.bulk_create(
            [
                SubsectionLearner(
                    workspace_id=workspace_id,
                    course_id=row.course_id,
                    subsection_key=row.subsection_key,
                    user_id=row.user_id,
                    first_opened_at=row.opened_at,
                )
                for row in first.values()
            ],
            ignore_conflicts=True,
        )
    return RecordResult(created=len(fresh), duplicates=len(opens) - len(fresh))


# ---------------------------------------------------------------------------------------------
# Full rebuild from the raw rows


def _columns(model, *names):
    return ", ".join(quoted_column(model, name) for name in names)


def _last_per_key_sql(partition, where_extra=""):
    """Raw responses of workspace %s, each numbered within `partition` from the latest."""
    return (
        f"SELECT r.*, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY r.submitted_at DESC, r.received_at DESC,"
        f" r.id DESC) AS row_rank FROM {quoted_table(ProblemResponse)} r WHERE r.workspace_id = %s {where_extra}"
    )


def rebuild_problem_rollups(workspace_id):
    """Recompute every problem and subsection rollup of the workspace from its raw rows."""
    now = timezone.now()
    with transaction.atomic():
        _lock_workspace(workspace_id)
        for model in (
            ProblemPartLatest,
            ProblemAnswerCount,
            ProblemLearnerLatest,
            ProblemGradeCount,
            SubsectionLearner,
        ):
            model.objects.filter(workspace_id=workspace_id).delete()
        with connection.cursor() as cursor:
            latest_parts = _last_per_key_sql("r.problem_key, r.part_id, r.user_id")
            cursor.execute(
                f"INSERT INTO {quoted_table(ProblemPartLatest)} "
                f"({_columns(ProblemPartLatest, 'workspace', 'course', 'problem_key', 'part_id', 'user', 'submitted_at', 'answer', 'value_id', 'correct', 'variant')}) "
                f"SELECT workspace_id, course_id, problem_key, part_id, user_id, submitted_at, answer, value_id, correct, variant "
                f"FROM ({latest_parts}) last WHERE row_rank = 1",
                [workspace_id],
            )
            # The texts of each part: those of its latest response that has them (one ranking
            # pass over the workspace's responses, not a lookup per answer).
            latest_first = "submitted_at DESC, received_at DESC, id DESC"
            cursor.execute(
                f"WITH texts AS ("
                f"  SELECT problem_key, part_id, MAX(CASE WHEN question_rank = 1 THEN question END) AS question,"
                f"   MAX(CASE WHEN name_rank = 1 THEN problem_name END) AS problem_name"
                f"  FROM (SELECT problem_key, part_id, question, problem_name,"
                f"   ROW_NUMBER() OVER (PARTITION BY problem_key, part_id ORDER BY question = '', {latest_first}) AS question_rank,"
                f"   ROW_NUMBER() OVER (PARTITION BY problem_key, part_id ORDER BY problem_name = '', {latest_first}) AS name_rank"
                f"   FROM {quoted_table(ProblemResponse)} WHERE workspace_id = %s) ranked"
                f"  GROUP BY problem_key, part_id) "
                f"INSERT INTO {quoted_table(ProblemAnswerCount)} "
                f"({_columns(ProblemAnswerCount, 'workspace', 'course', 'problem_key', 'part_id', 'answer', 'value_id', 'correct', 'variant', 'count', 'question', 'problem_name', 'updated_at')}) "
                f"SELECT l.workspace_id, l.course_id, l.problem_key, l.part_id, l.answer, l.value_id, l.correct, l.variant, COUNT(*),"
                f" COALESCE(t.question, ''), COALESCE(t.problem_name, ''), %s "
                f"FROM {quoted_table(ProblemPartLatest)} l"
                f" LEFT JOIN texts t ON t.problem_key = l.problem_key AND t.part_id = l.part_id WHERE l.workspace_id = %s "
                f"GROUP BY l.workspace_id, l.course_id, l.problem_key, l.part_id, l.answer, l.value_id, l.correct, l.variant,"
                f" t.question, t.problem_name",
                [workspace_id, now, workspace_id],
            )
            latest_grades = _last_per_key_sql(
                "r.problem_key, r.user_id", "AND r.grade IS NOT NULL AND r.max_grade IS NOT NULL"
            )
            cursor.execute(
                f"INSERT INTO {quoted_table(ProblemLearnerLatest)} "
                f"({_columns(ProblemLearnerLatest, 'workspace', 'course', 'problem_key', 'user', 'submitted_at', 'grade', 'max_grade')}) "
                f"SELECT workspace_id, course_id, problem_key, user_id, submitted_at, grade, max_grade "
                f"FROM ({latest_grades}) last WHERE row_rank = 1",
                [workspace_id],
            )
            cursor.execute(
                f"INSERT INTO {quoted_table(ProblemGradeCount)} "
                f"({_columns(ProblemGradeCount, 'workspace', 'course', 'problem_key', 'grade', 'max_grade', 'count', 'updated_at')}) "
                f"SELECT workspace_id, MIN(course_id), problem_key, grade, max_grade, COUNT(*), %s "
                f"FROM {quoted_table(ProblemLearnerLatest)} WHERE workspace_id = %s GROUP BY workspace_id, problem_key, grade, max_grade",
                [now, workspace_id],
            )
            cursor.execute(
                f"INSERT INTO {quoted_table(SubsectionLearner)} "
                f"({_columns(SubsectionLearner, 'workspace', 'course', 'subsection_key', 'user', 'first_opened_at')}) "
                f"SELECT workspace_id, MIN(course_id), subsection_key, user_id, MIN(opened_at) "
                f"FROM {quoted_table(SubsectionOpen)} WHERE workspace_id = %s GROUP BY workspace_id, subsection_key, user_id",
                [workspace_id],
            )


def _rebuild_after_delete(sender, instance, **kwargs):
    # Deletes are rare (a user removed, the admin): recompute the workspace once, after commit.
    pending = _pending_rebuilds()
    if not pending:
        transaction.on_commit(_run_pending_rebuilds)
    pending.add(instance.workspace_id)


_pending = threading.local()


def _pending_rebuilds():
    if not hasattr(_pending, "workspaces"):
        _pending.workspaces = set()
    return _pending.workspaces


def _run_pending_rebuilds():
    workspaces, _pending.workspaces = _pending_rebuilds(), set()
    for workspace_id in sorted(workspaces):
        rebuild_problem_rollups(workspace_id)


def connect_signals():
    """Rebuild a workspace's problem rollups after raw rows of it were deleted (in any way that
    sends signals: the admin, a deleted user or course)."""
    from django.db.models.signals import post_delete

    for model in (ProblemResponse, SubsectionOpen):
        post_delete.connect(
            _rebuild_after_delete, sender=model, dispatch_uid=f"problem-rollups-{model._meta.label_lower}"
        )


def _in_list(values):
    return ", ".join(["%s"] * len(values))


def _texts_of(workspace_id, course_ids, keys):
    """{(problem_key, part_id): (question, problem_name)}: the texts rebuild_problem_rollups
    gives each part of the problems `keys` (its latest response that has each), read from the
    responses of `course_ids`. A plain read: no lock, no transaction needed."""
    latest_first = "submitted_at DESC, received_at DESC, id DESC"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT problem_key, part_id, MAX(CASE WHEN question_rank = 1 THEN question END),"
            f" MAX(CASE WHEN name_rank = 1 THEN problem_name END)"
            f" FROM (SELECT problem_key, part_id, question, problem_name,"
            f"  ROW_NUMBER() OVER (PARTITION BY problem_key, part_id ORDER BY question = '', {latest_first}) AS question_rank,"
            f"  ROW_NUMBER() OVER (PARTITION BY problem_key, part_id ORDER BY problem_name = '', {latest_first}) AS name_rank"
            f"  FROM {quoted_table(ProblemResponse)} WHERE workspace_id = %s"
            f"  AND course_id IN ({_in_list(course_ids)}) AND problem_key IN ({_in_list(keys)})) ranked"
            f" GROUP BY problem_key, part_id",
            [workspace_id, *course_ids, *keys],
        )
        return {(key, part): (question, name) for key, part, question, name in cursor.fetchall()}


def _texts_cte(texts):
    if not texts:
        return "texts AS (SELECT '' AS problem_key, '' AS part_id, '' AS question, '' AS problem_name WHERE 1 = 0)", []
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(texts))
    params = [value for (key, part), (question, name) in sorted(texts.items()) for value in (key, part, question, name)]
    return f"texts (problem_key, part_id, question, problem_name) AS (VALUES {rows})", params


def forget_learner(workspace_id, user_id):
    """Take one learner out of the workspace's problem and subsection rollups, once their raw
    responses and opens are deleted (an erasure, privacy.services): their latest-answer, latest-
    grade and subsection rows go, and the answer and grade counts (with the question texts) of the
    problems they had answered are recomputed as rebuild_problem_rollups computes them, for those
    problems only. The cost is the learner's problems, not the workspace's.

    The texts are read first, outside the locked transaction (on the large benchmark dataset a
    heavy learner's problems take seconds to rank); problem keys are course-scoped (usage keys
    name their course), so they are read from the responses of the courses the learner's rows
    were in. A response with a newer text committed between that read and the write is shown
    with the text read (until the next rebuild). Then one transaction, under the workspace's
    problem-writer lock. Returns (problems recomputed, seconds the locked transaction took)."""
    now = timezone.now()
    parts = ProblemPartLatest.objects.filter(workspace_id=workspace_id, user_id=user_id)
    grades = ProblemLearnerLatest.objects.filter(workspace_id=workspace_id, user_id=user_id)
    touched = set(parts.values_list("problem_key", "course_id")) | set(grades.values_list("problem_key", "course_id"))
    keys = sorted({key for key, _ in touched})
    course_ids = sorted({course_id for _, course_id in touched})
    chunks = [keys[start : start + 500] for start in range(0, len(keys), 500)]
    texts = [_texts_of(workspace_id, course_ids, chunk) for chunk in chunks]
    started = time.monotonic()
    with transaction.atomic():
        _lock_workspace(workspace_id)
        for rows in (parts, grades, SubsectionLearner.objects.filter(workspace_id=workspace_id, user_id=user_id)):
            rows._raw_delete(rows.db)
        with connection.cursor() as cursor:
            for chunk, chunk_texts in zip(chunks, texts):
                for model in (ProblemAnswerCount, ProblemGradeCount):
                    cursor.execute(
                        f"DELETE FROM {quoted_table(model)} WHERE workspace_id = %s AND problem_key IN ({_in_list(chunk)})",
                        [workspace_id, *chunk],
                    )
                cte, cte_params = _texts_cte(chunk_texts)
                cursor.execute(
                    f"WITH {cte} "
                    f"INSERT INTO {quoted_table(ProblemAnswerCount)} "
                    f"({_columns(ProblemAnswerCount, 'workspace', 'course', 'problem_key', 'part_id', 'answer', 'value_id', 'correct', 'variant', 'count', 'question', 'problem_name', 'updated_at')}) "
                    f"SELECT l.workspace_id, l.course_id, l.problem_key, l.part_id, l.answer, l.value_id, l.correct, l.variant, COUNT(*),"
                    f" COALESCE(t.question, ''), COALESCE(t.problem_name, ''), %s "
                    f"FROM {quoted_table(ProblemPartLatest)} l"
                    f" LEFT JOIN texts t ON t.problem_key = l.problem_key AND t.part_id = l.part_id"
                    f" WHERE l.workspace_id = %s AND l.problem_key IN ({_in_list(chunk)}) "
                    f"GROUP BY l.workspace_id, l.course_id, l.problem_key, l.part_id, l.answer, l.value_id, l.correct, l.variant,"
                    f" t.question, t.problem_name",
                    [*cte_params, now, workspace_id, *chunk],
                )
                cursor.execute(
                    f"INSERT INTO {quoted_table(ProblemGradeCount)} "
                    f"({_columns(ProblemGradeCount, 'workspace', 'course', 'problem_key', 'grade', 'max_grade', 'count', 'updated_at')}) "
                    f"SELECT workspace_id, MIN(course_id), problem_key, grade, max_grade, COUNT(*), %s "
                    f"FROM {quoted_table(ProblemLearnerLatest)} WHERE workspace_id = %s AND problem_key IN ({_in_list(chunk)}) "
                    f"GROUP BY workspace_id, problem_key, grade, max_grade",
                    [now, workspace_id, *chunk],
                )
    return len(keys), time.monotonic() - started
