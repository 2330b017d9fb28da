"""The whole workspace's Analyse pages in the orders the benchmark sends walk an index and stop
after the page (PostgreSQL): the rows are the same as a sort of every row, and the plan names
the index (sorting disabled, so a missing or mismatched index shows as a failure, not a slow
page)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.queries.analyse import ResultFilters, ResultOrder, analyse_results_page
from courses.models import Result
from tests.factories import AttemptFactory, CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")


@pytest.fixture
def results(workspace):
    """Six learners in two courses: equal progress and scores (ties broken by learner, course),
    a missing score, names with case and an email-only learner."""
    courses = [CourseFactory(workspace=workspace, title=title) for title in ("Alpha", "Beta")]
    names = [("bo", "Zed"), ("Al", "Young"), ("", ""), ("al", "young"), ("Cy", ""), ("dee", "X")]
    users = [UserFactory(first_name=first, last_name=last) for first, last in names]
    for index, user in enumerate(users):
        for course in courses[: 1 + index % 2]:
            EnrollmentFactory(workspace=workspace, user=user, course=course)
            AttemptFactory(
                workspace=workspace,
                user=user,
                course=course,
                progress=(index * 30) % 100,
                score=None if index == 4 else (index * 40) % 100,
            )
    return users


def indexes_under_limits(node, under_limit=False):
    """Names of the indexes scanned under a Limit with no full Sort or aggregate between: the
    ones a cut walks and stops early on."""
    kind = node["Node Type"]
    if kind in ("Sort", "Aggregate", "Hash", "HashAggregate"):
        under_limit = False
    elif kind == "Limit":
        under_limit = True
    found = {node["Index Name"]} if under_limit and "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= indexes_under_limits(child, under_limit)
    return found


def walked_indexes(page_call):
    """The page, and the indexes its statement walks (sorting disabled: without the index of
    its order the plan must sort)."""
    with CaptureQueriesContext(connection) as captured:
        page = page_call()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {captured.captured_queries[-1]['sql']}")
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_sort")
        cursor.execute("RESET enable_seqscan")
    if isinstance(plan, str):
        plan = json.loads(plan)
    return page, indexes_under_limits(plan[0]["Plan"])


def expected_keys(field, descending, now):
    """Every row's (user, course) in the order's rules, sorted in Python: NULL scores last,
    names case-insensitive (the email without a name), ties by learner then course."""
    rows = list(Result.objects.select_related("user"))

    def name(row):
        full = f"{row.user.first_name or ''} {row.user.last_name or ''}".strip()
        return (full or row.user.email).lower()

    value = {"progress": lambda row: row.progress, "score": lambda row: row.score, "userName": name}[field]
    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]
    present.sort(key=lambda row: (row.user_id, row.course_id))
    present.sort(key=value, reverse=descending)
    missing.sort(key=lambda row: (row.user_id, row.course_id))
    return [(row.user_id, row.course_id) for row in present + missing]


@pytest.mark.parametrize(
    "field, descending, index",
    [
        ("progress", True, "result_workspace_progress_idx"),
        ("score", False, "result_workspace_score_idx"),
        ("userName", False, "user_sort_name_idx"),
    ],
)
def test_a_whole_workspace_page_walks_the_index_of_its_order(workspace, results, field, descending, index):
    now = timezone.now()
    expected = expected_keys(field, descending, now)
    assert len(expected) == 9

    for skip in (0, 4):
        page, walked = walked_indexes(
            lambda: analyse_results_page(
                workspace, ResultFilters(), ResultOrder(field, descending), limit=4, skip=skip, now=now
            )
        )
        assert [(row["user_pk"], row["course_pk"]) for row in page.rows] == expected[skip : skip + 4]
        assert page.total == 9
        assert index in walked
