"""Content-Security-Policy and Permissions-Policy on every response (docs/security.md, "Browser
hardening"), and chart fragments that need no inline script. That Chromium reports no violation on
the real pages is tests/browser/test_csp.py."""

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from django.test import Client

from accounts.models import Role
from analytics import charts
from config.renderers import BROWSABLE_API_STYLE_ATTRIBUTES, csp_hash
from tests.factories import CourseFactory, UserFactory, VideoFactory

REPO = Path(__file__).resolve().parents[2]
SITE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": [
        "'self'",
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
    ],
    "style-src-attr": ["'unsafe-hashes'", "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
REFUSED_FEATURES = ["camera", "microphone", "geolocation", "payment", "usb", "display-capture", "serial"]


def directives(header):
    """'a x y; b z' -> {"a": ["x", "y"], "b": ["z"]}."""
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} twice in {header}"
        parsed[name] = values
    return parsed


def assert_permissions_policy(response):
    features = dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))
    for feature in REFUSED_FEATURES:
        assert features[feature] == "()", feature


@pytest.fixture
def world(workspace, make_member):
    course = CourseFactory(workspace=workspace, key="web-101", title="Web")
    video = VideoFactory(course=course, key="intro", title="Intro")
    staff = UserFactory(email="staff@acme.test", is_staff=True, is_superuser=True)
    return {
        "admin": make_member(workspace, Role.ADMIN, email="admin@acme.test"),
        "learner": make_member(workspace, Role.LEARNER, email="learner@acme.test"),
        "staff": staff,
        "course": course,
        "video": video,
    }


def pages(world):
    """(who, path, status): every kind of page and answer the service gives."""
    return [
        (None, "/accounts/login/", 200),
        (None, "/dashboard/", 302),  # to the login page
        ("learner", "/dashboard/", 200),
        ("admin", "/dashboards/", 200),
        ("admin", "/dashboards/courses/", 200),
        ("admin", f"/dashboards/courses/{world['course'].key}/", 200),
        ("admin", "/dashboards/results/", 200),
        ("admin", f"/dashboards/videos/{world['video'].key}/", 200),
        ("learner", "/dashboards/", 403),
        ("staff", "/admin/", 200),
        ("staff", "/admin/accounts/user/", 200),
        (None, "/api/schema/", 200),
        ("admin", "/api/me/", 200),
        (None, "/api/me/", 401),
        (None, "/api/health/", 200),
        (None, "/no-such-page/", 404),
    ]


@pytest.mark.django_db
def test_every_page_and_api_answer_carries_the_site_policy_and_permissions_policy(world):
    for who, path, status in pages(world):
        client = Client()
        if who:
            client.force_login(world[who])
        response = client.get(path)
        assert response.status_code == status, (who, path)
        assert directives(response["Content-Security-Policy"]) == SITE_POLICY, (who, path)
        assert_permissions_policy(response)


@pytest.mark.django_db
def test_swagger_ui_page_also_allows_data_images_only(client):
    response = client.get("/api/docs/")
    policy = directives(response["Content-Security-Policy"])
    assert policy == {**SITE_POLICY, "img-src": ["'self'", "data:"]}
    assert_permissions_policy(response)
    # Its start-up script is a file under the same policy, not an inline script.
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert "<script>" not in response.content.decode()


@pytest.mark.django_db
def test_redoc_page_allows_its_nonce_styles_search_worker_and_data_images(client):
    response = client.get("/api/redoc/")
    policy = directives(response["Content-Security-Policy"])
    html = response.content.decode()
    nonce = re.search(r'data-nonce="([^"]+)"', html).group(1)
    assert f"'nonce-{nonce}'" in policy["style-src"]
    assert set(policy) == set(SITE_POLICY) | {"worker-src"}
    assert policy["worker-src"] == ["blob:"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["script-src"] == ["'self'"]
    assert "<script>" not in html and "<style>" not in html
    # A fresh nonce for every response.
    assert re.search(r'data-nonce="([^"]+)"', client.get("/api/redoc/").content.decode()).group(1) != nonce


def test_extra_thumbnail_origins_come_from_the_environment(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])",
        ],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(tmp_path),
            "CSP_IMG_HOSTS": "https://lms.example.com, https://cdn.example.com",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[\"'self'\", 'https://lms.example.com', 'https://cdn.example.com']"


def test_chart_fragment_has_no_inline_script_or_style_and_escapes_its_labels():
    title = "</script><script>alert(1)</script> & <b>"
    figure = go.Figure(go.Bar(x=[1, 2], y=["a", "b"], name=title), layout={"height": 240})

    fragment = str(charts.chart_html(figure, "probe-chart"))

    assert fragment.count("<script") == 1
    assert '<script type="application/json" id="probe-chart-figure">' in fragment
    assert fragment.count("</script>") == 1  # the label's cannot close the data block
    assert "style=" not in fragment
    assert '<div id="probe-chart" class="plotly-graph-div chart-figure" data-figure="probe-chart-figure">' in fragment
    spec = json.loads(fragment.split('id="probe-chart-figure">', 1)[1].removesuffix("</script>"))
    assert spec["figure"]["data"][0]["name"] == title
    assert spec["figure"]["data"][0]["x"] == [1, 2]
    assert spec["figure"]["layout"]["height"] == 240
    assert spec["config"] == charts.CHART_CONFIG


@pytest.mark.django_db
def test_browsable_api_pages_allow_only_drfs_own_fixed_styles(admin_user):
    client = Client()
    client.force_login(admin_user)

    html_page = client.get("/api/me/", HTTP_ACCEPT="text/html")
    json_answer = client.get("/api/me/", HTTP_ACCEPT="application/json")

    assert html_page["Content-Type"].startswith("text/html")
    policy = directives(html_page["Content-Security-Policy"])
    hashes = {value: csp_hash(value) for value in BROWSABLE_API_STYLE_ATTRIBUTES}
    assert (
        hashes["clear: both"] == "'sha256-" + base64.b64encode(hashlib.sha256(b"clear: both").digest()).decode() + "'"
    )
    assert policy["style-src-attr"] == [*SITE_POLICY["style-src-attr"], *hashes.values()]
    assert policy["script-src"] == ["'self'"]
    assert {key: value for key, value in policy.items() if key not in {"style-src", "style-src-attr"}} == {
        key: value for key, value in SITE_POLICY.items() if key not in {"style-src", "style-src-attr"}
    }
    # The JSON answer of the same endpoint keeps the site policy unchanged.
    assert directives(json_answer["Content-Security-Policy"]) == SITE_POLICY
