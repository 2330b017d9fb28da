"""Bad input corpus: every family answers malformed, hostile or absurd input with a clear 4xx
naming the field (never a 500), in its own error envelope, and writes nothing.

Runs on SQLite by default and on PostgreSQL in CI (NUL characters and date ranges differ there:
PostgreSQL refuses NUL in text, and its date arithmetic has its own range).
Limits and rules: docs/api/limits.md.
"""

import json
import uuid

import pytest

from accounts.models import Role
from analytics.models import LearningEvent, PageSession, VideoReaction, VideoView, XapiStatement
from courses.models import Course
from exports.models import ExportJob
from tests.factories import CourseFactory, EnrollmentFactory, VideoFactory

NOW = "2026-03-01T09:30:00Z"
LEARNER = "learner@acme.test"
COURSE_KEY = "course-v1:Acme+AN101+2026"
XAPI_VERSION = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
NUL = "a\u0000b"
SQL_INJECTION = "' OR 1=1; DROP TABLE courses_course; --"
HTML_INJECTION = '<script>alert("x")</script>'


@pytest.fixture
def world(workspace, make_member, api_key_client, bearer_client):
    admin = make_member(workspace, Role.ADMIN, email="admin@acme.test")
    learner = make_member(workspace, Role.LEARNER, email=LEARNER)
    course = CourseFactory(workspace=workspace, key=COURSE_KEY, title="Analytics 101")
    VideoFactory(course=course, key="vid_1")
    EnrollmentFactory(course=course, user=learner)
    client = api_key_client(workspace)
    client.defaults.update(XAPI_VERSION)
    return {"client": client, "bearer": bearer_client(admin, workspace), "admin": admin, "workspace": workspace}


def stored_counts():
    """Rows of every table a bad request could half-write."""
    return {
        model.__name__: model.objects.count()
        for model in (PageSession, LearningEvent, VideoView, VideoReaction, XapiStatement, ExportJob, Course)
    }


def page_session(**fields):
    return {
        "id": str(uuid.uuid4()),
        "page": "Course Player",
        "path": "/player/x",
        "startedAt": NOW,
        "duration": 30,
        "user": LEARNER,
        **fields,
    }


def event(**fields):
    return {
        "id": str(uuid.uuid4()),
        "type": "viewed",
        "occurredAt": NOW,
        "course": COURSE_KEY,
        "object": "block-1",
        "user": LEARNER,
        **fields,
    }


def video_view(**fields):
    return {
        "kind": "video_view",
        "id": str(uuid.uuid4()),
        "video": "vid_1",
        "startedAt": NOW,
        "watchedSeconds": 30,
        "user": LEARNER,
        **fields,
    }


def statement(**fields):
    return {
        "actor": {"mbox": "mailto:learner@acme.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.com/activities/a1"},
        **fields,
    }


def post_json(client, path, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def error_text(response):
    """Every message of the body, whatever the family's envelope, as one string."""
    return json.dumps(response.json())


def assert_rejected(response, before, field, status=400):
    assert response.status_code == status, response.content[:500]
    assert field in error_text(response), response.content[:500]
    assert stored_counts() == before


# --- Oversized bodies: 413 in the family's envelope, naming the limit --------------------------

FAMILY_ENVELOPES = [
    # (path, how the family's 413 reads the message)
    ("/api/track/page-sessions", lambda body: body["detail"]),
    ("/api/track/events", lambda body: body["detail"]),
    ("/xapi/statements", lambda body: body["detail"]),
    ("/analyse/results", lambda body: body["message"] if body["success"] is False else None),
    ("/analytics/export", lambda body: body["error"]["message"] if body["error"]["code"] else None),
    ("/api/auth/token/", lambda body: body["detail"]),
]


@pytest.mark.parametrize("path,message_of", FAMILY_ENVELOPES, ids=[path for path, _ in FAMILY_ENVELOPES])
def test_body_over_the_limit_is_413_in_the_family_envelope(world, settings, path, message_of):
    settings.API_MAX_BODY_BYTES = 2048
    before = stored_counts()
    body = json.dumps([page_session(page="x" * 100) for _ in range(20)])
    assert len(body) > 2048

    response = post_json(world["client"], path, body)

    assert response.status_code == 413
    assert message_of(response.json()) == (
        f"The body is {len(body)} bytes; requests to {path} may hold at most 2048 bytes (2 KiB)."
    )
    assert stored_counts() == before


def test_import_has_its_own_larger_limit(world, settings):
    settings.API_MAX_BODY_BYTES = 1024
    settings.IMPORT_MAX_BODY_BYTES = 4096
    lines = [json.dumps({"kind": "page_session", **page_session()}) + "\n" for _ in range(30)]
    fitting = 4096 // len(lines[0])  # every line has the same length (UUIDs are fixed-width)
    fits, too_big = "".join(lines[:fitting]), "".join(lines[: fitting + 1])

    assert world["client"].post("/api/import", data=fits, content_type="application/x-ndjson").status_code == 200
    response = world["client"].post("/api/import", data=too_big, content_type="application/x-ndjson")

    assert response.status_code == 413
    assert "may hold at most 4096 bytes (4 KiB)" in response.json()["detail"]
    assert PageSession.objects.count() == fitting


def test_default_limit_rejects_ten_mib_and_one_byte(world):
    body = b"[" + b" " * (10 * 1024 * 1024 - 1) + b"]"  # 10 MiB + 1: valid JSON, too big
    response = world["client"].post("/api/track/events", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "at most 10485760 bytes (10 MiB)" in response.json()["detail"]


def test_largest_tracking_batch_fits_under_the_default_limit(world):
    # 1,000 events (the batch maximum) with a 2 KB data object each: about 2.4 MB.
    batch = [event(data={"note": "n" * 2000}) for _ in range(1000)]
    response = post_json(world["client"], "/api/track/events", batch)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 1000
    assert LearningEvent.objects.count() == 1000


def test_largest_xapi_batch_fits_under_the_default_limit(world):
    batch = [
        statement(id=str(uuid.uuid4()), context={"extensions": {"http://example.com/note": "n" * 2000}})
        for _ in range(1000)
    ]
    body = json.dumps(batch)
    assert 2_000_000 < len(body) < 10 * 1024 * 1024
    response = post_json(world["client"], "/xapi/statements", body)
    assert response.status_code == 200, response.content[:300]
    assert XapiStatement.objects.count() == 1000


# --- Deeply nested JSON: a clear 400, never a RecursionError ---------------------------------

JSON_ENDPOINTS = [
    "/api/track/page-sessions",
    "/api/track/events",
    "/xapi/statements",
    "/analyse/results",
    "/analyse/statistics",
    "/analytics/export",
    "/api/auth/token/",
    "/api/import",
]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_deeply_nested_json_is_a_400(world, path):
    before = stored_counts()
    for depth in (65, 100_000):
        response = post_json(world["client"], path, "[" * depth + "]" * depth)
        assert_rejected(response, before, "nested deeper than 64 levels")


def test_deep_json_inside_one_field_names_the_field(world):
    data = {}
    inner = data
    for _ in range(70):
        inner["x"] = {}
        inner = inner["x"]
    before = stored_counts()
    response = post_json(world["client"], "/api/track/events", [event(), event(data=data)])
    assert_rejected(response, before, "[1].data.x.x")


def test_deep_json_on_one_import_line_rejects_that_line(world):
    lines = [json.dumps({"kind": "page_session", **page_session()}), "[" * 5000 + "]" * 5000]
    response = world["client"].post("/api/import", data="\n".join(lines), content_type="application/x-ndjson")
    assert response.status_code == 207
    assert response.json()["errors"] == [
        {"line": 2, "field": "", "reason": "not valid JSON: JSON may not be nested deeper than 64 levels"}
    ]
    assert PageSession.objects.count() == 1


def test_deep_xapi_agent_query_is_a_400(world):
    response = world["client"].get("/xapi/statements", {"agent": "[" * 50_000})
    assert response.status_code == 400
    assert response.json() == {"detail": "agent: must be an Agent or identified Group as JSON"}


# --- Wrong types in every field ----------------------------------------------------------------

WRONG_TYPES = [123, ["list"], {"an": "object"}, True, None]
PAGE_SESSION_FIELDS = ["id", "page", "path", "startedAt", "duration", "device", "user"]
EVENT_FIELDS = ["id", "type", "occurredAt", "course", "object", "data", "user"]
VIDEO_VIEW_FIELDS = [
    "video",
    "startedAt",
    "watchedSeconds",
    "position",
    "completed",
    "segments",
    "device",
    "platform",
    "country",
    "bufferingSeconds",
    "bitrateKbps",
    "errors",
]


def wrong_value_for(field, value):
    # A value of a type the field never takes (a number is a fine `page`? no: text fields want strings).
    if field in {"duration", "watchedSeconds", "position", "bufferingSeconds", "bitrateKbps", "errors"}:
        return "abc" if value == 123 else value
    if field == "completed":
        return "abc" if value in (True, 123) else value
    if field == "data" and isinstance(value, dict):
        return "not an object"
    return value


def tracking_type_cases():
    for field in PAGE_SESSION_FIELDS:
        yield "/api/track/page-sessions", page_session, field
    for field in EVENT_FIELDS:
        yield "/api/track/events", event, field
    for field in VIDEO_VIEW_FIELDS:
        yield "/api/track/events", video_view, field


OPTIONAL_NULLABLE = {
    "watchedSeconds",
    "device",
    "user",
    "course",
    "object",
    "data",
    "position",
    "completed",
    "segments",
    "platform",
    "country",
    "bufferingSeconds",
    "bitrateKbps",
    "errors",
}


@pytest.mark.parametrize(
    "path,make,field", list(tracking_type_cases()), ids=lambda v: v.__name__ if callable(v) else str(v)
)
def test_tracking_item_with_a_wrong_type_is_refused_naming_the_field(world, path, make, field):
    before = stored_counts()
    values = [value for value in WRONG_TYPES if not (value is None and field in OPTIONAL_NULLABLE)]
    items = [make(**{field: wrong_value_for(field, value)}) for value in values]
    response = post_json(world["client"], path, items)
    assert response.status_code == 400, response.content[:300]
    assert [(error["index"], error["field"]) for error in response.json()["errors"]] == [
        (index, field) for index in range(len(values))
    ]
    assert stored_counts() == before


XAPI_WRONG = [
    ({"actor": 5}, "statement.actor"),
    ({"verb": "experienced"}, "statement.verb"),
    ({"verb": {"id": 5}}, "statement.verb.id"),
    ({"object": ["a"]}, "statement.object"),
    ({"timestamp": 1700000000}, "statement.timestamp"),
    ({"id": 12}, "statement.id"),
    ({"result": {"score": {"scaled": "high"}}}, "statement.result.score.scaled"),
    ({"context": {"registration": 5}}, "statement.context.registration"),
    ({"version": 1}, "statement.version"),
]


@pytest.mark.parametrize("fields,path", XAPI_WRONG, ids=[path for _, path in XAPI_WRONG])
def test_xapi_statement_with_a_wrong_type_names_the_field(world, fields, path):
    before = stored_counts()
    response = post_json(world["client"], "/xapi/statements", statement(**fields))
    assert_rejected(response, before, path)


ANALYSE_WRONG = [
    ({"filters": {"states": "APPROVED"}}, "filters.states"),
    ({"filters": {"userIds": "u1"}}, "filters.userIds"),
    ({"filters": {"customFields": [{"customFieldId": "f1", "values": "x"}]}}, "filters.customFields"),
    ({"filters": {"updatedAtDateRange": {"from": 5}}}, "filters.updatedAtDateRange.from"),
    ({"filters": {"updatedAtDateRange": "2026"}}, "filters.updatedAtDateRange"),
    ({"options": {"limit": "many"}}, "options.limit"),
    ({"options": {"skip": [1]}}, "options.skip"),
    ({"options": {"order": {"direction": ["DESC"]}}}, "options.order.direction"),
    ({"filters": []}, "filters"),
]


@pytest.mark.parametrize("path", ["/analyse/results", "/analyse/statistics"])
def test_analyse_body_with_a_wrong_type_names_the_field(world, path):
    for body, field in ANALYSE_WRONG:
        response = post_json(world["client"], path, body)
        assert response.status_code == 400, response.content[:300]
        assert response.json()["success"] is False
        assert field in [error["field"].split("[")[0] for error in response.json()["errors"]], body


IMPORT_WRONG = [("startedAt", 5), ("duration", "long"), ("page", ["x"]), ("id", 7), ("user", {"a": 1})]


@pytest.mark.parametrize("field,value", IMPORT_WRONG)
def test_import_line_with_a_wrong_type_names_the_field(world, field, value):
    line = json.dumps({"kind": "page_session", **page_session(**{field: value})})
    before = stored_counts()
    response = world["client"].post("/api/import", data=line, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert [(error["line"], error["field"]) for error in response.json()["errors"]] == [(1, field)]
    assert stored_counts() == before


QUERY_WRONG = [
    # 360Learning v2 bracket filters: {"error": {"code": "invalidFilter", "message": "<param>: ..."}}
    ("/api/v2/courses/stats", {"progress[gt]": "abc"}, "progress[gt]"),
    ("/api/v2/courses/stats", {"completedAt[gte]": "yesterday"}, "completedAt[gte]"),
    ("/api/v2/courses/stats", {"progress[gt]": "1" * 30}, "progress[gt]"),
    ("/api/v2/users", {"mail[eq]": ""}, "mail[eq]"),
    ("/api/v2/users", {"limit[eq]": "10"}, "limit[eq]"),  # plain `limit=10` is ignored, as 360Learning does
    # VideoCloud: {"success": false, "error": {"code", "message", "field"}}
    ("/analytics/videos/summary", {"limit": "abc"}, "limit"),
    ("/analytics/videos/summary", {"period": "5y"}, "period"),
    ("/analytics/videos/vid_1", {"groupBy": "year"}, "groupBy"),
    ("/analytics/videos/vid_1", {"compare": "next"}, "compare"),
    ("/analytics/users", {"metrics": "everything"}, "metrics"),
    ("/analytics/system/health", {"period": "-1d"}, "period"),
    # Open edX course information: {"<parameter>": [...]}
    (f"/api/v0/courses/{COURSE_KEY}/enrollment/", {"start_date": "01/02/2026"}, "start_date"),
    # xAPI
    ("/xapi/statements", {"limit": "ten"}, "limit"),
    ("/xapi/statements", {"since": "then"}, "since"),
    ("/xapi/statements", {"ascending": "maybe"}, "ascending"),
    # Skillhabit lookups
    ("/analyse/users", {"limit": "all"}, "limit"),
]


def assert_each_query_is_a_400_naming(client, cases, also=""):
    wrong = []
    for path, query, field in cases:
        response = client.get(path, query)
        if response.status_code != 400 or field not in error_text(response) or also not in error_text(response):
            wrong.append((path, query, response.status_code, response.content[:200]))
    assert wrong == []


def test_query_parameter_of_the_wrong_type_is_a_400_naming_it(world):
    assert_each_query_is_a_400_naming(world["client"], QUERY_WRONG)


# --- Huge limit, negative skip -----------------------------------------------------------------

PAGING = [
    ("/analyse/users", {"limit": str(10**12)}, "limit"),
    ("/analyse/groups", {"limit": "0"}, "limit"),
    ("/analyse/contents", {"skip": "-1"}, "skip"),
    ("/analyse/custom-fields", {"skip": str(10**30)}, "skip"),
    ("/analytics/videos/summary", {"limit": str(10**18)}, "limit"),
    ("/analytics/videos/summary", {"limit": "-5"}, "limit"),
    ("/xapi/statements", {"limit": "-1"}, "limit"),
]


def test_huge_limit_or_negative_skip_is_a_400_naming_it(world):
    assert_each_query_is_a_400_naming(world["client"], PAGING)


@pytest.mark.parametrize(
    "options,field",
    [({"limit": 10**30}, "options.limit"), ({"skip": -1}, "options.skip"), ({"skip": 10**20}, "options.skip")],
)
def test_analyse_paging_out_of_range_names_the_option(world, options, field):
    response = post_json(world["client"], "/analyse/results", {"options": options})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_xapi_limit_above_the_page_size_is_capped_as_the_spec_says(world):
    # xAPI 1.0.3: the LRS returns at most its own maximum whatever `limit` asks; not an error.
    post_json(world["client"], "/xapi/statements", [statement(id=str(uuid.uuid4())) for _ in range(3)])
    response = world["client"].get("/xapi/statements", {"limit": str(10**24)})
    assert response.status_code == 200
    assert len(response.json()["statements"]) == 3


# --- Dates far in the past and future ----------------------------------------------------------

FAR_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-05:00",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]
RANGE_TEXT = "must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "path,make,field",
    [
        ("/api/track/page-sessions", page_session, "startedAt"),
        ("/api/track/events", event, "occurredAt"),
        ("/api/track/events", video_view, "startedAt"),
    ],
    ids=["page-session", "event", "video-view"],
)
def test_tracking_time_out_of_range_is_refused_naming_the_field(world, path, make, field):
    before = stored_counts()
    response = post_json(world["client"], path, [make(**{field: when}) for when in FAR_TIMES])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": index, "field": field, "reason": RANGE_TEXT} for index in range(len(FAR_TIMES))
    ]
    assert stored_counts() == before


def test_epoch_numbers_are_not_times(world):
    epochs = [1700000000, 10**20, -(10**20), 1e308]
    response = post_json(world["client"], "/api/track/page-sessions", [page_session(startedAt=e) for e in epochs])
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["startedAt"] * len(epochs)


def test_xapi_timestamp_out_of_range_is_a_400(world):
    before = stored_counts()
    for when in FAR_TIMES:
        response = post_json(world["client"], "/xapi/statements", statement(timestamp=when))
        assert_rejected(response, before, f"statement.timestamp: {RANGE_TEXT}")


@pytest.mark.parametrize("when", [FAR_TIMES[1], FAR_TIMES[3]])
def test_date_filters_out_of_range_are_a_400_naming_the_filter(world, when):
    client = world["client"]
    checks = [
        (client.get("/xapi/statements", {"since": when}), f"since: {RANGE_TEXT}"),
        (client.get("/api/v2/courses/stats", {"completedAt[gte]": when}), "completedAt[gte]"),
        (
            post_json(client, "/analyse/results", {"filters": {"updatedAtDateRange": {"from": when}}}),
            "filters.updatedAtDateRange.from",
        ),
        (client.get(f"/api/v0/courses/{COURSE_KEY}/enrollment/", {"start_date": when[:10]}), "start_date"),
    ]
    for response, field in checks:
        assert response.status_code == 400, response.content[:300]
        assert field in error_text(response)


# --- Unicode: emoji and RTL stored verbatim; NUL refused naming the field ---------------------

TEXT = "📈 Ünïcödé עברית العربية"


def test_emoji_and_rtl_text_is_stored_and_returned_verbatim(world):
    item = page_session(page=TEXT, path=f"/p/{TEXT}")
    assert post_json(world["client"], "/api/track/page-sessions", [item]).status_code == 200
    stored = PageSession.objects.get()
    assert (stored.page, stored.path) == (TEXT, f"/p/{TEXT}")
    response = post_json(
        world["client"],
        "/xapi/statements",
        statement(object={"id": "http://example.com/a", "definition": {"name": {"he": TEXT}}}),
    )
    assert response.status_code == 200
    statement_id = response.json()[0]
    got = world["client"].get("/xapi/statements", {"statementId": statement_id}).json()
    assert got["object"]["definition"]["name"]["he"] == TEXT


NUL_BODIES = [
    ("/api/track/page-sessions", [page_session(page=NUL)], "[0].page"),
    ("/api/track/page-sessions", [page_session(), page_session(path=NUL)], "[1].path"),
    ("/api/track/events", [event(type=NUL)], "[0].type"),
    ("/api/track/events", [event(data={"note": NUL})], "[0].data.note"),
    ("/api/track/events", [event(data={NUL: 1})], "[0].data.a\\\\u0000b"),
    ("/api/track/events", [video_view(video=NUL)], "[0].video"),
    ("/api/track/events", [event(course=NUL)], "[0].course"),
    ("/xapi/statements", statement(verb={"id": "http://x/y", "display": {"en": NUL}}), "verb.display.en"),
    ("/analyse/results", {"filters": {"userIds": [NUL]}}, "filters.userIds[0]"),
    (
        "/analyse/statistics",
        {"filters": {"customFields": [{"customFieldId": "x", "values": [NUL]}]}},
        "filters.customFields[0].values[0]",
    ),
    ("/analytics/export", {"type": NUL}, "type"),
    ("/api/auth/token/", {"email": "a@b.c", "password": NUL}, "password"),
]


@pytest.mark.parametrize("path,body,field", NUL_BODIES, ids=[f"{p}:{f}" for p, _, f in NUL_BODIES])
def test_nul_in_a_text_field_is_a_400_naming_the_field(world, path, body, field):
    before = stored_counts()
    response = post_json(world["client"], path, body)
    assert_rejected(response, before, field)
    assert "NUL" in error_text(response)


def test_nul_in_an_import_line_rejects_that_line(world):
    lines = [
        json.dumps({"kind": "page_session", **page_session()}),
        json.dumps({"kind": "page_session", **page_session(page=NUL)}),
    ]
    response = world["client"].post("/api/import", data="\n".join(lines), content_type="application/x-ndjson")
    assert response.status_code == 207
    assert response.json()["errors"] == [
        {"line": 2, "field": "", "reason": "not valid JSON: page: text may not contain NUL characters (\\u0000)"}
    ]
    assert PageSession.objects.count() == 1


NUL_QUERIES = [
    ("/analyse/users", {"search": NUL}, "search"),
    ("/api/v2/users", {"mail[eq]": NUL}, "mail[eq]"),
    ("/api/v2/courses/stats", {"courseId[eq]": NUL}, "courseId[eq]"),
    ("/xapi/statements", {"activity": f"http://x/{NUL}"}, "activity"),
    ("/analytics/videos/summary", {"period": NUL}, "period"),
    (f"/api/v0/courses/{COURSE_KEY}/enrollment/", {"start_date": NUL}, "start_date"),
]


def test_nul_in_a_query_parameter_is_a_400_naming_it(world):
    assert_each_query_is_a_400_naming(world["client"], NUL_QUERIES, also="NUL")


def test_nul_in_a_path_is_a_400(world):
    paths = ["/api/v0/courses/a%00b/enrollment/", "/analytics/videos/a%00b", "/analytics/export/a%00b"]
    assert_each_query_is_a_400_naming(world["client"], [(path, None, "NUL") for path in paths])


def test_nul_in_a_dashboard_filter_is_a_400(world, session_client):
    response = session_client(world["admin"]).get("/dashboards/courses/", {"q": NUL})
    assert response.status_code == 400
    assert b"q: Query parameters may not contain NUL" in response.content


# --- Injection strings: matched literally, stored verbatim, escaped in dashboards --------------

INJECTIONS = [SQL_INJECTION, HTML_INJECTION, "%", "_", "\\", "*/ UNION SELECT password FROM accounts_user --"]


@pytest.mark.parametrize("text", INJECTIONS[:2])
def test_injection_strings_in_filters_match_nothing_and_break_nothing(world, text):
    client = world["client"]
    before = stored_counts()
    checks = [
        (client.get("/analyse/users", {"search": text}), lambda body: body["total"] == 0),
        (client.get("/analyse/contents", {"search": text}), lambda body: body["total"] == 0),
        (
            post_json(client, "/analyse/results", {"filters": {"userIds": [text], "contentIds": [text]}}),
            lambda body: body["total"] == 0,
        ),
        (client.get("/api/v2/users", {"mail[eq]": text}), lambda body: body == []),
        (client.get("/api/v2/courses/stats", {"courseId[eq]": text}), lambda body: body == []),
    ]
    for response, matches_nothing in checks:
        assert response.status_code == 200, response.content[:300]
        assert matches_nothing(response.json())
    for path in (f"/analytics/videos/{text}", "/api/v0/courses/" + text.replace("/", "") + "/enrollment/"):
        assert client.get(path).status_code in (400, 404)
    assert stored_counts() == before


def test_injection_strings_are_stored_verbatim(world):
    items = [event(type=text[:100], object=text, data={"note": text}) for text in INJECTIONS]
    response = post_json(world["client"], "/api/track/events", items)
    assert response.status_code == 200, response.content[:300]
    stored = {(row.type, row.object, row.data["note"]) for row in LearningEvent.objects.all()}
    assert stored == {(text[:100], text, text) for text in INJECTIONS}


def test_dashboard_renders_injected_titles_escaped(world, session_client):
    Course.objects.filter(key=COURSE_KEY).update(title=HTML_INJECTION)
    client = session_client(world["admin"])

    for path in ("/dashboards/courses/", f"/dashboards/courses/{COURSE_KEY}/?wait=1"):
        page = client.get(path, {"q": HTML_INJECTION} if path == "/dashboards/courses/" else None)
        html = page.content.decode()
        assert page.status_code == 200
        assert HTML_INJECTION not in html
        assert "&lt;script&gt;alert(" in html
