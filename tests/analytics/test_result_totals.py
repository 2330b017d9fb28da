"""The Analyse statistics' stored totals (courses.ResultTotal): the fast path of a whole workspace
without filters gives the numbers of an independent recount of the Result rows, after writes,
on a new day and after a bulk reload; `rollups check` finds no difference."""

from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.definitions import UTC
from analytics.queries.analyse import ResultOrder, analyse_results_page, analyse_statistics
from analytics.queries.analyse.filters import ENROLLMENT_TYPES, NOT_ENROLLED, RESULT_STATES, ResultFilters
from analytics.queries.analyse.rows import boundary_on_day_sql
from analytics.queries.analyse.statistics import TOTAL, _groups_source_sql
from analytics.rollups.check import check_rollups
from analytics.services.result_totals import refresh_stale_result_totals, result_totals_stale
from courses.models import AttemptState, Course, EnrollmentKind, Result, ResultTotal, ResultTotalsState
from courses.results import rebuild_results
from tests.factories import AttemptFactory, CourseFactory, EnrollmentFactory, UserFactory


def recount(workspace, now, user_ids=None):
    """The statistics of every result row of the workspace at `now` (of the users `user_ids`
    only, when given), from the rules of the Result model read row by row in Python (no SQL
    aggregation)."""
    totals, by_course, by_type = Counter(), {}, Counter()
    rows = 0
    progress = score_sum = scored = certificates = time_spent = 0
    results = Result.objects.filter(workspace=workspace).select_related("course")
    if user_ids is not None:
        results = results.filter(user_id__in=user_ids)
    for row in results:
        active = row.enrollment_ends_at is None or row.enrollment_ends_at > now
        if not active and row.attempt_public_id is None:
            continue
        enrollment_type = (row.enrollment_kind or NOT_ENROLLED) if active else NOT_ENROLLED
        expiry = row.expires_at if active else row.attempt_expires_at
        state = AttemptState.EXPIRED if expiry and expiry < now and row.state != AttemptState.APPROVED else row.state
        rows += 1
        totals[state] += 1
        by_type[enrollment_type] += 1
        by_course.setdefault(row.course, Counter())[state] += 1
        progress += row.progress
        if row.score is not None:
            scored += 1
            score_sum += row.score
        certificates += row.certificate_issued_at is not None
        time_spent += row.time_spent_s
    contents = sorted(by_course.items(), key=lambda item: (-item[1].total(), item[0].title.lower(), item[0].key))
    return {
        "total": rows,
        "by_state": {state: totals[state] for state in RESULT_STATES},
        "by_enrollment_type": {kind: by_type[kind] for kind in ENROLLMENT_TYPES},
        "average_progress": round(progress / rows, 2) if rows else 0,
        "average_score": round(score_sum / scored, 2) if scored else None,
        "completion_rate": round(totals[AttemptState.APPROVED] / rows, 4) if rows else 0,
        "certificates_issued": certificates,
        "total_time_spent": time_spent,
        "by_content": [
            {"id": c.key, "name": c.title, "total": n.total(), "by_state": {s: n[s] for s in RESULT_STATES}}
            for c, n in contents[:20]
        ],
    }


def uses_totals(workspace, now):
    return TOTAL in _groups_source_sql(workspace, ResultFilters(), None, now)[0]


@pytest.fixture
def world(workspace):
    """Rows on every side of the clock: expiries and enrollment ends before today, today (before
    and after now) and after today; APPROVED, no attempt, no enrollment."""
    now = timezone.now()
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    first_instant, last_instant = today, today + timedelta(days=1, seconds=-1)
    alpha = CourseFactory(workspace=workspace, title="Alpha")
    beta = CourseFactory(workspace=workspace, title="beta")
    users = [UserFactory() for _ in range(12)]

    def result(user, course, *, kind=EnrollmentKind.OPTIONAL, ends=None, enroll_expiry=None, attempt=True, **fields):
        if kind is not None:
            EnrollmentFactory(
                workspace=workspace, user=user, course=course, kind=kind, unenrolled_at=ends, expires_at=enroll_expiry
            )
        if attempt:
            AttemptFactory(workspace=workspace, user=user, course=course, **fields)

    result(users[0], alpha, kind=EnrollmentKind.MANDATORY, progress=40, score=70, time_spent_s=100)
    result(users[1], alpha, expires_at=now - timedelta(days=2), progress=10, score=20)
    result(users[2], alpha, enroll_expiry=now + timedelta(days=5), time_spent_s=30)
    result(users[3], alpha, expires_at=first_instant, progress=60)  # expired earlier today
    result(users[4], alpha, enroll_expiry=last_instant, score=90)  # expires later today
    certified = {"certificate_issued_at": now - timedelta(days=3)}
    result(
        users[5], beta, ends=now - timedelta(days=1), state=AttemptState.APPROVED, progress=100, score=80, **certified
    )
    result(users[6], beta, ends=now - timedelta(days=1), attempt=False)  # no result once ended
    result(users[7], beta, ends=last_instant, expires_at=now - timedelta(days=1), time_spent_s=5)
    result(users[8], beta, kind=None, score=None, progress=30)  # an attempt without enrollment
    result(users[9], beta, ends=now + timedelta(days=1), attempt=False)
    result(users[10], alpha, expires_at=now - timedelta(days=9), state=AttemptState.APPROVED, progress=100)
    result(users[11], beta, ends=first_instant, expires_at=now + timedelta(days=3), progress=20)  # ended today
    return alpha, beta, users


def test_totals_are_built_by_the_first_write_and_give_the_recount(workspace, world):
    now = timezone.now()
    assert ResultTotal.objects.filter(workspace=workspace).exists()
    assert uses_totals(workspace, now)
    expected = recount(workspace, now)
    assert expected["total"] == 11 and expected["by_state"][AttemptState.EXPIRED] == 3  # the world as meant
    assert analyse_statistics(workspace, now=now) == expected
    # The raw path (a course scope of every course) agrees.
    assert analyse_statistics(workspace, course_ids=Course.objects.filter(workspace=workspace), now=now) == expected


def test_rows_with_a_boundary_today_are_not_in_the_totals(workspace, world):
    day = ResultTotalsState.objects.get(workspace=workspace).day
    start = datetime.combine(day, time(), UTC)
    counts = []
    for on in (True, False):
        condition, params = boundary_on_day_sql(start, start + timedelta(days=1), on=on)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {Result._meta.db_table} r WHERE {condition}", params)
            counts.append(cursor.fetchone()[0])
    assert counts == [4, Result.objects.count() - 4]  # users 3, 4, 7 and 11
    stored = sum(ResultTotal.objects.filter(workspace=workspace).values_list("results", flat=True))
    assert stored == recount(workspace, timezone.now())["total"] - 4


def test_writes_keep_the_totals_and_the_check_finds_no_difference(workspace, world):
    alpha, beta, users = world
    attempt = AttemptFactory(workspace=workspace, user=users[0], course=beta, state=AttemptState.APPROVED, score=55)
    attempt.progress = 100
    attempt.save()
    users[1].enrollments.get(course=alpha).delete()
    EnrollmentFactory(workspace=workspace, user=users[9], course=alpha, kind=EnrollmentKind.MANDATORY)
    now = timezone.now()

    assert uses_totals(workspace, now)
    assert analyse_statistics(workspace, now=now) == recount(workspace, now)
    check = check_rollups(workspace.pk, names=["result_totals"])
    assert check.ok and check.rollups[0].differences == 0 and check.rollups[0].rows > 0


def test_a_new_day_reads_the_rows_until_the_rebuild(workspace, world):
    ResultTotalsState.objects.filter(workspace=workspace).update(day=timezone.now().date() - timedelta(days=1))
    now = timezone.now()
    assert result_totals_stale(workspace.pk) and not uses_totals(workspace, now)
    assert analyse_statistics(workspace, now=now) == recount(workspace, now)

    assert refresh_stale_result_totals() == 1
    assert not result_totals_stale(workspace.pk) and uses_totals(workspace, now)
    assert analyse_statistics(workspace, now=now) == recount(workspace, now)


def test_a_bulk_reload_of_the_results_makes_the_totals_stale(workspace, world):
    alpha, _, users = world
    Result.objects.filter(user=users[0]).update(progress=0)  # a stale row, put right by the reload
    rebuild_results(workspace)
    now = timezone.now()
    assert result_totals_stale(workspace.pk) and not uses_totals(workspace, now)
    assert analyse_statistics(workspace, now=now) == recount(workspace, now)


def page_total(workspace, now, **options):
    return analyse_results_page(workspace, ResultFilters(), ResultOrder(), now=now, **options).total


def test_a_whole_workspace_page_takes_its_total_from_the_totals_in_one_query(
    workspace, world, django_assert_num_queries
):
    now = timezone.now()
    with CaptureQueriesContext(connection) as captured, django_assert_num_queries(1):
        page = analyse_results_page(workspace, ResultFilters(), ResultOrder(), limit=3, now=now)

    assert (page.total, len(page.rows)) == (recount(workspace, now)["total"], 3) == (11, 3)
    assert type(page.total) is int  # PostgreSQL's SUM is NUMERIC: a Decimal would be 11.0 in JSON
    assert TOTAL in captured.captured_queries[0]["sql"]


def test_a_whole_workspace_page_total_counts_the_rows_that_change_today_at_the_time_read(workspace, world):
    day = ResultTotalsState.objects.get(workspace=workspace).day
    late_today = datetime.combine(day, time(), UTC) + timedelta(days=1, milliseconds=-500)
    for now in (timezone.now(), late_today):
        assert page_total(workspace, now) == recount(workspace, now)["total"]
    # users[7]'s enrollment ends at the day's last second: its row (with an attempt) stays a
    # NOT_ENROLLED result, so the total is the same; the statistics by type tell it apart.
    assert (
        recount(workspace, late_today)["by_enrollment_type"] != recount(workspace, timezone.now())["by_enrollment_type"]
    )


def test_a_whole_workspace_page_total_reads_the_totals_only_while_they_hold_today(workspace, world):
    now = timezone.now()
    ResultTotal.objects.filter(workspace=workspace).update(results=F("results") + 100)  # wrong on purpose
    assert page_total(workspace, now) == 11 + 100 * ResultTotal.objects.filter(workspace=workspace).count()

    ResultTotalsState.objects.filter(workspace=workspace).update(day=now.astimezone(UTC).date() - timedelta(days=1))
    assert page_total(workspace, now) == recount(workspace, now)["total"] == 11


def test_a_filtered_page_or_one_past_the_end_counts_the_rows(workspace, world):
    alpha, _, _ = world
    now = timezone.now()
    ResultTotal.objects.filter(workspace=workspace).update(results=F("results") + 100)  # never read below
    content = ResultFilters(content_ids=(alpha.key,))
    assert analyse_results_page(workspace, content, now=now).total == 6
    assert analyse_results_page(workspace, ResultFilters(), now=now, course_ids=[alpha.pk]).total == 6
    assert page_total(workspace, now, skip=50) == 11
