"""Skillhabit Analyse API: POST /analyse/results, POST /analyse/statistics and the lookups.

The world (workspace acme, T0 = when it was built, dN = T0 - N days):

row  learner / course  enrollment                   latest attempt                         state
r1   ada / py          MANDATORY                    v2 APPROVED 100% score 90, done d2     APPROVED
r2   ada / sql         OPTIONAL, enrolled d15       none                                   NOT_STARTED
r3   bob / py          none                         IN_PROGRESS 40%, last d4               IN_PROGRESS (NOT_ENROLLED)
r4   bob / sql         MANDATORY, expires d1        IN_PROGRESS 70% score 60, last d6      EXPIRED
r5   cy / py           OPTIONAL, expires d5         APPROVED 100% score 80, last d10       APPROVED (approved never expires)
r6   cy / git          MANDATORY, enrolled d30,     none                                   EXPIRED
                       expires d8
r7   dee / git         OPTIONAL, unenrolled d3      FAILED 55% score 30, last d1,          FAILED (NOT_ENROLLED)
                                                    attempt expires T0+30d
--   eve / sql         OPTIONAL, unenrolled d2      none                                   (no row)
Groups: Sales = ada, bob; Ops = cy. Department: ada Sales, bob Support, cy Sales; Region: ada EU,
bob EU, cy US. The instructor teaches py. Workspace globex has a course with key course-py too.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from analytics.queries.analyse import pages as analyse_pages
from tests.factories import (
    AttemptFactory,
    CourseFactory,
    CustomFieldFactory,
    CustomFieldValueFactory,
    EnrollmentFactory,
    LearnerGroupFactory,
)

pytestmark = pytest.mark.django_db

RESULTS = "/analyse/results"
STATISTICS = "/analyse/statistics"
JWT_AUTH_QUERIES = 3  # the token's user, the user again and the membership, before the view runs
ALL_ROWS = {"r1", "r2", "r3", "r4", "r5", "r6", "r7"}
STATES = ["NOT_STARTED", "IN_PROGRESS", "APPROVED", "FAILED", "EXPIRED"]


class World:
    pass


@pytest.fixture
def world(workspace, other_workspace, make_member, instructor):
    w = World()
    t0 = timezone.now().replace(microsecond=0)
    w.t0 = t0

    def d(days):
        return t0 - timedelta(days=days)

    w.d = d
    w.ada = make_member(
        workspace,
        email="ada@acme.test",
        first_name="Ada",
        last_name="Lovelace",
        avatar_url="https://img.example.com/ada.png",
    )
    w.bob = make_member(workspace, email="bob@acme.test", first_name="bob", last_name="Builder")
    w.cy = make_member(workspace, email="cy@acme.test", first_name="Cy", last_name="Twombly")
    w.dee = make_member(workspace, email="dee@acme.test", first_name="Dee", last_name="Dee")
    w.eve = make_member(workspace, email="eve@acme.test", first_name="", last_name="")
    w.py = CourseFactory(workspace=workspace, key="course-py", title="Python")
    w.sql = CourseFactory(workspace=workspace, key="course-sql", title="SQL")
    w.git = CourseFactory(workspace=workspace, key="course-git", title="git basics")
    w.py.instructors.add(instructor)

    w.sales = LearnerGroupFactory(workspace=workspace, name="Sales")
    w.sales.members.add(w.ada, w.bob)
    w.ops = LearnerGroupFactory(workspace=workspace, name="Ops")
    w.ops.members.add(w.cy)
    w.department = CustomFieldFactory(workspace=workspace, name="Department")
    w.region = CustomFieldFactory(workspace=workspace, name="Region")
    for user, department, region in [(w.ada, "Sales", "EU"), (w.bob, "Support", "EU"), (w.cy, "Sales", "US")]:
        CustomFieldValueFactory(field=w.department, user=user, value=department)
        CustomFieldValueFactory(field=w.region, user=user, value=region)

    # r1: an older failed version and the latest approved one.
    EnrollmentFactory(user=w.ada, course=w.py, kind="MANDATORY", enrolled_at=d(25))
    AttemptFactory(
        user=w.ada,
        course=w.py,
        version_number=1,
        state="FAILED",
        progress=100,
        score=40,
        first_activity_at=d(24),
        last_activity_at=d(22),
        completed_at=d(22),
    )
    w.r1 = AttemptFactory(
        user=w.ada,
        course=w.py,
        version_number=2,
        state="APPROVED",
        progress=100,
        score=90,
        time_spent_s=3600,
        first_activity_at=d(20),
        last_activity_at=d(3),
        completed_at=d(2),
        certificate_issued_at=d(2),
        lang="en",
    )
    # r2
    EnrollmentFactory(user=w.ada, course=w.sql, kind="OPTIONAL", enrolled_at=d(15))
    # r3
    AttemptFactory(
        user=w.bob,
        course=w.py,
        state="IN_PROGRESS",
        progress=40,
        score=None,
        time_spent_s=600,
        first_activity_at=d(9),
        last_activity_at=d(4),
    )
    # r4
    EnrollmentFactory(user=w.bob, course=w.sql, kind="MANDATORY", enrolled_at=d(20), expires_at=d(1))
    AttemptFactory(
        user=w.bob,
        course=w.sql,
        state="IN_PROGRESS",
        progress=70,
        score=60,
        time_spent_s=1200,
        first_activity_at=d(19),
        last_activity_at=d(6),
    )
    # r5
    EnrollmentFactory(user=w.cy, course=w.py, kind="OPTIONAL", enrolled_at=d(40), expires_at=d(5))
    AttemptFactory(
        user=w.cy,
        course=w.py,
        state="APPROVED",
        progress=100,
        score=80,
        time_spent_s=2400,
        first_activity_at=d(39),
        last_activity_at=d(10),
        completed_at=d(12),
        certificate_issued_at=d(12),
    )
    # r6
    EnrollmentFactory(user=w.cy, course=w.git, kind="MANDATORY", enrolled_at=d(30), expires_at=d(8))
    # r7
    EnrollmentFactory(user=w.dee, course=w.git, kind="OPTIONAL", enrolled_at=d(10), unenrolled_at=d(3))
    AttemptFactory(
        user=w.dee,
        course=w.git,
        state="FAILED",
        progress=55,
        score=30,
        time_spent_s=300,
        first_activity_at=d(9),
        last_activity_at=d(1),
        expires_at=t0 + timedelta(days=30),
    )
    # eve left before starting: no row.
    EnrollmentFactory(user=w.eve, course=w.sql, kind="OPTIONAL", enrolled_at=d(5), unenrolled_at=d(2))

    # globex: same course key, its own learner; a globex group that (oddly) holds ada.
    w.stranger = make_member(other_workspace, email="stranger@globex.test")
    w.globex_py = CourseFactory(workspace=other_workspace, key="course-py", title="Python at Globex")
    EnrollmentFactory(user=w.stranger, course=w.globex_py, kind="MANDATORY", enrolled_at=d(3))
    AttemptFactory(user=w.stranger, course=w.globex_py, state="APPROVED", progress=100, score=100)
    w.globex_group = LearnerGroupFactory(workspace=other_workspace, name="Sales")
    w.globex_group.members.add(w.ada)

    w.row_names = {
        ("ada@acme.test", "course-py"): "r1",
        ("ada@acme.test", "course-sql"): "r2",
        ("bob@acme.test", "course-py"): "r3",
        ("bob@acme.test", "course-sql"): "r4",
        ("cy@acme.test", "course-py"): "r5",
        ("cy@acme.test", "course-git"): "r6",
        ("dee@acme.test", "course-git"): "r7",
    }
    return w


@pytest.fixture
def admin_client(workspace, admin_user, bearer_client):
    return bearer_client(admin_user, workspace)


def post(client, url, body):
    return client.post(url, body, format="json")


def row_names(world, response):
    assert response.status_code == 200, response.content
    return [world.row_names.get((r["user"]["email"], r["content"]["id"]), "?") for r in response.json()["results"]]


def rows_for(world, client, filters, **options):
    response = post(client, RESULTS, {"filters": filters, "options": {"limit": 1000, **options}})
    names = row_names(world, response)
    assert response.json()["total"] == len(names)
    return set(names)


def iso(value):
    return value.isoformat()


# The row set -----------------------------------------------------------------------------------


def test_one_row_per_learner_and_content_in_the_workspace(world, admin_client):
    assert rows_for(world, admin_client, {}) == ALL_ROWS


def test_result_row_shape_for_latest_attempt(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"userIds": [world.ada.public_id], "contentIds": ["course-py"]}})

    assert response.json() == {
        "success": True,
        "total": 1,
        "limit": 50,
        "skip": 0,
        "results": [
            {
                "id": world.r1.public_id,
                "state": "APPROVED",
                "progress": 100,
                "score": 90,
                "enrollmentType": "MANDATORY",
                "updatedAt": iso_z(world.d(2)),
                "startedAt": iso_z(world.d(20)),
                "completedAt": iso_z(world.d(2)),
                "certificateIssuedAt": iso_z(world.d(2)),
                "expiryDate": None,
                "timeSpent": 3600,
                "content": {"id": "course-py", "name": "Python", "type": "COURSE"},
                "user": {
                    "id": world.ada.public_id,
                    "name": "Ada Lovelace",
                    "email": "ada@acme.test",
                    "avatar": "https://img.example.com/ada.png",
                },
            }
        ],
    }


def iso_z(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_enrolled_learner_without_attempt_is_not_started_with_progress_0(world, admin_client):
    response = post(
        admin_client, RESULTS, {"filters": {"userIds": [world.ada.public_id], "contentIds": ["course-sql"]}}
    )

    (row,) = response.json()["results"]
    assert row["state"] == "NOT_STARTED"
    assert row["progress"] == 0
    assert row["score"] is None
    assert row["timeSpent"] == 0
    assert row["enrollmentType"] == "OPTIONAL"
    assert row["updatedAt"] == iso_z(world.d(15))  # the enrollment date
    assert (row["startedAt"], row["completedAt"], row["certificateIssuedAt"]) == (None, None, None)
    assert len(row["id"]) == 24


def test_user_without_avatar_has_null_avatar(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"userIds": [world.bob.public_id]}})

    assert [r["user"]["avatar"] for r in response.json()["results"]] == [None, None]


def test_not_started_row_id_is_stable_between_requests(world, admin_client):
    body = {"filters": {"states": ["NOT_STARTED"]}}

    first = post(admin_client, RESULTS, body).json()["results"][0]["id"]
    second = post(admin_client, RESULTS, body).json()["results"][0]["id"]

    assert first == second


def test_attempt_without_enrollment_is_not_enrolled(world, admin_client):
    assert rows_for(world, admin_client, {"enrollmentTypes": ["NOT_ENROLLED"]}) == {"r3", "r7"}


def test_unenrolled_learner_without_attempt_has_no_row(world, admin_client):
    assert rows_for(world, admin_client, {"userIds": [world.eve.public_id]}) == set()


def test_attempt_of_an_unenrolled_learner_keeps_its_own_expiry(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"userIds": [world.dee.public_id]}})

    (row,) = response.json()["results"]
    assert row["enrollmentType"] == "NOT_ENROLLED"
    assert row["expiryDate"] == iso_z(world.t0 + timedelta(days=30))
    assert row["state"] == "FAILED"


def test_result_past_expiry_not_approved_is_expired(world, admin_client):
    assert rows_for(world, admin_client, {"states": ["EXPIRED"]}) == {"r4", "r6"}


def test_approved_result_past_expiry_stays_approved(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"userIds": [world.cy.public_id], "contentIds": ["course-py"]}})

    (row,) = response.json()["results"]
    assert (row["state"], row["expiryDate"]) == ("APPROVED", iso_z(world.d(5)))


def test_updated_at_is_the_later_of_last_activity_and_completion(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"contentIds": ["course-py"]}, "options": {"limit": 10}})

    updated = {r["user"]["email"]: r["updatedAt"] for r in response.json()["results"]}
    assert updated == {
        "ada@acme.test": iso_z(world.d(2)),  # completed d2 after last activity d3
        "bob@acme.test": iso_z(world.d(4)),  # not completed
        "cy@acme.test": iso_z(world.d(10)),  # last activity d10 after completion d12
    }


def test_user_without_name_is_named_by_email(world, workspace, admin_client):
    EnrollmentFactory(user=world.eve, course=world.git, kind="OPTIONAL", enrolled_at=world.d(1))

    response = post(admin_client, RESULTS, {"filters": {"userIds": [world.eve.public_id]}})

    assert response.json()["results"][0]["user"]["name"] == "eve@acme.test"


# Filters alone ---------------------------------------------------------------------------------


def test_filter_by_one_group(world, admin_client):
    assert rows_for(world, admin_client, {"groupIds": [world.sales.public_id]}) == {"r1", "r2", "r3", "r4"}


def test_filter_by_two_groups_is_or(world, admin_client):
    assert rows_for(world, admin_client, {"groupIds": [world.sales.public_id, world.ops.public_id]}) == {
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
        "r6",
    }


def test_filter_by_users(world, admin_client):
    assert rows_for(world, admin_client, {"userIds": [world.bob.public_id, world.dee.public_id]}) == {"r3", "r4", "r7"}


def test_filter_by_contents(world, admin_client):
    assert rows_for(world, admin_client, {"contentIds": ["course-git"]}) == {"r6", "r7"}


def test_filter_by_states_is_or(world, admin_client):
    assert rows_for(world, admin_client, {"states": ["NOT_STARTED", "FAILED"]}) == {"r2", "r7"}


def test_filter_by_each_state(world, admin_client):
    found = {state: rows_for(world, admin_client, {"states": [state]}) for state in STATES}

    assert found == {
        "NOT_STARTED": {"r2"},
        "IN_PROGRESS": {"r3"},
        "APPROVED": {"r1", "r5"},
        "FAILED": {"r7"},
        "EXPIRED": {"r4", "r6"},
    }


def test_filter_by_enrollment_type(world, admin_client):
    assert rows_for(world, admin_client, {"enrollmentTypes": ["MANDATORY"]}) == {"r1", "r4", "r6"}
    assert rows_for(world, admin_client, {"enrollmentTypes": ["OPTIONAL", "NOT_ENROLLED"]}) == {"r2", "r3", "r5", "r7"}


def test_filter_by_custom_field_values_is_or(world, admin_client):
    one = [{"customFieldId": world.department.public_id, "values": ["Sales"]}]
    two = [{"customFieldId": world.department.public_id, "values": ["Sales", "Support"]}]

    assert rows_for(world, admin_client, {"customFields": one}) == {"r1", "r2", "r5", "r6"}
    assert rows_for(world, admin_client, {"customFields": two}) == {"r1", "r2", "r3", "r4", "r5", "r6"}


def test_several_custom_fields_are_and(world, admin_client):
    fields = [
        {"customFieldId": world.department.public_id, "values": ["Sales"]},
        {"customFieldId": world.region.public_id, "values": ["US"]},
    ]

    assert rows_for(world, admin_client, {"customFields": fields}) == {"r5", "r6"}


def test_updated_at_range_includes_from_and_excludes_to(world, admin_client):
    date_range = {"from": iso(world.d(6)), "to": iso(world.d(2))}

    assert rows_for(world, admin_client, {"updatedAtDateRange": date_range}) == {"r3", "r4"}


def test_updated_at_range_with_only_from(world, admin_client):
    assert rows_for(world, admin_client, {"updatedAtDateRange": {"from": iso(world.d(4))}}) == {"r1", "r3", "r7"}


def test_updated_at_range_with_only_to(world, admin_client):
    assert rows_for(world, admin_client, {"updatedAtDateRange": {"to": iso(world.d(15))}}) == {"r6"}


def test_expiry_range_skips_rows_without_expiry(world, admin_client):
    date_range = {"from": iso(world.d(5)), "to": iso(world.t0)}

    assert rows_for(world, admin_client, {"expiryDateRange": date_range}) == {"r4", "r5"}


def test_unknown_ids_match_nothing(world, admin_client):
    assert rows_for(world, admin_client, {"groupIds": ["0" * 24]}) == set()
    assert rows_for(world, admin_client, {"contentIds": ["no-such-course"]}) == set()


def test_empty_filter_lists_do_not_filter(world, admin_client):
    assert rows_for(world, admin_client, {"states": [], "groupIds": [], "customFields": []}) == ALL_ROWS


# Combinations ----------------------------------------------------------------------------------


def test_content_and_state_combine_with_and(world, admin_client):
    assert rows_for(world, admin_client, {"contentIds": ["course-py"], "states": ["APPROVED"]}) == {"r1", "r5"}


def test_group_and_enrollment_type_combine_with_and(world, admin_client):
    filters = {"groupIds": [world.sales.public_id], "enrollmentTypes": ["MANDATORY"]}

    assert rows_for(world, admin_client, filters) == {"r1", "r4"}


def test_custom_field_state_and_range_combine(world, admin_client):
    filters = {
        "customFields": [{"customFieldId": world.region.public_id, "values": ["EU"]}],
        "states": ["NOT_STARTED", "IN_PROGRESS", "EXPIRED"],
        "updatedAtDateRange": {"from": iso(world.d(10))},
    }

    assert rows_for(world, admin_client, filters) == {"r3", "r4"}


def test_enrollment_only_rows_drop_out_when_states_exclude_them(world, admin_client):
    filters = {"enrollmentTypes": ["MANDATORY", "OPTIONAL"], "states": ["APPROVED", "IN_PROGRESS"]}

    assert rows_for(world, admin_client, filters) == {"r1", "r5"}


# Paging and ordering ---------------------------------------------------------------------------


def page(world, client, skip, limit, order=None):
    options = {"skip": skip, "limit": limit}
    if order:
        options["order"] = order
    response = post(client, RESULTS, {"options": options})
    body = response.json()
    assert (body["total"], body["limit"], body["skip"]) == (7, limit, skip)
    return row_names(world, response)


def test_default_order_is_updated_at_descending_and_pages_follow_it(world, admin_client):
    assert page(world, admin_client, 0, 3) == ["r7", "r1", "r3"]
    assert page(world, admin_client, 3, 3) == ["r4", "r5", "r2"]
    assert page(world, admin_client, 6, 3) == ["r6"]
    assert page(world, admin_client, 9, 3) == []


def test_order_by_updated_at_ascending(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "updatedAt", "direction": "ASC"}) == [
        "r6",
        "r2",
        "r5",
        "r4",
        "r3",
        "r1",
        "r7",
    ]


def test_order_by_progress_breaks_ties_by_learner_then_content(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "progress", "direction": "ASC"}) == [
        "r2",
        "r6",
        "r3",
        "r7",
        "r4",
        "r1",
        "r5",
    ]


def test_order_by_score_puts_missing_scores_last_both_ways(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "score", "direction": "DESC"}) == [
        "r1",
        "r5",
        "r4",
        "r7",
        "r2",
        "r3",
        "r6",
    ]
    assert page(world, admin_client, 0, 10, {"field": "score", "direction": "ASC"}) == [
        "r7",
        "r4",
        "r5",
        "r1",
        "r2",
        "r3",
        "r6",
    ]


def test_order_by_user_name_ignores_case(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "userName", "direction": "ASC"}) == [
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
        "r6",
        "r7",
    ]


def test_order_by_content_name_ignores_case(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "contentName", "direction": "ASC"}) == [
        "r6",
        "r7",
        "r1",
        "r3",
        "r5",
        "r2",
        "r4",
    ]


def test_order_by_content_name_accepts_dotted_alias_descending(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "content.name", "direction": "desc"}) == [
        "r2",
        "r4",
        "r1",
        "r3",
        "r5",
        "r6",
        "r7",
    ]


def test_order_by_state_follows_the_documented_state_order(world, admin_client):
    assert page(world, admin_client, 0, 10, {"field": "state", "direction": "ASC"}) == [
        "r2",
        "r3",
        "r1",
        "r5",
        "r7",
        "r4",
        "r6",
    ]


ALL_CONTENTS = ["course-py", "course-sql", "course-git"]


@pytest.mark.parametrize(
    "order, expected",
    [
        (None, ["r7", "r1", "r3", "r4", "r5", "r2", "r6"]),
        ({"field": "updatedAt", "direction": "ASC"}, ["r6", "r2", "r5", "r4", "r3", "r1", "r7"]),
        ({"field": "progress", "direction": "ASC"}, ["r2", "r6", "r3", "r7", "r4", "r1", "r5"]),
        ({"field": "score", "direction": "DESC"}, ["r1", "r5", "r4", "r7", "r2", "r3", "r6"]),
        ({"field": "score", "direction": "ASC"}, ["r7", "r4", "r5", "r1", "r2", "r3", "r6"]),
        ({"field": "userName", "direction": "ASC"}, ["r1", "r2", "r3", "r4", "r5", "r6", "r7"]),
        ({"field": "contentName", "direction": "ASC"}, ["r6", "r7", "r1", "r3", "r5", "r2", "r4"]),
        ({"field": "state", "direction": "ASC"}, ["r2", "r3", "r1", "r5", "r7", "r4", "r6"]),
    ],
)
def test_a_scoped_page_follows_the_same_order(world, admin_client, order, expected):
    # A scope (here every content) reads its rows in one pass, the clock-dependent columns
    # computed there: the orders above are those of the unscoped tests.
    options = {"limit": 10, **({"order": order} if order else {})}
    response = post(admin_client, RESULTS, {"filters": {"contentIds": ALL_CONTENTS}, "options": options})

    assert response.json()["total"] == 7
    assert row_names(world, response) == expected


def test_a_scoped_page_pages_like_the_unscoped_one(world, admin_client):
    def scoped_page(skip):
        response = post(
            admin_client, RESULTS, {"filters": {"contentIds": ALL_CONTENTS}, "options": {"skip": skip, "limit": 3}}
        )
        assert response.json()["total"] == 7
        return row_names(world, response)

    assert [scoped_page(skip) for skip in (0, 3, 6, 9)] == [["r7", "r1", "r3"], ["r4", "r5", "r2"], ["r6"], []]


EVERY_LEARNER = ("ada", "bob", "cy", "dee", "eve")


@pytest.mark.parametrize("budget", [10_000, 4, 1])
def test_a_learner_scoped_page_walked_along_the_activity_index_pages_like_the_unscoped_one(
    world, admin_client, monkeypatch, budget
):
    # A large scope of learners in the default order walks the workspace's activity indexes
    # (analyse.pages._walked_page), here made to walk any scope. A walk that runs out of budget before
    # the page's end (4: at the third page, 1: always) gives way to the sorted read.
    monkeypatch.setattr(analyse_pages, "WALK_MIN_SCOPE_ROWS", 0)
    monkeypatch.setattr(analyse_pages, "WALK_BUDGET_ROWS", budget)
    every_learner = [getattr(world, name).public_id for name in EVERY_LEARNER]

    for skip in (0, 3, 6, 9):
        body = {"options": {"skip": skip, "limit": 3}}
        scoped = {**body, "filters": {"userIds": every_learner}}
        assert post(admin_client, RESULTS, scoped).json() == post(admin_client, RESULTS, body).json()


@pytest.mark.parametrize(
    "filters",
    [
        {"groupIds": ["SALES"]},
        {"groupIds": ["SALES", "OPS"]},
        {"userIds": ["DEE", "CY"]},
        {"customFields": [{"customFieldId": "DEPARTMENT", "values": ["Sales"]}]},
        {
            "customFields": [
                {"customFieldId": "DEPARTMENT", "values": ["Sales", "Support"]},
                {"customFieldId": "REGION", "values": ["EU"]},
            ],
            "groupIds": ["SALES"],
        },
    ],
)
def test_walked_and_sorted_learner_scoped_pages_are_the_same(world, admin_client, monkeypatch, filters):
    ids = {
        "SALES": world.sales.public_id,
        "OPS": world.ops.public_id,
        "DEE": world.dee.public_id,
        "CY": world.cy.public_id,
        "DEPARTMENT": world.department.public_id,
        "REGION": world.region.public_id,
    }
    text = json.dumps(filters)
    for placeholder, public_id in ids.items():
        text = text.replace(f'"{placeholder}"', f'"{public_id}"')
    filters = json.loads(text)

    walk = analyse_pages._walked_page
    answered = []  # per request: whether the walk gave the page (else the sorted read did)
    monkeypatch.setattr(analyse_pages, "_walked_page", lambda *a, **k: answered.append(walk(*a, **k)) or answered[-1])

    def pages(min_scope_rows):
        monkeypatch.setattr(analyse_pages, "WALK_MIN_SCOPE_ROWS", min_scope_rows)
        answered.clear()
        results = [
            post(admin_client, RESULTS, {"filters": filters, "options": {"skip": skip, "limit": 2}}).json()
            for skip in range(5)
        ]
        return results, [page is not None for page in answered]

    (walked, walk_answers), (sorted_, sort_answers) = pages(0), pages(10**9)
    assert walked == sorted_
    assert walked[0]["total"] > 0
    # the walk gave the first page (later ones may find fewer rows than the page's end in the walked
    # index and leave them to the sorted read); with too small a scope, it gave none
    assert walk_answers[0] is True
    assert sort_answers == [False] * 5


def test_a_walked_page_and_its_total_are_one_query(world, api_key_client, workspace, monkeypatch):
    monkeypatch.setattr(analyse_pages, "WALK_MIN_SCOPE_ROWS", 0)
    client = api_key_client(workspace)
    body = {"filters": {"groupIds": [world.sales.public_id]}, "options": {"limit": 2}}
    post(client, RESULTS, body)

    with CaptureQueriesContext(connection) as captured:
        response = post(client, RESULTS, body)

    assert (response.json()["total"], row_names(world, response)) == (4, ["r1", "r3"])
    assert len([q for q in captured.captured_queries if "courses_result" in q["sql"]]) == 1


@pytest.mark.parametrize(
    "filters",
    [
        {},
        *({"states": [state]} for state in STATES),
        *({"enrollmentTypes": [kind]} for kind in ("MANDATORY", "OPTIONAL", "NOT_ENROLLED")),
        {"updatedAtDateRange": {"from": "DAY6"}},
        {"expiryDateRange": {"to": "T0"}},
        {"expiryDateRange": {"from": "DAY6"}},
        {"states": ["FAILED", "EXPIRED"], "enrollmentTypes": ["NOT_ENROLLED", "MANDATORY"]},
    ],
)
def test_scoped_and_unscoped_reads_give_the_same_results(world, admin_client, filters):
    # Without a scope the rows are read in two parts (enrollment active or absent / ended);
    # with one, in a single pass: every workspace content as the scope must change nothing.
    filters = json.loads(json.dumps(filters).replace("DAY6", iso(world.d(6))).replace("T0", iso(world.t0)))
    body = {"filters": filters, "options": {"limit": 1000}}
    scoped = {**body, "filters": {**filters, "contentIds": ALL_CONTENTS}}

    assert post(admin_client, RESULTS, scoped).json() == post(admin_client, RESULTS, body).json()
    assert post(admin_client, STATISTICS, scoped).json() == post(admin_client, STATISTICS, body).json()


def test_enrollment_ending_later_is_still_active_in_and_out_of_scope(world, workspace, make_member, admin_client):
    fay = make_member(workspace, email="fay@acme.test", first_name="Fay", last_name="Later")
    expires = world.t0 + timedelta(days=60)
    EnrollmentFactory(
        user=fay,
        course=world.sql,
        kind="MANDATORY",
        enrolled_at=world.d(10),
        unenrolled_at=world.t0 + timedelta(days=5),
        expires_at=expires,
    )
    AttemptFactory(
        user=fay,
        course=world.sql,
        state="IN_PROGRESS",
        progress=20,
        first_activity_at=world.d(9),
        last_activity_at=world.d(7),
        expires_at=world.t0 + timedelta(days=400),
    )

    for filters in ({"userIds": [fay.public_id]}, {"enrollmentTypes": ["MANDATORY"], "states": ["IN_PROGRESS"]}):
        [row] = [
            r
            for r in post(admin_client, RESULTS, {"filters": filters}).json()["results"]
            if r["user"]["email"] == "fay@acme.test"
        ]
        assert (row["enrollmentType"], row["state"], row["expiryDate"], row["updatedAt"]) == (
            "MANDATORY",
            "IN_PROGRESS",
            iso_z(expires),
            iso_z(world.d(7)),
        )


def test_a_page_and_its_total_are_one_query(world, api_key_client, workspace, django_assert_max_num_queries):
    client = api_key_client(workspace)
    body = {
        "filters": {"states": ["APPROVED", "EXPIRED"], "groupIds": [world.sales.public_id]},
        "options": {"limit": 2},
    }
    post(client, RESULTS, body)  # the key's first use also records last_used_at

    with CaptureQueriesContext(connection) as captured, django_assert_max_num_queries(2):
        response = post(client, RESULTS, body)

    assert (response.status_code, response.json()["total"]) == (200, 2)
    assert len([q for q in captured.captured_queries if "courses_result" in q["sql"]]) == 1


def test_a_page_past_the_end_counts_the_total_separately(world, api_key_client, workspace):
    client = api_key_client(workspace)
    post(client, RESULTS, {})

    with CaptureQueriesContext(connection) as captured:
        response = post(client, RESULTS, {"options": {"skip": 100}})

    assert (response.json()["total"], response.json()["results"]) == (7, [])
    result_queries = [q["sql"] for q in captured.captured_queries if "courses_result" in q["sql"]]
    assert len(result_queries) == 2
    assert result_queries[1].upper().startswith("SELECT COUNT(*)")


def test_export_iteration_reads_every_row_in_keyset_chunks(world, workspace):
    from analytics.queries.analyse import ResultFilters, iter_result_rows

    total, rows = iter_result_rows(workspace, ResultFilters(), chunk_size=2)

    names = [world.row_names[(row["user_email"], row["course_key"])] for row in rows]
    assert (total, names) == (7, ["r1", "r2", "r3", "r4", "r5", "r6", "r7"])


# Statistics ------------------------------------------------------------------------------------


def test_statistics_of_the_whole_workspace(world, admin_client):
    response = post(admin_client, STATISTICS, {})

    assert response.status_code == 200
    stats = response.json()
    assert stats == {
        "success": True,
        "total": 7,
        "byState": {"NOT_STARTED": 1, "IN_PROGRESS": 1, "APPROVED": 2, "FAILED": 1, "EXPIRED": 2},
        "byEnrollmentType": {"MANDATORY": 3, "OPTIONAL": 2, "NOT_ENROLLED": 2},
        "averageProgress": 52.14,  # (100 + 0 + 40 + 70 + 100 + 0 + 55) / 7
        "averageScore": 65.0,  # (90 + 60 + 80 + 30) / 4 scored rows
        "completionRate": 0.2857,  # 2 / 7
        "certificatesIssued": 2,
        "totalTimeSpent": 8100,
        "byContent": [
            {
                "id": "course-py",
                "name": "Python",
                "total": 3,
                "byState": {"NOT_STARTED": 0, "IN_PROGRESS": 1, "APPROVED": 2, "FAILED": 0, "EXPIRED": 0},
            },
            {
                "id": "course-git",
                "name": "git basics",
                "total": 2,
                "byState": {"NOT_STARTED": 0, "IN_PROGRESS": 0, "APPROVED": 0, "FAILED": 1, "EXPIRED": 1},
            },
            {
                "id": "course-sql",
                "name": "SQL",
                "total": 2,
                "byState": {"NOT_STARTED": 1, "IN_PROGRESS": 0, "APPROVED": 0, "FAILED": 0, "EXPIRED": 1},
            },
        ],
    }


def recount(results):
    """Statistics recomputed in Python from the rows /analyse/results returned."""
    scores = [r["score"] for r in results if r["score"] is not None]
    total = len(results)
    by_state = {state: sum(r["state"] == state for r in results) for state in STATES}
    return {
        "total": total,
        "byState": by_state,
        "byEnrollmentType": {
            kind: sum(r["enrollmentType"] == kind for r in results)
            for kind in ("MANDATORY", "OPTIONAL", "NOT_ENROLLED")
        },
        "averageProgress": round(sum(r["progress"] for r in results) / total, 2) if total else 0,
        "averageScore": round(sum(scores) / len(scores), 2) if scores else None,
        "completionRate": round(by_state["APPROVED"] / total, 4) if total else 0,
        "certificatesIssued": sum(r["certificateIssuedAt"] is not None for r in results),
        "totalTimeSpent": sum(r["timeSpent"] for r in results),
        "contentTotals": sorted(
            {(r["content"]["id"], sum(x["content"]["id"] == r["content"]["id"] for x in results)) for r in results}
        ),
    }


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"states": ["APPROVED", "EXPIRED"]},
        {"contentIds": ["course-py", "course-sql"]},
        {"enrollmentTypes": ["NOT_ENROLLED"]},
        {"groupIds": ["SALES"], "states": ["IN_PROGRESS", "EXPIRED", "NOT_STARTED"]},
        {"updatedAtDateRange": {"from": "DAY6"}},
        {"customFields": [{"customFieldId": "DEPARTMENT", "values": ["Sales"]}]},
    ],
)
def test_statistics_equal_a_recount_of_the_results(world, admin_client, filters):
    filters = json.loads(
        json.dumps(filters)
        .replace("SALES", world.sales.public_id)
        .replace("DAY6", iso(world.d(6)))
        .replace("DEPARTMENT", world.department.public_id)
    )
    results = post(admin_client, RESULTS, {"filters": filters, "options": {"limit": 1000}}).json()["results"]

    stats = post(admin_client, STATISTICS, {"filters": filters}).json()

    expected = recount(results)
    assert sorted((c["id"], c["total"]) for c in stats["byContent"]) == expected.pop("contentTotals")
    assert {key: value for key, value in stats.items() if key != "byContent"} == {"success": True, **expected}
    for content in stats["byContent"]:
        assert content["byState"] == {
            state: sum(r["state"] == state and r["content"]["id"] == content["id"] for r in results) for state in STATES
        }


def test_statistics_with_no_rows(world, admin_client):
    stats = post(admin_client, STATISTICS, {"filters": {"contentIds": ["nothing"]}}).json()

    assert stats == {
        "success": True,
        "total": 0,
        "byState": dict.fromkeys(STATES, 0),
        "byEnrollmentType": {"MANDATORY": 0, "OPTIONAL": 0, "NOT_ENROLLED": 0},
        "averageProgress": 0,
        "averageScore": None,
        "completionRate": 0,
        "certificatesIssued": 0,
        "totalTimeSpent": 0,
        "byContent": [],
    }


def test_statistics_by_content_keeps_the_top_20(workspace, admin_client, make_member):
    learners = [make_member(workspace, email=f"l{n}@acme.test") for n in range(3)]
    courses = [CourseFactory(workspace=workspace, key=f"k{n:02d}", title=f"T{n:02d}") for n in range(22)]
    for index, course in enumerate(courses):
        # k00 and k01 get one learner, every other course two: they are the ones left out.
        for learner in learners[: 1 if index < 2 else 2]:
            EnrollmentFactory(user=learner, course=course, kind="OPTIONAL")

    stats = post(admin_client, STATISTICS, {}).json()

    assert stats["total"] == 2 * 1 + 20 * 2
    assert [c["id"] for c in stats["byContent"]] == [f"k{n:02d}" for n in range(2, 22)]


def test_statistics_are_one_aggregate_query(world, api_key_client, workspace):
    client = api_key_client(workspace)
    post(client, STATISTICS, {})

    with CaptureQueriesContext(connection) as captured:
        response = post(client, STATISTICS, {"filters": {"states": ["APPROVED"]}})

    assert response.status_code == 200
    assert len([q for q in captured.captured_queries if "courses_result" in q["sql"]]) == 1


# Errors ----------------------------------------------------------------------------------------


def assert_bad_request(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    assert field in body["message"]
    assert field in [error["field"] for error in body["errors"]]


def test_unknown_state_names_its_index(world, admin_client):
    response = post(admin_client, RESULTS, {"filters": {"states": ["APPROVED", "DONE"]}})

    assert_bad_request(response, "filters.states[1]")


def test_unknown_enrollment_type_is_400(world, admin_client):
    response = post(admin_client, STATISTICS, {"filters": {"enrollmentTypes": ["REQUIRED"]}})

    assert_bad_request(response, "filters.enrollmentTypes[0]")


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", 20250101])
def test_bad_date_names_the_field(world, admin_client, value):
    response = post(admin_client, RESULTS, {"filters": {"updatedAtDateRange": {"from": value}}})

    assert_bad_request(response, "filters.updatedAtDateRange.from")


def test_range_ending_before_it_starts_is_400(world, admin_client):
    date_range = {"from": iso(world.d(1)), "to": iso(world.d(2))}

    response = post(admin_client, RESULTS, {"filters": {"expiryDateRange": date_range}})

    assert_bad_request(response, "filters.expiryDateRange.to")


@pytest.mark.parametrize("limit", [0, 1001, "many"])
def test_limit_out_of_range_is_400(world, admin_client, limit):
    assert_bad_request(post(admin_client, RESULTS, {"options": {"limit": limit}}), "options.limit")


def test_limit_1000_is_accepted(world, admin_client):
    assert post(admin_client, RESULTS, {"options": {"limit": 1000}}).json()["limit"] == 1000


def test_negative_skip_is_400(world, admin_client):
    assert_bad_request(post(admin_client, RESULTS, {"options": {"skip": -1}}), "options.skip")


def test_unknown_order_field_is_400(world, admin_client):
    response = post(admin_client, RESULTS, {"options": {"order": {"field": "email"}}})

    assert_bad_request(response, "options.order.field")


def test_unknown_order_direction_is_400(world, admin_client):
    response = post(admin_client, RESULTS, {"options": {"order": {"field": "score", "direction": "UP"}}})

    assert_bad_request(response, "options.order.direction")


def test_unknown_filter_is_400_rather_than_ignored(world, admin_client):
    assert_bad_request(post(admin_client, RESULTS, {"filters": {"pathIds": ["x"]}}), "filters.pathIds")


def test_custom_field_filter_without_values_names_the_entry(world, admin_client):
    body = {
        "filters": {
            "customFields": [
                {"customFieldId": world.region.public_id, "values": ["EU"]},
                {"customFieldId": world.region.public_id},
            ]
        }
    }

    assert_bad_request(post(admin_client, RESULTS, body), "filters.customFields[1].values")


def test_body_that_is_not_an_object_is_400(world, admin_client):
    response = admin_client.post(RESULTS, data="[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_malformed_json_is_400_in_the_envelope(world, admin_client):
    response = admin_client.post(RESULTS, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_empty_body_uses_the_defaults(world, admin_client):
    response = admin_client.post(RESULTS)

    body = response.json()
    assert (response.status_code, body["total"], body["limit"], body["skip"]) == (200, 7, 50, 0)


# Permissions and workspaces --------------------------------------------------------------------


def test_learner_gets_403(world, workspace, bearer_client):
    response = post(bearer_client(world.ada, workspace), RESULTS, {})

    assert response.status_code == 403
    assert response.json()["success"] is False


def test_no_credential_gets_401(world, api_client):
    response = post(api_client, STATISTICS, {})

    assert response.status_code == 401
    assert response.json()["success"] is False


def test_admin_api_key_is_accepted(world, workspace, api_key_client):
    response = post(api_key_client(workspace), RESULTS, {})

    assert (response.status_code, response.json()["total"]) == (200, 7)


def test_instructor_api_key_gets_403(world, workspace, api_key_client):
    assert post(api_key_client(workspace, Role.INSTRUCTOR), RESULTS, {}).status_code == 403


def test_admin_session_is_accepted(world, admin_user, session_client):
    assert post(session_client(admin_user), STATISTICS, {}).json()["total"] == 7


def test_instructor_sees_only_rows_of_their_courses(world, workspace, instructor, bearer_client):
    client = bearer_client(instructor, workspace)

    assert rows_for(world, client, {}) == {"r1", "r3", "r5"}
    assert rows_for(world, client, {"contentIds": ["course-sql"]}) == set()
    assert post(client, STATISTICS, {}).json()["total"] == 3


def test_other_workspace_sees_only_its_own_rows(world, other_workspace, api_key_client):
    response = post(api_key_client(other_workspace), RESULTS, {})

    assert [(r["user"]["email"], r["content"]["name"]) for r in response.json()["results"]] == [
        ("stranger@globex.test", "Python at Globex")
    ]


def test_same_content_key_in_another_workspace_stays_out(world, admin_client):
    assert rows_for(world, admin_client, {"contentIds": ["course-py"]}) == {"r1", "r3", "r5"}


def test_group_of_another_workspace_matches_nothing(world, admin_client):
    assert rows_for(world, admin_client, {"groupIds": [world.globex_group.public_id]}) == set()


# Lookups ---------------------------------------------------------------------------------------


def test_groups_lookup_lists_groups_with_member_counts(world, admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(JWT_AUTH_QUERIES + 2):
        response = admin_client.get("/analyse/groups")

    assert response.json() == {
        "success": True,
        "total": 2,
        "limit": 50,
        "skip": 0,
        "results": [
            {"id": world.ops.public_id, "name": "Ops", "membersCount": 1},
            {"id": world.sales.public_id, "name": "Sales", "membersCount": 2},
        ],
    }


def test_groups_lookup_search_and_paging(world, admin_client):
    assert admin_client.get("/analyse/groups?search=SAL").json()["results"] == [
        {"id": world.sales.public_id, "name": "Sales", "membersCount": 2}
    ]
    paged = admin_client.get("/analyse/groups?limit=1&skip=1").json()
    assert (paged["total"], [g["name"] for g in paged["results"]]) == (2, ["Sales"])


def test_custom_fields_lookup_lists_known_values(world, admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(JWT_AUTH_QUERIES + 3):
        response = admin_client.get("/analyse/custom-fields")

    assert response.json()["results"] == [
        {"id": world.department.public_id, "name": "Department", "values": ["Sales", "Support"]},
        {"id": world.region.public_id, "name": "Region", "values": ["EU", "US"]},
    ]


def test_contents_lookup_for_admin_and_instructor(world, workspace, admin_client, instructor, bearer_client):
    everything = admin_client.get("/analyse/contents").json()
    taught = bearer_client(instructor, workspace).get("/analyse/contents").json()

    assert [c["id"] for c in everything["results"]] == ["course-git", "course-py", "course-sql"]
    assert taught["results"] == [{"id": "course-py", "name": "Python", "type": "COURSE"}]
    assert taught["total"] == 1


def test_contents_lookup_search_matches_title_or_key(world, admin_client):
    assert [c["id"] for c in admin_client.get("/analyse/contents?search=sq").json()["results"]] == ["course-sql"]


def test_users_lookup_searches_name_and_email(world, admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(JWT_AUTH_QUERIES + 2):
        response = admin_client.get("/analyse/users?search=ada lov")

    assert response.json()["results"] == [
        {
            "id": world.ada.public_id,
            "name": "Ada Lovelace",
            "email": "ada@acme.test",
            "avatar": "https://img.example.com/ada.png",
        }
    ]


def test_users_lookup_for_instructor_lists_their_learners(world, workspace, instructor, bearer_client):
    response = bearer_client(instructor, workspace).get("/analyse/users")

    assert [u["email"] for u in response.json()["results"]] == ["ada@acme.test", "bob@acme.test", "cy@acme.test"]


def test_users_lookup_for_instructor_includes_learners_who_left_without_starting(
    world, workspace, instructor, bearer_client
):
    world.sql.instructors.add(instructor)  # eve enrolled in sql and left before starting

    response = bearer_client(instructor, workspace).get("/analyse/users")

    # eve has no name: she sorts first (by her empty name, then email).
    assert [u["email"] for u in response.json()["results"]] == [
        "eve@acme.test",
        "ada@acme.test",
        "bob@acme.test",
        "cy@acme.test",
    ]


def test_users_lookup_never_lists_other_workspaces(world, admin_client):
    emails = [u["email"] for u in admin_client.get("/analyse/users?limit=1000").json()["results"]]

    assert "stranger@globex.test" not in emails
    assert len(emails) == 7  # five learners, the instructor and the admin


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "skip=-2", "limit=x"])
def test_lookup_bad_paging_is_400(world, admin_client, query):
    response = admin_client.get(f"/analyse/groups?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["message"]


def test_lookup_learner_gets_403(world, workspace, bearer_client):
    assert bearer_client(world.ada, workspace).get("/analyse/users").status_code == 403


@pytest.mark.parametrize("path", ["/analyse/groups", "/analyse/custom-fields", "/analyse/contents", "/analyse/users"])
def test_every_lookup_answers_success_true_first(world, admin_client, path):
    body = admin_client.get(path).json()
    assert list(body)[:2] == ["success", "total"]
    assert body["success"] is True


@pytest.mark.parametrize(
    "method,path", [("post", RESULTS), ("post", STATISTICS), ("get", "/analyse/groups"), ("get", "/analyse/users")]
)
def test_analyse_refused_while_api_access_is_disabled_for_the_workspace(world, admin_client, workspace, method, path):
    workspace.is_analyse_api_enabled = False
    workspace.save(update_fields=["is_analyse_api_enabled"])
    response = post(admin_client, path, {}) if method == "post" else admin_client.get(path)
    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "message": "API access is not enabled for this workspace: an admin of the workspace can enable it.",
    }

    workspace.is_analyse_api_enabled = True
    workspace.save(update_fields=["is_analyse_api_enabled"])
    assert (post(admin_client, path, {}) if method == "post" else admin_client.get(path)).status_code == 200


def test_disabling_api_access_of_another_workspace_changes_nothing(world, admin_client, other_workspace):
    other_workspace.is_analyse_api_enabled = False
    other_workspace.save(update_fields=["is_analyse_api_enabled"])
    assert post(admin_client, STATISTICS, {}).json()["total"] == len(ALL_ROWS)
