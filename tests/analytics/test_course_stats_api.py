"""360Learning-compatible course statistics: /api/v2/courses/stats, /api/v2/users, v1 stats."""

import re
from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Role, User
from courses.models import Attempt
from tests.factories import AttemptFactory, CourseFactory

pytestmark = pytest.mark.django_db

STATS = "/api/v2/courses/stats"
USERS = "/api/v2/users"
VERSION = {"360-api-version": "v2.0"}
T0 = datetime(2025, 6, 1, tzinfo=dt_timezone.utc)
LINK_RE = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def get_v2(client, url, params=None, headers=VERSION):
    return client.get(url, params or {}, headers=headers)


def next_url(response):
    """The path and query of the Link header's next page, or None on the last page."""
    link = response.headers.get("Link")
    if link is None:
        return None
    match = LINK_RE.match(link)
    assert match, link
    parts = urlsplit(match["url"])
    assert parts.scheme == "http" and parts.netloc == "testserver"  # absolute URL
    return f"{parts.path}?{parts.query}"


def walk(client, url, params=None):
    """Every page of a listing, following the Link headers: a list of (response, rows)."""
    pages = []
    response = get_v2(client, url, params)
    while True:
        assert response.status_code == 200, response.content
        pages.append((response, response.json()))
        following = next_url(response)
        if following is None:
            return pages
        response = client.get(following, headers=VERSION)


def ids(rows):
    return [row["_id"] for row in rows]


@pytest.fixture
def admin_client(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


@pytest.fixture
def many_attempts(workspace):
    """1,230 attempts: 41 members x 30 courses, made in bulk."""
    courses = [CourseFactory(workspace=workspace, key=f"course-{n:02d}") for n in range(30)]
    users = User.objects.bulk_create([User(email=f"bulk{n:03d}@acme.test") for n in range(41)])
    Membership.objects.bulk_create([Membership(user=user, workspace=workspace) for user in users])
    Attempt.objects.bulk_create(
        [
            Attempt(
                workspace=workspace,
                user=user,
                course=course,
                progress=(u * 30 + c) % 101,
                first_activity_at=T0 + timedelta(hours=u * 30 + c),
            )
            for u, user in enumerate(users)
            for c, course in enumerate(courses)
        ]
    )
    return list(Attempt.objects.filter(workspace=workspace).order_by("id"))


@pytest.fixture
def varied_attempts(workspace, make_member):
    """12 attempts (4 members x 3 courses) whose values differ enough to split by any filter."""
    courses = [CourseFactory(workspace=workspace, key=key) for key in ("edX/DemoX/Demo", "c-two", "c-three")]
    users = [make_member(workspace, email=f"member{n}@acme.test") for n in range(4)]
    attempts = []
    for i, (user, course) in enumerate((u, c) for u in users for c in courses):
        attempts.append(
            AttemptFactory(
                workspace=workspace,
                user=user,
                course=course,
                progress=[0, 10, 50, 100][i % 4],
                score=None if i % 5 == 0 else i * 8,
                first_activity_at=T0 + timedelta(days=i),
                last_activity_at=T0 + timedelta(days=i, hours=5),
                completed_at=None if i % 3 == 0 else T0 + timedelta(days=i + 1, milliseconds=123),
            )
        )
    return attempts


# --- Pagination -----------------------------------------------------------------------------


def test_walking_link_headers_returns_every_attempt_exactly_once(admin_client, many_attempts):
    pages = walk(admin_client, STATS)

    assert [len(rows) for _, rows in pages] == [500, 500, 230]
    walked = [row["_id"] for _, rows in pages for row in rows]
    assert walked == [attempt.public_id for attempt in many_attempts]  # each once, by primary key
    assert "Link" not in pages[-1][0].headers


def test_listing_of_exactly_one_page_has_no_link(admin_client, workspace):
    AttemptFactory.create_batch(3, course__workspace=workspace)

    response = get_v2(admin_client, STATS)

    assert len(response.json()) == 3
    assert "Link" not in response.headers


def test_next_link_keeps_the_filters(admin_client, many_attempts):
    pages = walk(admin_client, STATS, {"progress[gte]": "20"})

    expected = [a.public_id for a in many_attempts if a.progress >= 20]
    assert len(expected) > 500  # the filter really spans pages
    assert [row["_id"] for _, rows in pages for row in rows] == expected
    query = dict(parse_qsl(urlsplit(pages[0][0].headers["Link"][1:].split(">")[0]).query))
    assert query["progress[gte]"] == "20"
    assert "next" in query


def test_page_costs_the_same_queries_on_every_page(admin_client, many_attempts):
    first = get_v2(admin_client, STATS)  # also stamps the API key's last use
    third_url = next_url(admin_client.get(next_url(first), headers=VERSION))

    with CaptureQueriesContext(connection) as page_one:
        get_v2(admin_client, STATS)
    with CaptureQueriesContext(connection) as page_three:
        assert admin_client.get(third_url, headers=VERSION).status_code == 200

    assert len(page_one) == len(page_three) == 1  # the page (the API key is cached since the first request)


def test_page_stays_within_two_queries(admin_client, many_attempts, django_assert_max_num_queries):
    get_v2(admin_client, STATS)

    with django_assert_max_num_queries(2):
        response = get_v2(admin_client, STATS, {"courseId[in]": "course-01,course-02", "score[ne]": "3"})

    assert len(response.json()) == 82


def test_tampered_cursor_is_400(admin_client, many_attempts):
    url = next_url(get_v2(admin_client, STATS))
    cursor = dict(parse_qsl(urlsplit(url).query))["next"]
    forged = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")

    response = get_v2(admin_client, STATS, {"next": forged})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidCursor"
    assert "next" in response.json()["error"]["message"]


def test_garbage_cursor_is_400(admin_client, workspace):
    response = get_v2(admin_client, STATS, {"next": "not-a-cursor"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidCursor"


def test_cursor_used_with_other_filters_is_400(admin_client, many_attempts):
    url = next_url(get_v2(admin_client, STATS))
    cursor = dict(parse_qsl(urlsplit(url).query))["next"]

    response = get_v2(admin_client, STATS, {"next": cursor, "progress[gte]": "5"})

    assert response.status_code == 400
    assert "other filters" in response.json()["error"]["message"]


def test_cursor_of_the_users_listing_is_refused_by_course_stats(admin_client, workspace):
    users = User.objects.bulk_create([User(email=f"u{n:03d}@acme.test") for n in range(501)])
    Membership.objects.bulk_create([Membership(user=user, workspace=workspace) for user in users])
    cursor = dict(parse_qsl(urlsplit(next_url(get_v2(admin_client, USERS))).query))["next"]

    response = get_v2(admin_client, STATS, {"next": cursor})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidCursor"


# --- Row shape ------------------------------------------------------------------------------


def test_attempt_row_has_the_v2_fields_and_formats(admin_client, workspace, learner):
    course = CourseFactory(workspace=workspace, key="5757ea89c3f509b18c8624d1")
    attempt = AttemptFactory(
        workspace=workspace,
        user=learner,
        course=course,
        version_number=2,
        lang="fr",
        first_activity_at=datetime(2025, 6, 30, 13, 23, 56, 59000, tzinfo=dt_timezone.utc),
        last_activity_at=datetime(2025, 7, 1, 8, 0, 0, 999999, tzinfo=dt_timezone.utc),
        time_spent_s=50,
        progress=100,
        score=75,
        completed_at=datetime(2025, 7, 1, 8, 0, 0, tzinfo=dt_timezone.utc),
        path_id="507f1f77bcf86cd799439011",
        path_session_id="507f1f77bcf86cd799439012",
    )

    response = get_v2(admin_client, STATS)

    assert response.status_code == 200
    assert response.json() == [
        {
            "_id": attempt.public_id,
            "versionNumber": 2,
            "lang": "fr",
            "firstActivityAt": "2025-06-30T13:23:56.059Z",
            "lastActivityAt": "2025-07-01T08:00:00.999Z",
            "timeSpent": 50000,
            "progress": 100,
            "score": 75,
            "completedAt": "2025-07-01T08:00:00.000Z",
            "pathId": "507f1f77bcf86cd799439011",
            "pathSessionId": "507f1f77bcf86cd799439012",
            "courseId": "5757ea89c3f509b18c8624d1",
            "userId": learner.public_id,
        }
    ]


def test_absent_optional_values_are_omitted_and_lang_defaults_to_en(admin_client, workspace, learner):
    attempt = AttemptFactory(
        course__workspace=workspace,
        user=learner,
        lang="",
        score=None,
        completed_at=None,
        first_activity_at=None,
        last_activity_at=None,
    )

    (row,) = get_v2(admin_client, STATS).json()

    assert row == {
        "_id": attempt.public_id,
        "versionNumber": 0,
        "lang": "en",
        "timeSpent": 0,
        "progress": 50,
        "courseId": attempt.course.key,
        "userId": learner.public_id,
    }


# --- Filters --------------------------------------------------------------------------------

D = "2025-06-05T00:00:00.000Z"
D_AT = datetime(2025, 6, 5, tzinfo=dt_timezone.utc)

FILTER_CASES = [
    ({"progress[eq]": "50"}, lambda a: a.progress == 50),
    ({"progress[ne]": "50"}, lambda a: a.progress != 50),
    ({"progress[in]": "0,100"}, lambda a: a.progress in (0, 100)),
    ({"progress[nin]": "0,100"}, lambda a: a.progress not in (0, 100)),
    ({"progress[gt]": "10"}, lambda a: a.progress > 10),
    ({"progress[gte]": "10"}, lambda a: a.progress >= 10),
    ({"progress[lt]": "50"}, lambda a: a.progress < 50),
    ({"progress[lte]": "50"}, lambda a: a.progress <= 50),
    ({"score[eq]": "16"}, lambda a: a.score == 16),
    ({"score[ne]": "16"}, lambda a: a.score != 16),  # includes attempts without a score
    ({"score[in]": "8,16,24"}, lambda a: a.score in (8, 16, 24)),
    ({"score[nin]": "8,16,24"}, lambda a: a.score not in (8, 16, 24)),
    ({"score[gt]": "40"}, lambda a: a.score is not None and a.score > 40),
    ({"score[gte]": "40"}, lambda a: a.score is not None and a.score >= 40),
    ({"score[lt]": "40"}, lambda a: a.score is not None and a.score < 40),
    ({"score[lte]": "40"}, lambda a: a.score is not None and a.score <= 40),
    ({"completedAt[gte]": D}, lambda a: a.completed_at is not None and a.completed_at >= D_AT),
    ({"completedAt[lt]": D}, lambda a: a.completed_at is not None and a.completed_at < D_AT),
    (
        {"completedAt[gt]": "2025-06-03T00:00:00.123Z"},
        lambda a: a.completed_at is not None and a.completed_at > T0 + timedelta(days=2, milliseconds=123),
    ),
    (
        {"completedAt[lte]": "2025-06-03T00:00:00.123Z"},
        lambda a: a.completed_at is not None and a.completed_at <= T0 + timedelta(days=2, milliseconds=123),
    ),
    (
        {"completedAt[eq]": "2025-06-03T00:00:00.123Z"},
        lambda a: a.completed_at == T0 + timedelta(days=2, milliseconds=123),
    ),
    (
        {"completedAt[ne]": "2025-06-03T00:00:00.123Z"},
        lambda a: a.completed_at != T0 + timedelta(days=2, milliseconds=123),
    ),
    ({"firstActivityAt[gte]": D}, lambda a: a.first_activity_at >= D_AT),
    ({"firstActivityAt[lt]": D}, lambda a: a.first_activity_at < D_AT),
    ({"lastActivityAt[gt]": D}, lambda a: a.last_activity_at > D_AT),
    ({"lastActivityAt[lte]": "2025-06-05T05:00:00Z"}, lambda a: a.last_activity_at <= D_AT + timedelta(hours=5)),
    (
        {"lastActivityAt[in]": "2025-06-01T05:00:00Z,2025-06-03T05:00:00.000Z"},
        lambda a: a.last_activity_at in (T0 + timedelta(hours=5), T0 + timedelta(days=2, hours=5)),
    ),
    ({"courseId[eq]": "edX/DemoX/Demo"}, lambda a: a.course.key == "edX/DemoX/Demo"),
    ({"courseId[ne]": "edX/DemoX/Demo"}, lambda a: a.course.key != "edX/DemoX/Demo"),
    ({"courseId[in]": "c-two,c-three"}, lambda a: a.course.key in ("c-two", "c-three")),
    ({"courseId[nin]": "c-two,c-three"}, lambda a: a.course.key not in ("c-two", "c-three")),
    ({"courseId[gt]": "c-three"}, lambda a: a.course.key > "c-three"),
    (
        {"completedAt[gte]": "2025-06-03T00:00:00Z", "completedAt[lt]": "2025-06-08T00:00:00Z", "progress[ne]": "100"},
        lambda a: (
            a.completed_at is not None
            and T0 + timedelta(days=2) <= a.completed_at < T0 + timedelta(days=7)
            and a.progress != 100
        ),
    ),
]


@pytest.mark.parametrize(("params", "keep"), FILTER_CASES, ids=[" & ".join(p) for p, _ in FILTER_CASES])
def test_filter_returns_the_computed_subset(admin_client, varied_attempts, params, keep):
    expected = [a.public_id for a in sorted(varied_attempts, key=lambda a: a.pk) if keep(a)]
    assert 0 < len(expected) < len(varied_attempts)  # the case really splits the attempts

    response = get_v2(admin_client, STATS, params)

    assert response.status_code == 200, response.content
    assert ids(response.json()) == expected


def test_user_id_filters_select_that_users_attempts(admin_client, varied_attempts):
    first, second = varied_attempts[0].user, varied_attempts[3].user
    by_user = lambda *users: [a.public_id for a in varied_attempts if a.user in users]  # noqa: E731

    eq = get_v2(admin_client, STATS, {"userId[eq]": first.public_id.upper()}).json()
    ne = get_v2(admin_client, STATS, {"userId[ne]": first.public_id}).json()
    in_ = get_v2(admin_client, STATS, {"userId[in]": f"{first.public_id},{second.public_id}"}).json()
    nin = get_v2(admin_client, STATS, {"userId[nin]": f"{first.public_id},{second.public_id}"}).json()

    assert ids(eq) == by_user(first)
    assert len(ids(ne)) == 9 and first.public_id not in {row["userId"] for row in ne}
    assert ids(in_) == by_user(first, second)
    assert ids(nin) == [a.public_id for a in varied_attempts if a.user not in (first, second)]


def test_in_filter_accepts_repeated_and_array_parameters(admin_client, varied_attempts):
    comma = get_v2(admin_client, STATS, {"progress[in]": "0,100"}).json()
    repeated = admin_client.get(f"{STATS}?progress[in]=0&progress[in]=100", headers=VERSION).json()
    array = admin_client.get(f"{STATS}?progress%5Bin%5D%5B%5D=0&progress%5Bin%5D%5B%5D=100", headers=VERSION).json()

    assert ids(comma) == ids(repeated) == ids(array)
    assert len(comma) == 6


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("grade[eq]=3", "grade[eq]"),
        ("progress[like]=3", "progress[like]"),
        ("progress=3", "progress"),
        ("progress[gt]=abc", "progress[gt]"),
        ("progress[gt]=99999999999", "progress[gt]"),
        ("score[in]=1,,2", "score[in]"),
        ("userId[eq]=not-an-object-id", "userId[eq]"),
        ("completedAt[gte]=yesterday", "completedAt[gte]"),
        ("courseId[eq]=", "courseId[eq]"),
        ("progress[gt]=1&progress[gt]=2", "progress[gt]"),
        ("progress[gt][]=1", "progress[gt][]"),
    ],
)
def test_bad_filter_is_400_naming_the_parameter(admin_client, workspace, query, named):
    response = admin_client.get(f"{STATS}?{query}", headers=VERSION)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalidFilter"
    assert error["message"].startswith(named + ":")


@pytest.mark.parametrize("query", ["limit=100", "limit=100&_=1712000000", "sort=asc&page=2"])
def test_unknown_plain_parameters_are_ignored(admin_client, varied_attempts, query):
    plain = get_v2(admin_client, STATS)
    with_extra = admin_client.get(f"{STATS}?{query}", headers=VERSION)

    assert with_extra.status_code == 200
    assert ids(with_extra.json()) == ids(plain.json())
    assert len(ids(plain.json())) == len(varied_attempts)


def test_unknown_bracket_field_is_still_400(admin_client, workspace):
    response = admin_client.get(f"{STATS}?limit[eq]=10", headers=VERSION)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("limit[eq]: unknown field 'limit'")


# --- Version header and errors --------------------------------------------------------------


def test_version_header_is_echoed(admin_client, workspace):
    response = get_v2(admin_client, STATS)

    assert response.status_code == 200
    assert response.headers["360-api-version"] == "v2.0"


def test_missing_version_header_is_taken_as_v2(admin_client, workspace):
    response = get_v2(admin_client, STATS, headers={})

    assert response.status_code == 200
    assert response.headers["360-api-version"] == "v2.0"


def test_other_version_is_400(admin_client, workspace):
    response = get_v2(admin_client, USERS, headers={"360-api-version": "v3.0"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidApiVersion"
    assert "360-api-version" in response.json()["error"]["message"]


def test_version_is_checked_after_the_credential(db):
    response = get_v2(APIClient(), STATS, headers={"360-api-version": "v3.0"})

    assert response.status_code == 401


def test_cursor_given_twice_is_400(admin_client, many_attempts):
    cursor = dict(parse_qsl(urlsplit(next_url(get_v2(admin_client, STATS))).query))["next"]

    response = admin_client.get(f"{STATS}?next={cursor}&next={cursor}", headers=VERSION)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidCursor"


# --- Credentials ----------------------------------------------------------------------------


def test_no_credential_is_401_invalid_token(db):
    response = get_v2(APIClient(), STATS)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token"}


def test_wrong_api_key_is_401(workspace):
    api_key, _ = ApiKey.issue(workspace)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.prefix}.wrong-secret")

    assert get_v2(client, STATS).status_code == 401


@pytest.mark.parametrize("role", [Role.LEARNER, Role.INSTRUCTOR])
def test_non_admin_api_key_is_403(workspace, api_key_client, role):
    response = get_v2(api_key_client(workspace, role), STATS)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_scope"


@pytest.mark.parametrize("role", [Role.LEARNER, Role.INSTRUCTOR])
def test_non_admin_bearer_token_is_403(workspace, make_member, bearer_client, role):
    member = make_member(workspace, role)

    assert get_v2(bearer_client(member, workspace), USERS).status_code == 403


def test_admin_bearer_token_is_accepted(workspace, admin_user, bearer_client):
    AttemptFactory(course__workspace=workspace)

    response = get_v2(bearer_client(admin_user, workspace), STATS)

    assert response.status_code == 200
    assert len(response.json()) == 1


def test_api_key_as_bearer_token_is_accepted(workspace):
    AttemptFactory(course__workspace=workspace)
    _, raw_key = ApiKey.issue(workspace)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = get_v2(client, STATS)

    assert response.status_code == 200
    assert len(response.json()) == 1


def test_browser_session_is_not_accepted(workspace, admin_user, session_client):
    assert get_v2(session_client(admin_user), STATS).status_code == 401


def test_other_workspace_rows_are_never_returned(workspace, other_workspace, api_key_client, make_member):
    ours = AttemptFactory(course__workspace=workspace)
    theirs_member = make_member(other_workspace, email="them@globex.test")
    theirs = AttemptFactory(course__workspace=other_workspace, user=theirs_member)
    client = api_key_client(workspace)

    all_rows = get_v2(client, STATS).json()
    by_their_user = get_v2(client, STATS, {"userId[eq]": theirs_member.public_id}).json()
    by_their_course = get_v2(client, STATS, {"courseId[eq]": theirs.course.key}).json()
    users = get_v2(client, USERS).json()

    assert ids(all_rows) == [ours.public_id]
    assert by_their_user == [] and by_their_course == []
    assert "them@globex.test" not in {row["mail"] for row in users}


# --- Users ----------------------------------------------------------------------------------


def test_users_rows_have_the_v2_fields(admin_client, workspace, make_member):
    jane = make_member(workspace, email="jane@acme.test", first_name="Jane", last_name="Doe")
    jane.last_login = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=dt_timezone.utc)
    jane.save()
    gone = make_member(workspace, email="gone@acme.test", first_name="", last_name="", is_active=False)

    response = get_v2(admin_client, USERS)

    assert response.status_code == 200
    assert response.json() == [
        {
            "_id": jane.public_id,
            "mail": "jane@acme.test",
            "status": "active",
            "lang": "en",
            "firstName": "Jane",
            "lastName": "Doe",
            "lastLoginDate": "2025-03-04T05:06:07.890Z",
        },
        {"_id": gone.public_id, "mail": "gone@acme.test", "status": "deleted", "lang": "en"},
    ]


def test_users_mail_and_status_filters(admin_client, workspace, make_member):
    a = make_member(workspace, email="a@acme.test")
    b = make_member(workspace, email="b@acme.test")
    c = make_member(workspace, email="c@acme.test", is_active=False)

    def listed(params):
        return ids(get_v2(admin_client, USERS, params).json())

    assert listed({"mail[eq]": "A@Acme.Test"}) == [a.public_id]
    assert listed({"mail[ne]": "a@acme.test"}) == [b.public_id, c.public_id]
    assert listed({"mail[in]": "a@acme.test,c@acme.test"}) == [a.public_id, c.public_id]
    assert listed({"mail[nin]": "a@acme.test,c@acme.test"}) == [b.public_id]
    assert listed({"status[eq]": "deleted"}) == [c.public_id]
    assert listed({"status[ne]": "deleted"}) == [a.public_id, b.public_id]
    assert listed({"status[eq]": "invited"}) == []
    assert listed({"status[in]": "active,deleted", "mail[ne]": "b@acme.test"}) == [a.public_id, c.public_id]


@pytest.mark.parametrize("query", ["mail[gt]=a", "status[eq]=asleep", "username[eq]=jane"])
def test_users_bad_filter_is_400(admin_client, workspace, query):
    response = admin_client.get(f"{USERS}?{query}", headers=VERSION)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(query.split("=")[0] + ":")


def test_walking_users_pages_returns_every_member_once(admin_client, workspace, django_assert_max_num_queries):
    users = User.objects.bulk_create([User(email=f"u{n:04d}@acme.test") for n in range(1001)])
    Membership.objects.bulk_create([Membership(user=user, workspace=workspace) for user in users])

    pages = walk(admin_client, USERS)
    with django_assert_max_num_queries(2):
        get_v2(admin_client, USERS)

    assert [len(rows) for _, rows in pages] == [500, 500, 1]
    assert [row["_id"] for _, rows in pages for row in rows] == [u.public_id for u in users]


def test_users_id_is_the_user_id_of_course_stats(admin_client, workspace, learner):
    AttemptFactory(course__workspace=workspace, user=learner)

    (user_row,) = get_v2(admin_client, USERS, {"mail[eq]": "learner@acme.test"}).json()
    (stat_row,) = get_v2(admin_client, STATS).json()

    assert stat_row["userId"] == user_row["_id"] == learner.public_id


# --- API v1 ---------------------------------------------------------------------------------


def v1_url(course_key, email, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/courses/{course_key}/stats/{email}?{query}"


@pytest.fixture
def v1_key(workspace):
    return ApiKey.issue(workspace)[1]


def test_v1_returns_the_users_attempts_at_the_course(workspace, learner, v1_key):
    course = CourseFactory(workspace=workspace, key="edX/DemoX/Demo_Course")
    old = AttemptFactory(
        workspace=workspace,
        user=learner,
        course=course,
        version_number=0,
        progress=100,
        score=75,
        time_spent_s=50,
        first_activity_at=datetime(2021, 12, 7, 8, 38, 8, 474000, tzinfo=dt_timezone.utc),
        last_activity_at=datetime(2021, 12, 15, 15, 46, 50, 306000, tzinfo=dt_timezone.utc),
        completed_at=datetime(2021, 12, 15, 15, 46, 50, 326000, tzinfo=dt_timezone.utc),
    )
    new = AttemptFactory(
        workspace=workspace,
        user=learner,
        course=course,
        version_number=1,
        progress=20,
        score=None,
        first_activity_at=None,
        last_activity_at=None,
    )
    AttemptFactory(workspace=workspace, user=learner, course__workspace=workspace)  # another course

    response = APIClient().get(v1_url(course.key, "Learner@Acme.test", company="acme", apiKey=v1_key))

    assert response.status_code == 200
    assert response.json() == {
        "attempts": [
            {
                "_id": old.public_id,
                "progress": 100,
                "score": 75,
                "completedAt": "2021-12-15T15:46:50.326Z",
                "firstActivity": "2021-12-07T08:38:08.474Z",
                "globalTime": 50000,
                "lastActivity": "2021-12-15T15:46:50.306Z",
            },
            {"_id": new.public_id, "progress": 20, "globalTime": 0},
        ]
    }


def test_v1_and_v2_agree_on_the_same_attempts(workspace, varied_attempts, v1_key, admin_client):
    for attempt in varied_attempts[:3]:
        AttemptFactory(
            workspace=workspace,
            user=attempt.user,
            course=attempt.course,
            version_number=1,
            progress=attempt.progress // 2,
            score=7,
            time_spent_s=321,
        )
    renamed = {"firstActivityAt": "firstActivity", "lastActivityAt": "lastActivity", "timeSpent": "globalTime"}
    v1_fields = {"_id", "progress", "score", "completedAt", "firstActivity", "globalTime", "lastActivity"}

    for attempt in varied_attempts[:3]:
        v1 = APIClient().get(v1_url(attempt.course.key, attempt.user.email, company="acme", apiKey=v1_key)).json()
        v2 = get_v2(
            admin_client, STATS, {"courseId[eq]": attempt.course.key, "userId[eq]": attempt.user.public_id}
        ).json()
        v2_as_v1 = [
            {renamed.get(key, key): value for key, value in row.items() if renamed.get(key, key) in v1_fields}
            for row in v2
        ]
        assert len(v1["attempts"]) == 2
        assert v1["attempts"] == v2_as_v1


def test_v1_key_of_another_company_is_401(workspace, other_workspace, learner):
    AttemptFactory(course__workspace=workspace, course__key="c1", user=learner)
    _, globex_key = ApiKey.issue(other_workspace)

    response = APIClient().get(v1_url("c1", learner.email, company="acme", apiKey=globex_key))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token"}


@pytest.mark.parametrize("params", [{"apiKey": "KEY"}, {"company": "acme"}, {"company": "acme", "apiKey": "x.y"}])
def test_v1_without_a_valid_key_and_company_is_401(workspace, learner, v1_key, params):
    AttemptFactory(course__workspace=workspace, course__key="c1", user=learner)
    params = {key: (v1_key if value == "KEY" else value) for key, value in params.items()}

    assert APIClient().get(v1_url("c1", learner.email, **params)).status_code == 401


def test_v1_non_admin_key_is_403(workspace, learner):
    AttemptFactory(course__workspace=workspace, course__key="c1", user=learner)
    _, raw_key = ApiKey.issue(workspace, role=Role.INSTRUCTOR)

    response = APIClient().get(v1_url("c1", learner.email, company="acme", apiKey=raw_key))

    assert response.status_code == 403


def test_v1_unknown_course_is_404(workspace, learner, v1_key):
    AttemptFactory(course__workspace=workspace, course__key="c1", user=learner)

    response = APIClient().get(v1_url("nope", learner.email, company="acme", apiKey=v1_key))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "courseNotFound"


def test_v1_user_outside_the_company_is_404(workspace, other_workspace, make_member, v1_key):
    CourseFactory(workspace=workspace, key="c1")
    outsider = make_member(other_workspace, email="them@globex.test")
    AttemptFactory(course__workspace=other_workspace, course__key="c1", user=outsider)

    response = APIClient().get(v1_url("c1", outsider.email, company="acme", apiKey=v1_key))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "userNotFound"


def test_v1_member_without_attempts_gets_an_empty_list(workspace, learner, v1_key):
    CourseFactory(workspace=workspace, key="c1")

    response = APIClient().get(v1_url("c1", learner.email, company="acme", apiKey=v1_key))

    assert response.status_code == 200
    assert response.json() == {"attempts": []}


def test_v1_stays_within_two_queries(workspace, learner, v1_key, django_assert_max_num_queries):
    AttemptFactory(course__workspace=workspace, course__key="c1", user=learner)
    client = APIClient()
    client.get(v1_url("c1", learner.email, company="acme", apiKey=v1_key))  # stamps the key's last use

    with django_assert_max_num_queries(2):
        response = client.get(v1_url("c1", learner.email, company="acme", apiKey=v1_key))

    assert len(response.json()["attempts"]) == 1
