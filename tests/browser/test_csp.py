"""The Content-Security-Policy in Chromium: every dashboard, the login page, the Django admin and
the API docs pages load and draw under the policy with no violation reported; the check catches a
page that breaks the policy; a course thumbnail from an origin the policy refuses is hidden.

Violations are collected twice, each catching what the other might miss: the page's
`securitypolicyviolation` events (an init script forwards each one to Python through an exposed
function, so none is lost when the page navigates) and Chromium's console messages about the
policy.
"""

import pytest
from django.core.cache import cache

from tests.browser.test_dashboards import COURSE_KEY, VIDEO_KEY, world  # noqa: F401 (world: a fixture)
from tests.factories import CourseFactory, EnrollmentFactory, PageSessionFactory, UserFactory

pytestmark = pytest.mark.browser

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportCspViolation([event.effectiveDirective, event.blockedURI, event.documentURI, event.sample].join(" | "));
});
"""

# Every dashboard (analytics/dashboards/urls.py) and whether it draws charts (the course list is a table).
DASHBOARDS = [
    ("/dashboards/?period=all", True),
    ("/dashboards/courses/?period=all", False),
    (f"/dashboards/courses/{COURSE_KEY}/?period=all", True),
    ("/dashboards/results/?period=all", True),
    (f"/dashboards/videos/{VIDEO_KEY}/?period=all", True),
]

# Deferred sections loaded, and every figure drawn by plotly (an svg in its div).
ALL_CHARTS_DRAWN = """() => {
  if (document.querySelector("[data-fragment-url]")) return false;
  return [...document.querySelectorAll(".chart-figure")].every((div) => div.querySelector("svg.main-svg"));
}"""


@pytest.fixture(autouse=True)
def fresh_cache():
    """Empty caches, so that the dashboards load their figures as deferred fragments (the path
    that draws charts from fetched HTML) rather than from a previous test's cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def violations(page):
    """The CSP violations the page reports, from the event and from the console."""
    found = []
    page.expose_function("reportCspViolation", lambda text: found.append(f"event: {text}"))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: found.append(f"console: {message.text}") if "Content Security Policy" in message.text else None,
    )
    return found


def settle(page):
    """Wait until the page is idle, so that late violations (a chart's style, a worker) are in."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


def test_every_dashboard_draws_its_charts_without_a_violation(page, live_server, login, world, violations):  # noqa: F811
    login(page, world["admin"])
    for path, has_charts in DASHBOARDS:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_function(ALL_CHARTS_DRAWN)
        assert (page.locator(".chart-figure svg.main-svg").count() > 0) == has_charts, path
        settle(page)
        assert violations == [], (path, sorted(set(violations)))


def test_learner_dashboard_draws_its_charts_without_a_violation(page, live_server, login, world, violations):  # noqa: F811
    login(page, world["learners"][0])
    page.goto(live_server.url + "/dashboard/")
    page.wait_for_function(ALL_CHARTS_DRAWN)
    assert page.locator("#daily-chart svg.main-svg").count() > 0
    assert page.locator("#page-chart svg.main-svg").count() > 0
    settle(page)
    assert violations == []


# Redoc's sidebar footer always loads its maker's logo from their CDN; the policy refuses it (this
# site loads nothing from a CDN), Redoc then hides the image. The one refusal the test expects.
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    "path, ready",
    [
        ("/api/docs/", ".swagger-ui .opblock"),
        ("/api/redoc/", "[id^='operation/']"),
    ],
)
def test_api_docs_page_renders_without_a_violation(page, live_server, violations, path, ready):
    response = page.goto(live_server.url + path)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(ready)
    settle(page)
    assert [violation for violation in violations if REDOC_CDN_LOGO not in violation] == []


def test_login_admin_and_browsable_api_pages_load_without_a_violation(
    page,
    live_server,
    login,
    world,  # noqa: F811
    violations,
):
    staff = UserFactory(email="staff@acme.test", is_staff=True, is_superuser=True)
    page.goto(live_server.url + "/accounts/login/")
    settle(page)
    login(page, staff)
    for path in ("/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{staff.pk}/change/"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        settle(page)
    # DRF's browsable API: what a browser gets from an API endpoint.
    page.context.clear_cookies()
    login(page, world["admin"])
    for path in ("/api/me/", "/analyse/contents"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        settle(page)
    assert violations == []


def test_the_check_catches_a_page_that_breaks_the_policy(page, live_server, live_server_db, violations):
    """A page served with the site's own policy and an inline script, an inline event handler, a
    style attribute and an image from elsewhere: each is refused, reported, and did not run."""
    policy = page.request.get(live_server.url + "/accounts/login/").headers["content-security-policy"]
    html = (
        "<!DOCTYPE html><html><head><title>probe</title></head><body>"
        "<script>document.title = 'inline script ran';</script>"
        "<img id='handler' src='/static/missing.png' onerror=\"document.title = 'handler ran'\">"
        "<p id='styled' style='color: rgb(255, 0, 0)'>styled</p>"
        "<img src='https://img.example.com/elsewhere.png'>"
        "</body></html>"
    )
    page.route(
        live_server.url + "/csp-probe/",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=html, headers={"Content-Security-Policy": policy}
        ),
    )
    page.route("https://img.example.com/**", lambda route: route.abort())

    page.goto(live_server.url + "/csp-probe/")
    settle(page)

    assert page.title() == "probe"
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    reported = [violation for violation in violations if violation.startswith("event: ")]
    directives = sorted(violation.split(" | ")[0].removeprefix("event: ") for violation in reported)
    assert directives == ["img-src", "script-src-attr", "script-src-elem", "style-src-attr"], violations
    assert any("Content Security Policy" in violation for violation in violations if violation.startswith("console: "))


def test_thumbnail_from_an_origin_the_policy_refuses_is_hidden(page, live_server, login, world):  # noqa: F811
    """The thumbnail's inline onerror became static/js/learner_dashboard.js: a thumbnail that does
    not load (here: refused by img-src) is hidden, not shown as a broken image."""
    learner = world["learners"][0]
    course = CourseFactory(workspace=world["data"].workspace, key="thumb-101", title="Thumbnails")
    assert course.thumbnail.startswith("https://img.example.com/")
    EnrollmentFactory(course=course, user=learner)
    PageSessionFactory(
        workspace=course.workspace, user=learner, course=course, course_key=course.key, path=f"/player/{course.key}/1"
    )

    login(page, learner)
    page.goto(live_server.url + "/dashboard/")
    thumbnail = page.locator(f"tr[data-course-id='{course.key}'] .thumb img")
    assert thumbnail.count() == 1
    thumbnail.evaluate("(img) => img.scrollIntoView()")  # loading="lazy": fetched (and refused) once in view
    page.wait_for_function("(img) => img.hidden", arg=thumbnail.element_handle())
