"""The Analyse figures of one learner group from the stored per-group totals
(courses.ResultGroupTotal): the statistics and the page total of a group alone give the numbers
of an independent recount of the group members' Result rows, after result writes, group
membership changes (admin and shell, the import, an erasure), on a new day and at the day's last
instant; `rollups check` finds no difference; another workspace's group gives nothing."""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.definitions import UTC
from analytics.queries.analyse import ResultOrder, analyse_results_page, analyse_statistics, pages
from analytics.queries.analyse.filters import ResultFilters
from analytics.queries.analyse.statistics import GROUP_TOTAL, _groups_source_sql
from analytics.rollups.check import check_rollups
from analytics.services.records.pipeline import ingest_records
from analytics.services.result_totals import refresh_stale_result_totals
from courses.models import AttemptState, Course, EnrollmentKind, ResultGroupTotal, ResultTotalsState
from tests.analytics.test_result_totals import recount, world  # noqa: F401 (the fixture)
from tests.factories import AttemptFactory, EnrollmentFactory, LearnerGroupFactory


@pytest.fixture
def groups(workspace, other_workspace, world):  # noqa: F811 (the fixture imported above)
    """Sales (users 0, 1, 3, 5, 7, 11: rows expired or ended earlier today and ending at the
    day's last second among them), Ops (2, 4, 5, 8, 9: user 5 in both), and another workspace's
    group holding users 0 and 2."""
    _, _, users = world
    sales = LearnerGroupFactory(workspace=workspace, name="Sales")
    ops = LearnerGroupFactory(workspace=workspace, name="Ops")
    globex = LearnerGroupFactory(workspace=other_workspace, name="Sales")
    sales.members.add(*(users[i] for i in (0, 1, 3, 5, 7, 11)))
    ops.members.add(*(users[i] for i in (2, 4, 5, 8, 9)))
    globex.members.add(users[0], users[2])
    return sales, ops, globex


def only(group):
    return ResultFilters(group_ids=(group.public_id,))


def uses_group_totals(workspace, group, now):
    return GROUP_TOTAL in _groups_source_sql(workspace, only(group), None, now)[0]


def assert_group_figures(workspace, group, now=None):
    """The group's statistics (stored path), the same through the raw path (a course scope of
    every course) and its page total all equal the recount of its members' rows; returns it."""
    now = now or timezone.now()
    expected = recount(workspace, now, list(group.members.values_list("pk", flat=True)))
    assert analyse_statistics(workspace, only(group), now=now) == expected
    every_course = Course.objects.filter(workspace=workspace)
    assert analyse_statistics(workspace, only(group), course_ids=every_course, now=now) == expected
    for limit in (1, 50):  # a page the walk fills (stored total when walked), one it cannot (counted)
        assert analyse_results_page(workspace, only(group), limit=limit, now=now).total == expected["total"]
    return expected


def assert_checked(workspace):
    check = check_rollups(workspace.pk, names=["result_totals"])
    assert check.ok and check.rollups[0].differences == 0, check


@pytest.fixture(autouse=True)
def walk_every_scope(monkeypatch):
    """Pages of a group in the default order walk the activity index however small the group
    (the path of large groups, whose total comes from the stored totals)."""
    monkeypatch.setattr(pages, "WALK_MIN_SCOPE_ROWS", 1)


def test_one_group_reads_its_stored_totals_and_gives_the_recount(workspace, groups):
    sales, ops, _ = groups
    now = timezone.now()
    assert ResultGroupTotal.objects.filter(group=sales).exists()
    assert uses_group_totals(workspace, sales, now) and uses_group_totals(workspace, ops, now)
    expected = assert_group_figures(workspace, sales, now)
    assert expected["total"] == 6 and expected["by_state"][AttemptState.EXPIRED] == 3  # users 1, 3 and 7
    assert assert_group_figures(workspace, ops, now)["total"] == 5
    assert_checked(workspace)


def test_only_one_group_alone_reads_the_group_totals(workspace, groups):
    sales, ops, _ = groups
    now = timezone.now()
    for filters in (
        ResultFilters(group_ids=(sales.public_id, ops.public_id)),
        ResultFilters(group_ids=(sales.public_id,), states=(AttemptState.APPROVED,)),
    ):
        assert GROUP_TOTAL not in _groups_source_sql(workspace, filters, None, now)[0]
    twice = ResultFilters(group_ids=(sales.public_id, sales.public_id))
    assert GROUP_TOTAL in _groups_source_sql(workspace, twice, None, now)[0]
    assert analyse_statistics(workspace, twice, now=now) == recount(
        workspace, now, list(sales.members.values_list("pk", flat=True))
    )
    assert GROUP_TOTAL not in _groups_source_sql(workspace, only(sales), [1], now)[0]  # a course scope


def test_the_stored_totals_are_what_is_read(workspace, groups):
    sales, _, _ = groups
    now = timezone.now()
    rows = ResultGroupTotal.objects.filter(group=sales)
    rows.update(results=F("results") + 100)  # wrong on purpose
    wrong = 6 + 100 * rows.count()
    assert analyse_statistics(workspace, only(sales), now=now)["total"] == wrong
    assert analyse_results_page(workspace, only(sales), limit=2, now=now).total == wrong


def test_a_group_page_takes_its_total_from_the_group_totals_in_one_query(workspace, groups, django_assert_num_queries):
    sales, _, _ = groups
    now = timezone.now()
    with CaptureQueriesContext(connection) as captured, django_assert_num_queries(1):
        page = analyse_results_page(workspace, only(sales), ResultOrder(), limit=2, now=now)
    assert (page.total, len(page.rows)) == (6, 2)
    assert type(page.total) is int
    assert GROUP_TOTAL in captured.captured_queries[0]["sql"]


def test_group_statistics_are_two_queries(workspace, groups, django_assert_num_queries):
    sales, _, _ = groups
    with django_assert_num_queries(2):  # the totals' day, then the statistics
        analyse_statistics(workspace, only(sales))


def test_result_writes_keep_the_group_totals(workspace, world, groups):  # noqa: F811
    alpha, beta, users = world
    sales, ops, _ = groups
    attempt = AttemptFactory(workspace=workspace, user=users[0], course=beta, state=AttemptState.APPROVED, score=55)
    attempt.progress = 100
    attempt.save()
    users[1].enrollments.get(course=alpha).delete()
    EnrollmentFactory(workspace=workspace, user=users[9], course=alpha, kind=EnrollmentKind.MANDATORY)
    users[5].attempts.get(course=beta).delete()

    now = timezone.now()
    assert uses_group_totals(workspace, sales, now)
    # Sales: user 0 gains a result, user 5 loses theirs (an ended enrollment without attempt);
    # Ops: user 9 gains one in alpha, user 5 loses theirs.
    assert assert_group_figures(workspace, sales, now)["total"] == 6
    assert assert_group_figures(workspace, ops, now)["total"] == 5
    assert_checked(workspace)


def test_membership_changes_keep_the_group_totals(workspace, world, groups):  # noqa: F811
    _, _, users = world
    sales, ops, _ = groups
    changes = [
        lambda: sales.members.add(users[2]),
        lambda: ops.members.remove(users[5]),
        lambda: users[8].learner_groups.add(sales),  # from the user's side
        lambda: users[0].learner_groups.remove(sales),
        lambda: ops.members.clear(),
        lambda: users[3].learner_groups.clear(),
        lambda: ops.members.set([users[10], users[11]]),
    ]
    for change in changes:
        change()
        for group in (sales, ops):
            assert uses_group_totals(workspace, group, timezone.now())
            assert_group_figures(workspace, group)
        assert_checked(workspace)
    assert sorted(sales.members.values_list("pk", flat=True)) == sorted(users[i].pk for i in (1, 2, 5, 7, 8, 11))


def test_an_import_of_users_groups_keeps_the_group_totals(workspace, world, groups):  # noqa: F811
    _, _, users = world
    sales, ops, _ = groups
    records = [
        ("1", {"kind": "user", "email": users[4].email, "groups": ["Sales"]}),  # leaves Ops, joins Sales
        ("2", {"kind": "user", "email": users[1].email, "groups": ["Ops", "Sales"]}),
    ]
    report = ingest_records(workspace, records)
    assert not report.rejected, report.rejected
    assert users[4].pk in set(sales.members.values_list("pk", flat=True))
    for group in (sales, ops):
        assert_group_figures(workspace, group)
    assert_checked(workspace)


def test_deleting_a_member_takes_their_rows_out_of_the_totals(workspace, world, groups):  # noqa: F811
    _, _, users = world
    sales, ops, _ = groups
    users[5].delete()  # in both groups, a result in beta
    now = timezone.now()
    assert assert_group_figures(workspace, sales, now)["total"] == 5
    assert assert_group_figures(workspace, ops, now)["total"] == 4
    assert analyse_statistics(workspace, now=now) == recount(workspace, now)
    assert_checked(workspace)


def test_a_new_day_reads_the_rows_until_the_rebuild(workspace, groups):
    sales, _, _ = groups
    ResultTotalsState.objects.filter(workspace=workspace).update(day=timezone.now().date() - timedelta(days=1))
    now = timezone.now()
    assert not uses_group_totals(workspace, sales, now)
    assert_group_figures(workspace, sales, now)

    assert refresh_stale_result_totals() >= 1
    assert uses_group_totals(workspace, sales, now)
    assert_group_figures(workspace, sales, now)
    assert_checked(workspace)


def test_the_rows_that_change_today_are_counted_at_the_time_read(workspace, groups):
    sales, _, _ = groups
    day = ResultTotalsState.objects.get(workspace=workspace).day
    late_today = datetime.combine(day, time(), UTC) + timedelta(days=1, milliseconds=-500)
    figures = [assert_group_figures(workspace, sales, now) for now in (timezone.now(), late_today)]
    # users[7]'s enrollment ends at the day's last second: a NOT_ENROLLED row by then.
    assert figures[0]["by_enrollment_type"] != figures[1]["by_enrollment_type"]


def test_another_workspaces_group_gives_nothing(workspace, other_workspace, groups):
    _, _, globex = groups
    now = timezone.now()
    assert analyse_statistics(workspace, only(globex), now=now)["total"] == 0
    assert analyse_results_page(workspace, only(globex), now=now).total == 0
    assert analyse_statistics(other_workspace, only(globex), now=now)["total"] == 0
