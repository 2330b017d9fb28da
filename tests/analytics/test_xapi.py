"""The xAPI statements resource: real Open edX statements ingest, the conflict rules, retrieval,
pagination, voiding, headers and credentials; and the mapping onto the learning record."""

import base64
import copy
import json
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Role
from analytics.models import LearningEvent, VideoView, XapiStatement
from analytics.services.xapi.comparison import statements_match
from courses.models import Attempt, AttemptState, Course, Enrollment, Video
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openedx" / "xapi-openedx"
FIXTURE_FILES = sorted(path.name for path in FIXTURES.glob("*.json"))
URL = "/xapi/statements"
VERSION = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
OPENEDX_LEARNER = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb@localhost"
DEMO_COURSE = "course-v1:edX+DemoX+Demo_Course"
DEMO_VIDEO = "0b9e39477cf34507a7a48f74be381fdd"

# Files that reuse an earlier file's statement id (in sorted order) with content that differs in
# more than what xAPI's comparison ignores (worked out by hand from the files' differences).
CONFLICTING_FILES = {
    "edx.course.enrollment.activated.json",  # adds a session-id context extension
    "edx.course.enrollment.mode_changed.json",  # same
    "edx.grades.course.grade_calculated_no_letter_grade.json",  # other score
    "edx.grades.problem.submitted.weighted_possible_0.json",  # other score and success
    "edx.grades.subsection.grade_calculated.weighted_possible_0.json",  # other score
    "edx.ui.lms.link_clicked.required.only.data.json",  # no context activities
    "edx.video.closed_captions.shown.json",  # other result extensions
    "video_show_cc_menu.json",  # same
    "show_transcript.json",  # other result extension
    "load_video.required.only.data.json",  # fewer context extensions
    "play_video.json",  # the CCX file came first: other course and object ids
    "problem_check(browser).json",  # same
    "problem_check(browser)legacy.json",  # same
    "problem_check(server).max_grade_0.json",  # other score
    "problem_check(server)_no_response_type.json",  # other response
    "problem_check(server,string_anwers).json",  # other response
    "problem_check(server,unsupported_responsetype).json",  # other response
}
# Same id, differences xAPI ignores (activity definitions only, or nothing): accepted again.
MATCHING_REPEATS = {
    "edx.course.enrollment.activated.required.only.data.json",  # definition extension only
    "edx.course.grade.passed.first_time.json",  # identical
    "edx.special_exam.proctored.attempt.created.json",  # definition type only
    "edx.special_exam.timed.attempt.created.json",
    "edx.special_exam.proctored.attempt.submitted.json",
    "edx.special_exam.timed.attempt.submitted.json",
    "edx.ui.lms.link_clicked.json",  # identical
    "video_hide_cc_menu.json",  # identical
}
DISTINCT_FIXTURE_IDS = 65  # 90 statements in 77 files


def load(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def post(client, body, **extra):
    return client.post(URL, body, format="json", **VERSION, **extra)


def get(client, **params):
    return client.get(URL, params, **VERSION)


def statement(**overrides):
    base = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:ada@acme.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"id": "http://lms.example.com/course/course-v1:Acme+A1+2026/page/1"},
        "timestamp": "2026-03-01T09:30:00Z",
    }
    base.update(overrides)
    return base


# --- Real Open edX statements -------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_every_openedx_fixture_is_accepted(xapi, name):
    body = load(name)
    expected_ids = [item["id"] for item in body] if isinstance(body, list) else [body["id"]]

    response = post(xapi, body)

    assert response.status_code == 200, response.content
    assert response.json() == expected_ids
    assert XapiStatement.objects.count() == len(expected_ids)


def test_openedx_fixtures_in_one_workspace_conflict_only_where_content_differs(xapi):
    statuses = {name: post(xapi, load(name)).status_code for name in FIXTURE_FILES}

    assert {name for name, code in statuses.items() if code == 409} == CONFLICTING_FILES
    assert {name for name, code in statuses.items() if code not in (200, 409)} == set()
    assert MATCHING_REPEATS <= {name for name, code in statuses.items() if code == 200}
    assert XapiStatement.objects.count() == DISTINCT_FIXTURE_IDS


def test_openedx_played_video_lands_as_played_video_event_and_view(xapi):
    post(xapi, load("play_video.json"))

    event = LearningEvent.objects.get()
    assert (event.type, event.source, event.course.key) == ("played_video", "xapi", DEMO_COURSE)
    assert event.object == DEMO_VIDEO
    assert event.user.email == OPENEDX_LEARNER
    view = VideoView.objects.get()
    assert (view.video.key, view.video.duration_s, view.course.key) == (DEMO_VIDEO, 195, DEMO_COURSE)
    assert (view.watched_s, view.position_s, view.is_completed) == (0, 0, False)


def test_openedx_video_session_merges_into_one_view(xapi):
    for name in ("play_video.json", "pause_video.json", "seek_video.json", "stop_video.json", "complete_video.json"):
        assert post(xapi, load(name)).status_code == 200

    view = VideoView.objects.get()
    # Played from 0.033 s, paused at 194.407 s: 194.374 s watched; completed: position = length.
    assert (view.watched_s, view.position_s, view.is_completed) == (194, 195, True)
    # Segments of 5 s from 0 to 194.407 s: indexes 0..38, the last of a 195 s video.
    assert view.segments == list(range(39))
    assert (view.watched_first_segment, view.watched_last_segment) == (True, True)
    assert list(LearningEvent.objects.values_list("type", flat=True)) == ["played_video"]


def test_video_session_view_does_not_depend_on_arrival_order(xapi):
    names = ["complete_video.json", "seek_video.json", "pause_video.json", "stop_video.json", "play_video.json"]
    post(xapi, [load(name) for name in names])

    view = VideoView.objects.get()
    assert (view.watched_s, view.position_s, view.is_completed) == (194, 195, True)


def test_played_segments_extension_counts_the_union_of_segments(xapi):
    video = {
        "id": "http://lms.example.com/video/intro",
        "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
    }
    context = {
        "contextActivities": {
            "parent": [
                {
                    "id": "http://lms.example.com/course/C1",
                    "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                }
            ]
        },
        "extensions": {
            "https://w3id.org/xapi/video/extensions/length": 100,
            "https://w3id.org/xapi/video/extensions/session-id": "s1",
        },
    }
    paused = statement(
        verb={"id": "https://w3id.org/xapi/video/verbs/paused"},
        object=video,
        context=context,
        result={
            "extensions": {
                "https://w3id.org/xapi/video/extensions/time": 30,
                "https://w3id.org/xapi/video/extensions/played-segments": "0[.]20[,]10[.]30[,]50[.]52",
            }
        },
    )

    post(xapi, paused)

    view = VideoView.objects.get()
    # Union of [0,20], [10,30], [50,52]: 30 + 2 seconds; segments 0-5 and 10.
    assert (view.watched_s, view.position_s, view.segments) == (32, 52, [0, 1, 2, 3, 4, 5, 10])
    assert view.video.key == "intro" and view.course.key == "C1"


def test_openedx_evaluated_problem_lands_as_attempted_problem(xapi):
    post(xapi, load("problem_check(server).json"))

    event = LearningEvent.objects.get()
    assert (event.type, event.course.key) == ("attempted_problem", DEMO_COURSE)
    assert event.object == "block-v1:edX+DemoX+Demo_Course+type@problem+block@3fc5461f86764ad7bdbdf6cbdde61e66"
    assert event.data["success"] is False and event.data["score"] == 0


def test_openedx_forum_post_lands_as_posted_forum(xapi):
    post(xapi, load("edx.forum.thread.created.json"))

    event = LearningEvent.objects.get()
    assert (event.type, event.object, event.course.key) == (
        "posted_forum",
        "64abcdfee68f35002fd013c6",
        "course-v1:testX+XAPI101+2019_T2",
    )


def test_openedx_navigation_lands_as_viewed(xapi):
    post(xapi, load("edx.ui.lms.outline.selected.json"))

    assert list(LearningEvent.objects.values_list("type", flat=True)) == ["viewed"]


def test_unknown_verb_is_stored_and_counted_as_an_event_named_by_the_verb(xapi):
    response = post(xapi, statement(verb={"id": "http://example.com/verbs/juggled"}))

    assert response.status_code == 200
    assert list(LearningEvent.objects.values_list("type", "object")) == [("juggled", "1")]
    assert XapiStatement.objects.count() == 1


def test_openedx_registration_creates_the_enrollment_and_deactivation_closes_it(xapi):
    post(xapi, load("edx.course.enrollment.activated.enterprise.json"))
    post(xapi, load("edx.course.enrollment.deactivated.json"))

    enrollment = Enrollment.objects.get()
    assert (enrollment.course.key, enrollment.course.title, enrollment.mode) == (
        DEMO_COURSE,
        "Demonstration Course",
        "audit",
    )
    assert enrollment.enrolled_at.isoformat() == "2020-07-15T06:36:01.917775+00:00"
    assert enrollment.unenrolled_at.isoformat() == "2020-07-15T06:39:23.898755+00:00"
    assert LearningEvent.objects.count() == 0


def test_registration_after_unregistration_reopens_the_enrollment(xapi):
    course = {
        "id": "http://lms.example.com/course/C1",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    }
    post(
        xapi,
        [
            statement(
                verb={"id": "http://adlnet.gov/expapi/verbs/registered"},
                object=course,
                timestamp="2026-01-01T00:00:00Z",
            ),
            statement(
                verb={"id": "http://id.tincanapi.com/verb/unregistered"},
                object=course,
                timestamp="2026-01-05T00:00:00Z",
            ),
            statement(
                verb={"id": "http://adlnet.gov/expapi/verbs/registered"},
                object=course,
                timestamp="2026-01-09T00:00:00Z",
            ),
        ],
    )

    enrollment = Enrollment.objects.get()
    assert (enrollment.enrolled_at.day, enrollment.unenrolled_at) == (1, None)


def test_openedx_course_failed_then_passed_sets_attempt_state(xapi):
    post(xapi, load("edx.course.grade.now_failed.json"))
    attempt = Attempt.objects.get()
    assert (attempt.state, attempt.progress, attempt.course.key) == (AttemptState.FAILED, 100, DEMO_COURSE)

    later = load("edx.course.grade.now_passed.json")
    later["timestamp"] = "2020-07-16T00:00:00+00:00"
    post(xapi, later)

    attempt.refresh_from_db()
    assert attempt.state == AttemptState.APPROVED
    assert attempt.completed_at.isoformat() == "2020-07-16T00:00:00+00:00"


def test_course_completed_with_score_sets_attempt_score(xapi):
    course = {
        "id": "http://lms.example.com/course/C1",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    }
    post(
        xapi,
        statement(
            verb={"id": "http://adlnet.gov/expapi/verbs/completed"}, object=course, result={"score": {"scaled": 0.875}}
        ),
    )

    attempt = Attempt.objects.get()
    assert (attempt.state, attempt.score, attempt.progress) == (AttemptState.APPROVED, 88, 100)


def test_openedx_account_actor_becomes_a_placeholder_learner_of_the_workspace(xapi, workspace):
    post(xapi, load("edx.ui.lms.outline.selected.json"))

    membership = Membership.objects.get(user__email=OPENEDX_LEARNER)
    assert (membership.workspace, membership.role) == (workspace, Role.LEARNER)
    assert not membership.user.has_usable_password()


def test_mbox_actor_is_matched_to_the_existing_member(xapi, learner):
    post(xapi, statement(actor={"mbox": "mailto:Learner@ACME.test"}))

    assert LearningEvent.objects.get().user == learner


def test_course_of_a_context_grouping_activity_is_created_with_its_url_decoded_key(xapi):
    grouping = {
        "id": "http://lms.example.com/c/course-v1%3AAcme%2BA1%2B2026/",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course", "name": {"en-US": "Acme 101"}},
    }
    post(xapi, statement(context={"contextActivities": {"grouping": grouping}}))

    course = Course.objects.get()
    assert (course.key, course.title) == ("course-v1:Acme+A1+2026", "Acme 101")
    assert LearningEvent.objects.get().course == course


# --- Conflicts and batches ----------------------------------------------------------------------


def test_identical_resend_is_accepted_without_a_second_copy(xapi):
    body = load("problem_check(server).json")

    first, second = post(xapi, body), post(xapi, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == [body["id"]]
    assert (XapiStatement.objects.count(), LearningEvent.objects.count()) == (1, 1)


def test_resend_differing_only_in_what_xapi_ignores_is_accepted(xapi):
    body = statement(object={"id": "http://lms.example.com/a/1", "definition": {"name": {"en-US": "One"}}})
    post(xapi, body)
    resent = copy.deepcopy(body)
    resent["verb"]["display"] = {"fr-FR": "a vécu"}
    resent["object"]["definition"] = {"name": {"en-US": "Renamed"}}
    resent["timestamp"] = "2026-03-01T10:30:00+01:00"  # the same instant
    resent["actor"]["mbox"] = "mailto:ADA@acme.test"

    assert post(xapi, resent).status_code == 200
    assert XapiStatement.objects.count() == 1


def test_same_id_with_different_content_is_409_and_changes_nothing(xapi):
    body = statement()
    post(xapi, body)
    stored_before = XapiStatement.objects.get().statement

    response = post(xapi, {**body, "result": {"success": True}})

    assert response.status_code == 409
    assert body["id"] in response.json()["detail"]
    assert XapiStatement.objects.get().statement == stored_before
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_batch_with_a_conflict_fails_whole(xapi):
    body = statement()
    post(xapi, body)
    fresh = statement()

    response = post(xapi, [fresh, {**body, "timestamp": "2026-03-02T00:00:00Z"}])

    assert response.status_code == 409
    assert not XapiStatement.objects.filter(statement__id=fresh["id"]).exists()
    assert LearningEvent.objects.count() == 1


def test_batch_with_an_invalid_statement_fails_whole_naming_the_field(xapi):
    response = post(xapi, [statement(), statement(actor={"name": "nobody"})])

    assert response.status_code == 400
    assert response.json()["detail"].startswith("statements[1].actor:")
    assert XapiStatement.objects.count() == 0


def test_batch_repeating_an_id_is_400(xapi):
    body = statement()

    response = post(xapi, [body, body])

    assert response.status_code == 400
    assert "statements[1].id" in response.json()["detail"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"verb": {"id": "not an iri"}}, "statement.verb.id"),
        ({"id": "12345"}, "statement.id"),
        ({"timestamp": "yesterday"}, "statement.timestamp"),
        ({"result": {"score": {"scaled": 2}}}, "statement.result.score.scaled"),
        ({"object": {"objectType": "StatementRef", "id": "x"}}, "statement.object.id"),
        ({"version": "2.0.0"}, "statement.version"),
    ],
)
def test_invalid_statement_is_400_naming_the_field(xapi, change, field):
    response = post(xapi, statement(**change))

    assert response.status_code == 400
    assert response.json()["detail"].startswith(field + ":")


def test_statement_without_id_gets_one_generated(xapi):
    body = statement()
    del body["id"]

    response = post(xapi, body)

    (statement_id,) = response.json()
    assert uuid.UUID(statement_id)
    assert get(xapi, statementId=statement_id).json()["actor"] == body["actor"]


def test_put_stores_under_statement_id_and_accepts_identical_resend(xapi):
    body = statement()
    statement_id = body.pop("id")
    url = f"{URL}?statementId={statement_id}"

    first = xapi.put(url, body, format="json", **VERSION)
    again = xapi.put(url, body, format="json", **VERSION)
    changed = xapi.put(url, {**body, "result": {"completion": True}}, format="json", **VERSION)

    assert (first.status_code, again.status_code, changed.status_code) == (204, 204, 409)
    assert XapiStatement.objects.count() == 1


def test_put_without_statement_id_is_400(xapi):
    response = xapi.put(URL, statement(), format="json", **VERSION)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("statementId:")


def test_same_statement_id_in_two_workspaces_is_two_statements(xapi, api_key_client, other_workspace):
    body = load("play_video.json")
    other = api_key_client(other_workspace, Role.ADMIN)

    assert post(xapi, body).status_code == 200
    assert post(other, {**body, "result": {"completion": True}}).status_code == 200
    assert XapiStatement.objects.count() == 2
    assert get(other, statementId=body["id"]).json()["result"] == {"completion": True}


# --- Retrieval ------------------------------------------------------------------------------------


def test_get_by_statement_id_returns_the_statement_whole(xapi):
    body = load("problem_check(server).list_answers.json")[0]
    post(xapi, body)

    returned = get(xapi, statementId=body["id"]).json()

    assert {key: returned[key] for key in body} == body
    assert set(returned) - set(body) == {"stored", "authority"}
    assert returned["authority"]["objectType"] == "Agent"


def test_get_unknown_statement_is_404(xapi):
    assert get(xapi, statementId=str(uuid.uuid4())).status_code == 404


def test_get_by_statement_id_with_a_filter_is_400(xapi):
    response = get(xapi, statementId=str(uuid.uuid4()), verb="http://adlnet.gov/expapi/verbs/answered")

    assert response.status_code == 400


def test_voided_statement_is_found_only_by_voided_statement_id(xapi):
    target = load("problem_check(server).json")
    post(xapi, target)
    voiding = statement(
        actor={"mbox": "mailto:admin@acme.test"},
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": target["id"]},
    )

    assert post(xapi, voiding).status_code == 200

    assert get(xapi, statementId=target["id"]).status_code == 404
    assert get(xapi, voidedStatementId=target["id"]).json()["id"] == target["id"]
    assert [item["id"] for item in get(xapi).json()["statements"]] == [voiding["id"]]
    assert not LearningEvent.objects.filter(type="attempted_problem").exists()


def test_voiding_statement_arriving_first_voids_its_target_on_arrival(xapi):
    target = statement()
    post(
        xapi,
        statement(
            verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
            object={"objectType": "StatementRef", "id": target["id"]},
        ),
    )

    post(xapi, target)

    assert get(xapi, voidedStatementId=target["id"]).status_code == 200
    assert LearningEvent.objects.count() == 0


@pytest.fixture
def fixture_statements(xapi):
    """Every distinct Open edX fixture statement, stored in a few batches."""
    for name in FIXTURE_FILES:
        post(xapi, load(name))
    return XapiStatement.objects.count()


def walk(client, **params):
    """Every statement id a client sees following `more` links, and the number of pages."""
    seen, pages = [], 0
    response = get(client, **params)
    while True:
        pages += 1
        body = response.json()
        seen += [item["id"] for item in body["statements"]]
        if not body["more"]:
            return seen, pages
        response = client.get(body["more"], **VERSION)


def test_more_links_walk_every_statement_exactly_once(xapi, fixture_statements):
    seen, pages = walk(xapi, limit=7)

    assert len(seen) == len(set(seen)) == fixture_statements == DISTINCT_FIXTURE_IDS
    assert pages == 10  # 65 statements, 7 a page


def test_ascending_walk_sees_the_same_statements_in_reverse(xapi, fixture_statements):
    descending, _ = walk(xapi, limit=5)
    ascending, _ = walk(xapi, limit=5, ascending="true")

    assert ascending == list(reversed(descending))


def test_list_page_is_a_fixed_number_of_queries(xapi, fixture_statements, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = get(xapi, limit=50)

    assert len(response.json()["statements"]) == 50


def test_verb_filter(xapi, fixture_statements):
    seen, _ = walk(xapi, verb="https://w3id.org/xapi/acrossx/verbs/posted", limit=2)

    # thread, response and comment created
    assert len(seen) == 3


def test_activity_filter(xapi, fixture_statements):
    video = f"http://localhost:18000/xblock/block-v1:edX+DemoX+Demo_Course+type@video+block@{DEMO_VIDEO}"

    statements = get(xapi, activity=video).json()["statements"]

    # load, pause, seek, stop, complete, transcript, captions, speed (the play came in its CCX form)
    assert {item["object"]["id"] for item in statements} == {video}
    assert len(statements) == 8


def test_agent_filter(xapi, fixture_statements):
    post(xapi, statement())
    agent = json.dumps({"mbox": "mailto:ada@acme.test"})

    statements = get(xapi, agent=agent).json()["statements"]

    assert [item["actor"]["mbox"] for item in statements] == ["mailto:ada@acme.test"]


def test_since_and_until_bound_the_stored_time(xapi):
    post(xapi, statement())
    stored = XapiStatement.objects.get().stored.isoformat()

    assert len(get(xapi, since=stored).json()["statements"]) == 0
    assert len(get(xapi, until=stored).json()["statements"]) == 1


def test_tampered_more_link_is_400(xapi, fixture_statements):
    more = get(xapi, limit=5).json()["more"]

    response = xapi.get(more[:-3] + "AAA", **VERSION)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("more:")


def test_more_link_of_another_workspace_is_refused(xapi, fixture_statements, api_key_client, other_workspace):
    more = get(xapi, limit=5).json()["more"]

    response = api_key_client(other_workspace, Role.ADMIN).get(more, **VERSION)

    assert response.status_code == 400


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"agent": "{not json"}, {"ascending": "yes"}, {"colour": "red"}])
def test_bad_list_parameter_is_400_naming_it(xapi, params):
    response = get(xapi, **params)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(next(iter(params)) + ":")


def test_list_sees_only_its_workspace(xapi, api_key_client, other_workspace):
    post(xapi, statement())

    response = get(api_key_client(other_workspace, Role.ADMIN))

    assert response.json() == {"statements": [], "more": ""}


# --- Headers and credentials ----------------------------------------------------------------------


def test_missing_version_header_is_400(xapi):
    response = xapi.post(URL, statement(), format="json")

    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json()["detail"]
    assert response["X-Experience-API-Version"] == "1.0.3"
    assert XapiStatement.objects.count() == 0


def test_unsupported_version_header_is_400(xapi):
    response = xapi.get(URL, HTTP_X_EXPERIENCE_API_VERSION="0.95")

    assert response.status_code == 400


def test_basic_auth_with_the_api_key_as_password_is_accepted(workspace):
    _, raw_key = ApiKey.issue(workspace, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"lrs-user:{raw_key}".encode()).decode())

    response = post(client, statement())

    assert response.status_code == 200
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_wrong_key_is_401(workspace):
    api_key, _ = ApiKey.issue(workspace, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"x:{api_key.prefix}.wrong".encode()).decode())

    response = get(client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_no_credentials_is_401(db):
    assert get(APIClient()).status_code == 401


def test_learner_key_is_403(workspace, api_key_client):
    assert post(api_key_client(workspace, Role.LEARNER), statement()).status_code == 403


def test_learner_session_is_refused(workspace, learner, session_client):
    assert get(session_client(learner)).status_code in (401, 403)


# --- Comparison rules (unit) ---------------------------------------------------------------------


def test_group_member_order_does_not_matter():
    group = {"objectType": "Group", "member": [{"mbox": "mailto:a@x.test"}, {"mbox": "mailto:b@x.test"}]}
    first = statement(actor=group)
    second = copy.deepcopy(first)
    second["actor"]["member"].reverse()

    assert statements_match(second, first)


def test_result_extension_difference_matters():
    first = statement(result={"extensions": {"http://x.test/e": 1}})
    second = statement(id=first["id"], result={"extensions": {"http://x.test/e": 2}})

    assert not statements_match(second, first)


def test_unmapped_actor_statement_is_stored_only(xapi):
    response = post(xapi, statement(actor={"mbox_sha1sum": "a" * 40}))

    assert response.status_code == 200
    assert (XapiStatement.objects.count(), LearningEvent.objects.count()) == (1, 0)


def test_video_created_from_a_statement_belongs_to_the_statement_course(xapi):
    post(xapi, load("pause_video.json"))

    video = Video.objects.get()
    assert (video.key, video.course.key, video.duration_s) == (DEMO_VIDEO, DEMO_COURSE, 195)


def test_existing_member_from_another_workspace_is_reused(xapi, workspace):
    other = WorkspaceFactory(slug="other")
    user = UserFactory(email="ada@acme.test")
    MembershipFactory(user=user, workspace=other)

    post(xapi, statement())

    assert LearningEvent.objects.get().user == user
    assert Membership.objects.filter(user=user, workspace=workspace, role=Role.LEARNER).exists()


def test_voiding_a_video_statement_recomputes_its_session(xapi):
    pause = load("pause_video.json")
    post(xapi, [load("play_video.json"), pause])
    assert VideoView.objects.get().watched_s == 194

    voiding = statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"}, object={"objectType": "StatementRef", "id": pause["id"]}
    )
    assert post(xapi, voiding).status_code == 200

    # The play alone watched nothing more; views only grow, so the view keeps what it reached.
    assert VideoView.objects.get().watched_s == 194
    assert XapiStatement.objects.get(statement__id=pause["id"]).is_voided


def test_voiding_a_statement_about_an_agent_is_accepted(xapi):
    about_agent = statement(object={"objectType": "Agent", "mbox": "mailto:bob@acme.test"})
    post(xapi, about_agent)

    voiding = statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": about_agent["id"]},
    )

    assert post(xapi, voiding).status_code == 200
    assert get(xapi, voidedStatementId=about_agent["id"]).status_code == 200
