"""static/js/tracker.js in Chromium: heartbeats update one session, the pagehide beacon passes the
CSRF check through the query parameter, and a failed send is kept and sent again."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from analytics.models import PageSession

pytestmark = pytest.mark.browser

TEST_PAGE = "/tracker-test/"
ENDPOINT = "/api/track/page-sessions"


@pytest.fixture
def learner_in_browser(live_server_db, make_member, workspace):
    from accounts.models import Role

    return make_member(workspace, Role.LEARNER, email="tracked@acme.test")


def serve_tracked_page(page, live_server, user, heartbeat_ms=400):
    """Serve at TEST_PAGE a page holding the real _tracker.html snippet for the browser's session."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies(live_server.url)}
    request = RequestFactory().get(TEST_PAGE)
    request.META["CSRF_COOKIE"] = cookies["csrftoken"]  # as CsrfViewMiddleware would set it
    request.user = user
    request.session = {}
    snippet = render_to_string(
        "analytics/_tracker.html", {"page_name": "Tracker test", "heartbeat_ms": heartbeat_ms}, request=request
    )
    html = f"<!doctype html><html><head><title>t</title></head><body><h1>Tracked</h1>{snippet}</body></html>"
    page.route(
        live_server.url + TEST_PAGE, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )


def wait_for(page, predicate, timeout_ms=8000):
    waited = 0
    while waited < timeout_ms:
        if predicate():
            return True
        page.wait_for_timeout(200)
        waited += 200
    return predicate()


def test_heartbeats_update_one_session(page, live_server, login, learner_in_browser):
    login(page, learner_in_browser)
    serve_tracked_page(page, live_server, learner_in_browser, heartbeat_ms=400)
    page.goto(live_server.url + TEST_PAGE)
    session_id = page.evaluate("window.pageTracker.session.id")

    assert wait_for(page, lambda: PageSession.objects.filter(pk=session_id, duration_s__gte=1).exists())
    assert wait_for(page, lambda: PageSession.objects.filter(pk=session_id, duration_s__gte=3).exists())

    session = PageSession.objects.get()
    assert (session.page, session.path, session.user) == ("Tracker test", TEST_PAGE, learner_in_browser)
    assert page.problems == []


def test_leaving_the_page_sends_a_beacon_that_passes_the_csrf_check(page, live_server, login, learner_in_browser):
    login(page, learner_in_browser)
    # No heartbeat during the test: only the pagehide beacon (token in the query) can store the session.
    serve_tracked_page(page, live_server, learner_in_browser, heartbeat_ms=600_000)
    page.goto(live_server.url + TEST_PAGE)
    session_id = page.evaluate("window.pageTracker.session.id")
    page.wait_for_timeout(2500)
    assert not PageSession.objects.exists()

    page.goto(live_server.url + "/accounts/login/")  # leaving the page fires pagehide

    assert wait_for(page, lambda: PageSession.objects.filter(pk=session_id, duration_s__gte=2).exists())
    assert PageSession.objects.get().user == learner_in_browser


def test_failed_send_is_kept_and_sent_again(page, live_server, login, learner_in_browser):
    login(page, learner_in_browser)
    serve_tracked_page(page, live_server, learner_in_browser)
    page.route(live_server.url + ENDPOINT, lambda route: route.fulfill(status=503, body="down"))
    page.goto(live_server.url + TEST_PAGE)

    assert wait_for(page, lambda: page.evaluate("window.pageTracker.pending().length") == 1)
    assert not PageSession.objects.exists()

    page.unroute(live_server.url + ENDPOINT)
    assert wait_for(page, lambda: page.evaluate("window.pageTracker.pending().length") == 0)
    assert wait_for(page, lambda: PageSession.objects.filter(duration_s__gte=1).count() == 1)
    # the 503s are the test's doing; nothing else went wrong
    assert [p for p in page.problems if "503" not in p] == []
