"""courses.Result, the Analyse result table: after every write path its rows read (through
analytics.queries.analyse.result_rows_sql) exactly what the rule says, recounted here in Python
from Attempt and Enrollment."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from analytics.queries.analyse import ResultFilters, analyse_results_page, result_rows_sql
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    apply_attempt_outcomes,
    apply_enrollment_changes,
)
from analytics.services.records import catalog
from analytics.services.records.pipeline import ingest_records
from courses.models import Attempt, Enrollment, Result
from courses.results import rebuild_results, refresh_results
from tests.factories import AttemptFactory, CourseFactory, EnrollmentFactory, MembershipFactory, UserFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=dt_timezone.utc)


def d(days):
    return NOW - timedelta(days=days)


def _as_utc(value):
    if isinstance(value, str):  # SQLite returns computed timestamps as text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def table_rows(workspace, now):
    """{(user_id, course_id): row} as result_rows_sql reads it from the table."""
    sql, params = result_rows_sql(workspace, ResultFilters(), now=now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    for row in rows:
        for column in ("started_at", "finished_at", "certificate_at", "expiry_at", "activity_at"):
            row[column] = _as_utc(row[column])
    return {(row.pop("user_pk"), row.pop("course_pk")): row for row in rows}


def recount(workspace, now):
    """The rule of analytics/queries/analyse/, from the attempts and enrollments themselves."""
    latest = {}
    for attempt in Attempt.objects.filter(workspace=workspace).order_by("version_number"):
        latest[(attempt.user_id, attempt.course_id)] = attempt
    active = {
        (e.user_id, e.course_id): e
        for e in Enrollment.objects.filter(workspace=workspace)
        if e.unenrolled_at is None or e.unenrolled_at > now
    }
    rows = {}
    for pair, a in latest.items():
        e = active.get(pair)
        expiry = (e.expires_at if e else None) or a.expires_at
        later = max(filter(None, [a.last_activity_at, a.completed_at]), default=None)
        rows[pair] = {
            "attempt_public_id": a.public_id,
            "enrollment_type": e.kind if e else "NOT_ENROLLED",
            "effective_state": "EXPIRED" if expiry and expiry < now and a.state != "APPROVED" else a.state,
            "progress_pct": a.progress,
            "score_pct": a.score,
            "time_spent": a.time_spent_s,
            "started_at": a.first_activity_at,
            "finished_at": a.completed_at,
            "certificate_at": a.certificate_issued_at,
            "expiry_at": expiry,
            "activity_at": later or a.first_activity_at or (e.enrolled_at if e else None) or a.created_at,
        }
    for pair, e in active.items():
        if pair not in latest and not Attempt.objects.filter(user_id=pair[0], course_id=pair[1]).exists():
            rows[pair] = {
                "attempt_public_id": None,
                "enrollment_type": e.kind,
                "effective_state": "EXPIRED" if e.expires_at and e.expires_at < now else "NOT_STARTED",
                "progress_pct": 0,
                "score_pct": None,
                "time_spent": 0,
                "started_at": None,
                "finished_at": None,
                "certificate_at": None,
                "expiry_at": e.expires_at,
                "activity_at": e.enrolled_at,
            }
    return rows


def assert_table_is_recount(workspace, now=NOW):
    assert table_rows(workspace, now) == recount(workspace, now)


@pytest.fixture
def people(workspace):
    learners = [UserFactory(email=f"l{n}@example.com") for n in range(3)]
    for learner in learners:
        MembershipFactory(user=learner, workspace=workspace)
    courses = [CourseFactory(workspace=workspace, key=f"c{n}", title=f"Course {n}") for n in range(2)]
    return learners, courses


def test_orm_saves_keep_every_kind_of_row(workspace, people):
    (ann, bob, cat), (py, sql) = people
    EnrollmentFactory(user=ann, course=py, kind="MANDATORY", enrolled_at=d(30), expires_at=d(-30))
    AttemptFactory(user=ann, course=py, version_number=0, state="FAILED", score=20)
    AttemptFactory(
        user=ann,
        course=py,
        version_number=1,
        state="IN_PROGRESS",
        first_activity_at=None,
        last_activity_at=None,
        completed_at=None,
    )
    EnrollmentFactory(user=bob, course=sql, kind="OPTIONAL", enrolled_at=d(10), expires_at=d(1))  # EXPIRED
    AttemptFactory(user=cat, course=py, state="APPROVED", completed_at=d(0), expires_at=d(5))  # NOT_ENROLLED

    rows = table_rows(workspace, NOW)

    assert {pair: (row["enrollment_type"], row["effective_state"]) for pair, row in rows.items()} == {
        (ann.pk, py.pk): ("MANDATORY", "IN_PROGRESS"),
        (bob.pk, sql.pk): ("OPTIONAL", "EXPIRED"),
        (cat.pk, py.pk): ("NOT_ENROLLED", "APPROVED"),
    }
    assert rows[(ann.pk, py.pk)]["activity_at"] == d(30)  # no activity yet: the enrollment date
    assert_table_is_recount(workspace)
    assert Result.objects.count() == 3


def test_saving_and_deleting_versions_moves_the_row_to_the_latest(workspace, people):
    (ann, _, _), (py, _) = people
    first = AttemptFactory(user=ann, course=py, version_number=0, state="FAILED", score=30)
    second = AttemptFactory(user=ann, course=py, version_number=1, state="APPROVED", score=95)
    assert table_rows(workspace, NOW)[(ann.pk, py.pk)]["score_pct"] == 95

    second.delete()
    assert table_rows(workspace, NOW)[(ann.pk, py.pk)]["attempt_public_id"] == first.public_id

    first.score = 45
    first.save()
    assert table_rows(workspace, NOW)[(ann.pk, py.pk)]["score_pct"] == 45
    first.delete()
    assert table_rows(workspace, NOW) == {}
    assert Result.objects.count() == 0


def test_deleting_an_enrollment_leaves_the_attempt_not_enrolled(workspace, people):
    (ann, bob, _), (py, _) = people
    enrollment = EnrollmentFactory(user=ann, course=py, kind="MANDATORY", enrolled_at=d(20))
    AttemptFactory(user=ann, course=py)
    only = EnrollmentFactory(user=bob, course=py, enrolled_at=d(20))

    enrollment.delete()
    only.delete()

    assert {pair: row["enrollment_type"] for pair, row in table_rows(workspace, NOW).items()} == {
        (ann.pk, py.pk): "NOT_ENROLLED"
    }
    assert_table_is_recount(workspace)


def test_unenrollment_in_the_future_counts_once_its_time_has_come(workspace, people):
    (ann, bob, _), (py, _) = people
    EnrollmentFactory(user=ann, course=py, kind="MANDATORY", enrolled_at=d(20), unenrolled_at=d(-2), expires_at=d(-10))
    AttemptFactory(
        user=ann, course=py, first_activity_at=None, last_activity_at=None, created_at=d(15), expires_at=d(-1)
    )
    EnrollmentFactory(user=bob, course=py, enrolled_at=d(20), unenrolled_at=d(-2))

    before = table_rows(workspace, NOW)
    after = table_rows(workspace, NOW + timedelta(days=3))

    assert before[(ann.pk, py.pk)]["enrollment_type"] == "MANDATORY"
    assert (before[(ann.pk, py.pk)]["activity_at"], before[(ann.pk, py.pk)]["expiry_at"]) == (d(20), d(-10))
    assert (bob.pk, py.pk) in before
    # Three days later: unenrolled, so the attempt's own dates; the learner without attempt is gone.
    assert set(after) == {(ann.pk, py.pk)}
    assert after[(ann.pk, py.pk)]["enrollment_type"] == "NOT_ENROLLED"
    assert (after[(ann.pk, py.pk)]["activity_at"], after[(ann.pk, py.pk)]["expiry_at"]) == (d(15), d(-1))
    assert after[(ann.pk, py.pk)]["effective_state"] == "EXPIRED"  # the attempt's expiry has passed too
    assert_table_is_recount(workspace, NOW)
    assert_table_is_recount(workspace, NOW + timedelta(days=3))


def test_expiry_passing_makes_the_row_expired_unless_approved(workspace, people):
    (ann, bob, _), (py, _) = people
    EnrollmentFactory(user=ann, course=py, enrolled_at=d(20), expires_at=d(-1))
    AttemptFactory(user=ann, course=py, state="IN_PROGRESS")
    EnrollmentFactory(user=bob, course=py, enrolled_at=d(20), expires_at=d(-1))
    AttemptFactory(user=bob, course=py, state="APPROVED")

    later = NOW + timedelta(days=2)
    states = {pair: row["effective_state"] for pair, row in table_rows(workspace, later).items()}

    assert states == {(ann.pk, py.pk): "EXPIRED", (bob.pk, py.pk): "APPROVED"}
    page = analyse_results_page(workspace, ResultFilters(states=("EXPIRED",)), now=later)
    assert [row["user_pk"] for row in page.rows] == [ann.pk]
    assert_table_is_recount(workspace, later)


def test_catalog_upserts_refresh_the_written_pairs(workspace, people):
    (ann, bob, _), (py, sql) = people
    catalog.upsert_enrollments(
        workspace,
        [
            {"user_id": ann.pk, "course_id": py.pk, "enrolled_at": d(9), "kind": "MANDATORY"},
            {"user_id": bob.pk, "course_id": sql.pk, "enrolled_at": d(9), "unenrolled_at": d(1)},
        ],
    )
    catalog.upsert_attempts(
        workspace,
        [
            {"user_id": ann.pk, "course_id": py.pk, "state": "APPROVED", "progress": 100, "completed_at": d(2)},
            {"user_id": bob.pk, "course_id": sql.pk, "state": "FAILED", "last_activity_at": d(3)},
        ],
    )
    assert_table_is_recount(workspace)

    catalog.upsert_enrollments(
        workspace, [{"user_id": bob.pk, "course_id": sql.pk, "enrolled_at": d(9), "unenrolled_at": None}]
    )
    assert table_rows(workspace, NOW)[(bob.pk, sql.pk)]["enrollment_type"] == "OPTIONAL"
    assert_table_is_recount(workspace)


def test_import_records_fill_the_table(workspace, people):
    (ann, _, _), (py, _) = people
    report = ingest_records(
        workspace,
        [
            (
                "1",
                {
                    "kind": "enrollment",
                    "user": ann.email,
                    "course": py.key,
                    "type": "MANDATORY",
                    "enrolledAt": "2026-05-01T00:00:00Z",
                },
            ),
            (
                "2",
                {
                    "kind": "attempt",
                    "user": ann.email,
                    "course": py.key,
                    "state": "IN_PROGRESS",
                    "progress": 40,
                    "lastActivityAt": "2026-05-20T00:00:00Z",
                },
            ),
        ],
    )

    assert not report.errors
    row = table_rows(workspace, NOW)[(ann.pk, py.pk)]
    assert (row["enrollment_type"], row["progress_pct"]) == ("MANDATORY", 40)
    assert_table_is_recount(workspace)


def test_learning_state_folds_refresh_the_table(workspace, people):
    (ann, bob, _), (py, _) = people
    apply_enrollment_changes(
        workspace,
        [
            EnrollmentChange(ann.pk, py.pk, d(10), "enroll"),
            EnrollmentChange(bob.pk, py.pk, d(10), "enroll"),
            EnrollmentChange(bob.pk, py.pk, d(5), "unenroll"),
        ],
    )
    apply_attempt_outcomes(workspace, [AttemptOutcome(ann.pk, py.pk, d(1), "APPROVED", 88)])

    rows = table_rows(workspace, NOW)
    assert set(rows) == {(ann.pk, py.pk)}
    assert (rows[(ann.pk, py.pk)]["effective_state"], rows[(ann.pk, py.pk)]["score_pct"]) == ("APPROVED", 88)
    assert_table_is_recount(workspace)


def test_xapi_statements_refresh_the_table(workspace, people, api_key_client):
    (ann, _, _), (py, _) = people
    client = api_key_client(workspace)
    statement = {
        "actor": {"mbox": f"mailto:{ann.email}"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {
            "id": f"https://lms.example.com/courses/{py.key}",
            "definition": {"type": "http://adlnet.gov/expapi/activities/course", "name": {"en": "Course 0"}},
        },
        "result": {"score": {"scaled": 0.9}},
        "timestamp": "2026-05-30T10:00:00Z",
    }

    response = client.post("/xapi/statements", [statement], format="json", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")

    assert response.status_code == 200, response.content
    states = {row["effective_state"] for row in table_rows(workspace, NOW).values()}
    assert states == {"APPROVED"}
    assert_table_is_recount(workspace)


def test_a_failing_batch_leaves_no_result_behind(workspace, people):
    (ann, _, _), (py, _) = people

    with pytest.raises(RuntimeError), transaction.atomic():
        catalog.upsert_attempts(workspace, [{"user_id": ann.pk, "course_id": py.pk, "state": "APPROVED"}])
        assert Result.objects.count() == 1
        raise RuntimeError("the rest of the batch failed")

    assert (Attempt.objects.count(), Result.objects.count()) == (0, 0)


def test_rebuild_equals_the_incremental_table(workspace, other_workspace, people):
    (ann, bob, cat), (py, sql) = people
    EnrollmentFactory(user=ann, course=py, enrolled_at=d(20), unenrolled_at=d(-1), expires_at=d(3))
    AttemptFactory(user=ann, course=py, version_number=2)
    AttemptFactory(user=bob, course=sql, state="FAILED", score=10)
    EnrollmentFactory(user=cat, course=sql, enrolled_at=d(4))
    AttemptFactory(course__workspace=other_workspace)
    columns = [field.attname for field in Result._meta.concrete_fields if field.attname != "id"]
    incremental = sorted(Result.objects.values_list(*columns))

    assert rebuild_results(workspace) == 3
    assert sorted(Result.objects.values_list(*columns)) == incremental
    call_command("rebuild_results", verbosity=0)
    assert sorted(Result.objects.values_list(*columns)) == incremental
    assert Result.objects.filter(workspace=other_workspace).count() == 1


def test_rebuild_command_if_empty_leaves_a_filled_table(workspace, people, capsys):
    (ann, _, _), (py, _) = people
    AttemptFactory(user=ann, course=py)
    Result.objects.update(progress=99)  # a stale row the command must not touch with --if-empty

    call_command("rebuild_results", "--workspace", workspace.slug, "--if-empty")

    assert Result.objects.get().progress == 99
    assert "nothing done" in capsys.readouterr().out


def test_refresh_of_pairs_without_rows_deletes_theirs(workspace, people):
    (ann, _, _), (py, _) = people
    AttemptFactory(user=ann, course=py)
    Attempt.objects.filter(user=ann)._raw_delete(connection.alias)  # bypasses the signals

    refresh_results([(ann.pk, py.pk)])

    assert Result.objects.count() == 0


def test_deleting_a_learner_or_a_course_cascades_to_its_results(workspace, people):
    (ann, bob, _), (py, sql) = people
    AttemptFactory(user=ann, course=py)
    EnrollmentFactory(user=ann, course=sql, enrolled_at=d(3))
    AttemptFactory(user=bob, course=sql)

    ann.delete()
    assert list(Result.objects.values_list("user_id", "course_id")) == [(bob.pk, sql.pk)]
    sql.delete()
    assert Result.objects.count() == 0
