"""Production security settings and the controls docs/security.md lists, each proved here."""

import hashlib
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import get_hasher
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import ApiKey, Role
from accounts.tokens import issue_tokens
from tests.factories import DEFAULT_PASSWORD

REPO = Path(__file__).resolve().parents[2]


def _production_env(tmp_path, **extra):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="analytics.example.com",
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        **extra,
    )
    return env


def _run(args, env):
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


# --- Settings with DEBUG=0 -----------------------------------------------------------------------


def test_check_deploy_is_clean_in_production(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, "
    "s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY, "
    "s.SECURE_CONTENT_TYPE_NOSNIFF, int(s.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].total_seconds()), "
    "int(s.SIMPLE_JWT['REFRESH_TOKEN_LIFETIME'].total_seconds()))"
)


def test_production_settings_secure_cookies_hsts_and_headers(tmp_path):
    result = _run(["-c", PRINT_SETTINGS], _production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "True",
        "31536000",
        "True",
        "DENY",
        "same-origin",
        "True",
        "3600",
        "604800",
    ]


def test_jwt_lifetimes_come_from_the_environment(tmp_path):
    result = _run(["-c", PRINT_SETTINGS], _production_env(tmp_path, JWT_ACCESS_MINUTES="5", JWT_REFRESH_DAYS="2"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [str(5 * 60), str(2 * 24 * 3600)]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = _run(["-c", "import django; django.setup()"], env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=0" in result.stderr


@pytest.mark.django_db
def test_responses_forbid_framing_and_send_a_referrer_policy(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only(client, django_user_model):
    django_user_model.objects.create_user("cookie@acme.test", DEFAULT_PASSWORD)
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"login": "cookie@acme.test", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"] is True
    assert client.cookies["csrftoken"]["httponly"] is True


@pytest.mark.production_password_hasher
def test_password_hasher_is_a_slow_one():
    hasher = get_hasher("default")
    assert hasher.algorithm in {"argon2", "pbkdf2_sha256", "bcrypt_sha256", "scrypt"}
    if hasher.algorithm == "pbkdf2_sha256":
        assert hasher.iterations >= 600_000  # OWASP 2023 minimum for PBKDF2-SHA256


# --- CSRF on session-authenticated writes --------------------------------------------------------

SESSION_WRITES = [
    ("post", "/api/track/page-sessions", []),
    ("post", "/api/track/events", []),
    ("post", "/analytics/export", {"type": "user", "period": "7d", "format": "csv"}),
    ("delete", "/analytics/export/exp_00000000000000000000", None),
    ("post", "/analyse/results", {}),
    ("post", "/analyse/statistics", {}),
]


def _send(client, method, path, body, **extra):
    if body is None:
        return getattr(client, method)(path, **extra)
    return getattr(client, method)(path, body, format="json", **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("method,path,body", SESSION_WRITES)
def test_session_write_without_csrf_token_is_403(admin_user, method, path, body):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = _send(client, method, path, body)
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("method,path,body", SESSION_WRITES)
def test_session_write_with_csrf_token_passes_the_check(admin_user, method, path, body):
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    response = _send(client, method, path, body, HTTP_X_CSRFTOKEN=token)
    assert "CSRF" not in response.content.decode()
    assert response.status_code != 403


@pytest.mark.django_db
def test_import_is_api_key_only_so_a_session_cannot_write_there(admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/api/import", "[]", content_type="application/json")
    assert response.status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["api_key", "bearer"])
def test_api_key_and_bearer_writes_need_no_csrf_token(workspace, admin_user, kind):
    client = APIClient(enforce_csrf_checks=True)
    if kind == "api_key":
        _, raw = ApiKey.issue(workspace, Role.ADMIN)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    else:
        _, access = issue_tokens(admin_user, workspace)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.post("/analyse/statistics", {}, format="json")
    assert response.status_code == 200
    assert response.json()["total"] == 0


# --- Credentials ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_keys_are_stored_as_hashes_only(workspace):
    api_key, raw_key = ApiKey.issue(workspace, Role.ADMIN, name="integration")
    secret_part = raw_key.split(".", 1)[1]
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(raw_key.encode()).hexdigest()
    assert not any(secret_part in str(value) for value in row.values())
    from io import StringIO

    dump = StringIO()
    call_command("dumpdata", "accounts.ApiKey", stdout=dump)
    assert secret_part not in dump.getvalue()


@pytest.mark.django_db
def test_api_key_check_compares_hashes_in_constant_time(workspace):
    _, raw_key = ApiKey.issue(workspace, Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key[:-1]}{'A' if raw_key[-1] != 'A' else 'B'}")
    with mock.patch("accounts.credentials.hmac.compare_digest", wraps=__import__("hmac").compare_digest) as compare:
        assert client.get("/api/me/").status_code == 401
    assert compare.call_count == 1


@pytest.mark.django_db
def test_signed_links_are_checked_in_constant_time(workspace, admin_user):
    """Export download links and xAPI `more` links are django.core.signing tokens, whose signature
    check is constant_time_compare (hmac.compare_digest)."""
    from django.core import signing

    with mock.patch.object(signing, "constant_time_compare", wraps=signing.constant_time_compare) as compare:
        response = APIClient().get("/analytics/export/exp_00000000000000000000/download?token=eyJpZCI6MX0:abc:def")
        assert response.status_code == 403
        assert compare.call_count >= 1
        _, raw = ApiKey.issue(workspace, Role.ADMIN)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        calls = compare.call_count
        response = client.get("/xapi/statements?more=eyJ3IjoxfQ:abc:def", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")
        assert response.status_code == 400
        assert compare.call_count > calls


@pytest.mark.django_db
def test_expired_bearer_token_is_401(workspace, admin_user):
    _, access = issue_tokens(admin_user, workspace)
    access.set_exp(from_time=timezone.now() - timedelta(hours=2))  # lifetime 60 min: expired 1 h ago
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert "expired" in response.content.decode().lower()


@pytest.mark.django_db
def test_bearer_token_within_its_lifetime_is_accepted(workspace, admin_user):
    _, access = issue_tokens(admin_user, workspace)
    lifetime = AccessToken(str(access))["exp"] - AccessToken(str(access))["iat"]
    assert lifetime == django_settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/me/").json() == {
        "workspace": "acme",
        "role": "admin",
        "kind": "jwt",
        "email": "admin@acme.test",
    }


# --- Login throttling ----------------------------------------------------------------------------


@pytest.fixture
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_sixth_failed_login_for_one_email_is_refused_even_with_the_right_password(client, learner, fresh_rate_limits):
    for attempt in range(5):
        response = client.post("/accounts/login/", {"login": learner.email, "password": f"wrong-{attempt}"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
        assert "Too many failed login attempts" not in response.content.decode()
    response = client.post("/accounts/login/", {"login": learner.email, "password": DEFAULT_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.django_db
def test_login_limit_is_per_email(client, learner, make_member, workspace, fresh_rate_limits):
    other = make_member(workspace, Role.LEARNER, email="other@acme.test")
    for attempt in range(5):
        client.post("/accounts/login/", {"login": learner.email, "password": f"wrong-{attempt}"})
    response = client.post("/accounts/login/", {"login": other.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_token_endpoint_shares_the_failed_login_limit(api_client, learner, fresh_rate_limits):
    """POST /api/auth/token/ is a password login too: five failures for an email lock it like the
    login page does (429), the right password included, for the rest of the window."""
    for attempt in range(5):
        response = api_client.post(
            "/api/auth/token/", {"email": learner.email, "password": f"wrong-{attempt}"}, format="json"
        )
        assert response.status_code == 401
    response = api_client.post(
        "/api/auth/token/", {"email": learner.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert "too many failed login attempts" in response.content.decode().lower()


# --- The admin and the repository ----------------------------------------------------------------


@pytest.mark.django_db
def test_django_admin_requires_staff(client, admin_user, django_user_model):
    client.force_login(admin_user)  # the workspace's admin role, not is_staff
    response = client.get("/admin/courses/course/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    staff = django_user_model.objects.create_user("staff@ops.test", DEFAULT_PASSWORD, is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/courses/course/").status_code == 403  # staff without the permission


SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE" + r" KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}", re.I),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "hard-coded SECRET_KEY": re.compile(r"(?:SECRET_KEY|SIGNING_KEY)['\"]?\s*[,=:]\s*['\"]([^'\"\s]{8,})['\"]"),
}
# Visibly non-secret placeholders, each only usable where it is: the DEBUG demo's key (settings
# refuse to start with DEBUG=0 without SECRET_KEY) and the benchmark scripts' local key.
ALLOWED_LITERALS = {
    ("config/settings.py", "insecure-demo-key-only-for-debug-runs-0123456789abcdefghijklmnop"),
    ("scripts/benchlib.py", "bench-only-secret-key-not-used-anywhere-else-0123456789"),
}

SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _tracked_files():
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "var", "node_modules", "__pycache__"}
        names = [
            str(path.relative_to(REPO))
            for path in REPO.rglob("*")
            if path.is_file() and not skip & set(path.relative_to(REPO).parts)
        ]
    return [name for name in names if (REPO / name).is_file()]


def test_no_secret_is_committed():
    found = []
    for name in _tracked_files():
        path = REPO / name
        if path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        for label, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                literal = match.group(1) if pattern.groups else match.group(0)
                if SETTING_NAME.fullmatch(literal):  # {"SECRET_KEY", "DATABASE_URL"}: a name, not a value
                    continue
                if (name, literal) not in ALLOWED_LITERALS:
                    found.append(f"{name}: {label}")
    assert found == []


def test_secret_scan_finds_what_it_looks_for():
    """The patterns above are not vacuous: each flags a made-up sample."""
    samples = {
        "private key": "-----BEGIN RSA PRIVATE" + " KEY-----",
        "AWS access key id": "AKIA" + "ABCDEFGHIJKLMNOP",
        "AWS secret key": "aws_secret_access_key = " + "a" * 40,
        "GitHub token": "ghp_" + "a" * 36,
        "Slack token": "xoxb-" + "1234567890-abc",
        "hard-coded SECRET_KEY": "SECRET_KEY = " + "'abcdefghijkl'",
    }
    assert {label for label, sample in samples.items() if SECRET_PATTERNS[label].search(sample)} == set(samples)


@pytest.mark.django_db
def test_export_link_signed_with_the_previous_key_stays_valid_while_it_is_a_fallback(settings):
    """Rotating SECRET_KEY with the old key in SECRET_KEY_FALLBACKS keeps issued links working;
    once the old key is dropped they are refused."""
    from exports.services import DownloadRefused, job_for_download

    from django.core import signing

    old_key = settings.SECRET_KEY
    token = signing.dumps({"id": "exp_rotated", "exp": 4102444800}, salt="exports.download")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = secrets.token_urlsafe(50), [old_key]
    with pytest.raises(DownloadRefused) as still_signed:
        job_for_download("exp_rotated", token)  # the signature passes; the job does not exist
    assert still_signed.value.status == 410
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(DownloadRefused) as refused:
        job_for_download("exp_rotated", token)
    assert refused.value.status == 403
