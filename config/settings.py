"""Settings for the learning-analytics service, read from the environment.

Every default works for the zero-setup demo: SQLite and a filesystem Celery broker under var/.
Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis or RabbitMQ), SECRET_KEY,
DEBUG=0 and ALLOWED_HOSTS.
"""

import os
from datetime import timedelta
from pathlib import Path

import csp.constants as _csp
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.rates import parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_rate(name, default):
    """A rate limit ("600/min"; empty: none), refused at start-up when malformed."""
    value = env_str(name, default)
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    return value


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")
    SECRET_KEY = "insecure-demo-key-only-for-debug-runs-0123456789abcdefghijklmnop"
# Rotation: the previous keys, comma-separated; what they signed (sessions, export download links,
# xAPI `more` links, 360Learning cursors) stays valid while they are listed (docs/security.md).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "allauth",
    "allauth.account",
    "accounts",
    "courses",
    "analytics",
    "exports",
    "privacy",
]

MIDDLEWARE = [
    # First, so that the latency it records covers every other middleware.
    "analytics.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (docs/security.md).
    "csp.middleware.CSPMiddleware",
    "config.security_headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Body size and NUL characters in the URL, before anything reads the request (docs/api/limits.md).
    "analytics.api.request_limits.RequestLimitsMiddleware",
    # xAPI's alternate request syntax (POST ?method=PUT with a form) turned into the request it stands for.
    "analytics.api.xapi.alternate_syntax.AlternateRequestSyntaxMiddleware",
    # Read-only views read a streaming replica when one is configured and current (config/replicas.py).
    "config.replicas.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # A 503 with Retry-After, not a 500 page, when PostgreSQL cannot be reached (non-DRF views).
    "config.availability.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request uses it, so that one left dead by a
        # database restart is replaced instead of failing the request (docs/reliability.md).
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DB_JIT", False):
    # PostgreSQL's JIT compiles any plan it costs above jit_above_cost, which spends 50-200 ms on
    # API queries that run in tens of ms (docs/benchmarks-video-cloud.md). DB_JIT=1 keeps it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that a Celery worker started by a test sees the test database.
    # One file per test process, so that parallel test runs on one machine do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Streaming replicas for reads (config/replicas.py, docs/scaling.md): one alias per URL.
for number, replica_url in enumerate(env_list("DATABASE_REPLICA_URLS", []), start=1):
    replica = dj_database_url.parse(
        replica_url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
    )
    # A replica that does not answer costs a request at most this long before the primary is used.
    replica.setdefault("OPTIONS", {}).update(DATABASES["default"].get("OPTIONS", {}), connect_timeout=2)
    # Tests read the replica alias from the test database itself (no second copy to create).
    replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{number}"] = replica
REPLICA_ALIASES = [alias for alias in DATABASES if alias.startswith("replica_")]
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"] if REPLICA_ALIASES else []
REPLICA_MAX_LAG_S = env_int("REPLICA_MAX_LAG_S", 30)
REPLICA_CHECK_S = env_int("REPLICA_CHECK_S", 5)
# Read requests that still read the primary: the LRS (its clients read their own statements in the
# next request) and the admin.
REPLICA_PRIMARY_PATHS = env_list("REPLICA_PRIMARY_PATHS", ["/xapi/", "/admin/", "/accounts/", "/api/auth/"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# allauth: email login, no usernames; sign-up is closed unless ALLOW_SIGNUP=1 (admins invite).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_ALLOW_SIGNUP = env_bool("ALLOW_SIGNUP", False)
ACCOUNT_RATE_LIMITS = {"login_failed": env_str("LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key")}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CACHES = {
    "default": (
        {
            # Misses instead of errors while Redis is down, so reads keep working.
            "BACKEND": "config.availability.FailSoftRedisCache",
            "LOCATION": env_str("CACHE_URL"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if env_str("CACHE_URL").startswith("redis")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Request bodies: bytes a request may send (413 above; docs/api/limits.md). The largest tracking
# or xAPI batch (1,000 items) is far below 10 MiB; the bulk import takes up to 50 MiB a request.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024)
IMPORT_MAX_BODY_BYTES = env_int("IMPORT_MAX_BODY_BYTES", 50 * 1024 * 1024)
# Form bodies read through request.POST: the same bound (the middleware answers first).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, IMPORT_MAX_BODY_BYTES)

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "config.availability.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.WorkspaceJWTAuthentication",
        "accounts.authentication.WorkspaceSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsWorkspaceMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nesting depth and NUL characters checked at parse time (docs/api/limits.md).
    "DEFAULT_PARSER_CLASSES": [
        "analytics.api.request_limits.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's JSON output, written by orjson where the bytes are the same (config/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["config.renderers.JSONRenderer", "config.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Views without a family throttle (config/throttling.py) are limited by API_RATE_LIMIT.
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.DefaultRateThrottle"],
    # Proxies in front of the service whose X-Forwarded-For is trusted for the client address of
    # the per-IP limits; 0: REMOTE_ADDR (a client cannot pick its own address with the header).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

# Seconds a request's credential lookup (API key, membership) is cached; a change to keys,
# memberships, workspaces or users is seen at once (accounts/credential_cache.py). 0: not cached.
# On by default only with a shared cache (CACHE_URL): with per-process local memory, a key revoked
# through one gunicorn worker would stay usable in the others until the entry expired.
CREDENTIAL_CACHE_S = env_int("CREDENTIAL_CACHE_S", 30 if env_str("CACHE_URL").startswith("redis") else 0)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Learning analytics API",
    "DESCRIPTION": "Tracking, xAPI and analytics endpoints compatible with Open edX, "
    "360Learning, Skillhabit, VideoCloud and SkillRise clients.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.throttling.document_rate_limits",  # the 429 of every throttled operation
    ],
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", f"file://{VAR_DIR / 'celery-results'}")
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# A broker that is down must not hang a request that queues a task: bounded connect and publish
# retries (about 3 s in all), then the caller answers 503 (exports) or logs (refresh requests).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
COURSE_INFO_REFRESH_S = env_int("COURSE_INFO_REFRESH_S", 5)
CELERY_BEAT_SCHEDULE = {
    "purge-request-metrics": {"task": "analytics.tasks.purge_request_metrics", "schedule": 24 * 3600},
    "expire-exports": {"task": "exports.tasks.expire_exports", "schedule": 15 * 60},
    # Raw activity older than each workspace's retention (docs/privacy.md).
    "prune-activity": {"task": "analytics.tasks.prune_activity", "schedule": 24 * 3600, "options": {"expires": 3600}},
    # Monthly partitions of the raw activity tables, made ahead (PostgreSQL; docs/scaling.md).
    "ensure-partitions": {
        "task": "analytics.tasks.ensure_partitions",
        "schedule": 24 * 3600,
        "options": {"expires": 3600},
    },
    # Uptime of /analytics/system/health: one check of the database and the web process a minute.
    "check-health": {"task": "analytics.tasks.check_health", "schedule": 60, "options": {"expires": 60}},
    # Open edX course information rollups: the stale courses are rebuilt every few seconds (a
    # stale course is read from the raw rows meanwhile); every course once a day, as a safety net
    # for writes that mark no course (a queryset .update(), raw SQL).
    "refresh-course-info-rollups": {
        "task": "analytics.tasks.refresh_course_info_rollups",
        "schedule": COURSE_INFO_REFRESH_S,
        "options": {"expires": COURSE_INFO_REFRESH_S},
    },
    # Analyse statistics' totals: rebuilt on a new UTC day (read from the raw rows until then).
    "refresh-result-totals": {
        "task": "analytics.tasks.refresh_result_totals",
        "schedule": 60,
        "options": {"expires": 60},
    },
    # VideoCloud summary's window totals: rebuilt on a new UTC day (VideoDay is summed until then).
    "refresh-video-windows": {
        "task": "analytics.tasks.refresh_video_windows",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "rebuild-course-info": {
        "task": "analytics.tasks.rebuild_course_info",
        "schedule": 24 * 3600,
        "options": {"expires": 3600},
    },
    "rebuild-course-activity-history": {
        "task": "analytics.tasks.rebuild_course_activity_history",
        "schedule": 3600,
        "options": {"expires": 3600},
    },
}
EXPORT_TTL_HOURS = env_int("EXPORT_TTL_HOURS", 24)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task taken by a worker that then dies (acks_late) is delivered again after this long;
        # it must exceed the longest task (docs/reliability.md).
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600),
        "socket_connect_timeout": 2,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
# Always (demo too), stated rather than left to Django's defaults; docs/security.md lists the
# test behind each. No script reads the cookies: the CSRF token reaches JavaScript in the page.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts, styles, images and fonts from this site only; no
# inline script or event handler anywhere (charts are drawn by static/js/charts.js from a JSON data
# block), inline styles only the few below, by hash. The API docs pages (config/urls.py) and DRF's
# browsable API (config/renderers.py) add what their renderers need, on their own responses only;
# why each: docs/security.md. CSP_IMG_HOSTS: extra origins for course thumbnails (an LMS's CDN), e.g.
# "https://lms.example.com"; a thumbnail from elsewhere is not loaded and the page hides it.
CSP_IMG_HOSTS = env_list("CSP_IMG_HOSTS", [])
# plotly.js adds two <style> elements when it loads: an empty one it then fills through the CSSOM
# (which CSP does not govern), and its bundled map library's CSS. Allowed by their SHA-256, so no
# other inline style passes; the second changes with plotly's version, which
# tests/browser/test_csp.py then reports as a violation. Its colour bars also reset their style
# attribute to "" before styling them through the CSSOM: an empty style attribute is allowed
# ('unsafe-hashes' with the hash of ""), any other style="" is refused.
CSP_EMPTY_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"  # SHA-256 of ""
CSP_PLOTLY_STYLE_HASHES = [
    CSP_EMPTY_HASH,
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",  # maplibre-gl's CSS in plotly.js 4.1.1
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_csp.SELF],
        "script-src": [_csp.SELF],
        "style-src": [_csp.SELF, *CSP_PLOTLY_STYLE_HASHES],
        "style-src-attr": [_csp.UNSAFE_HASHES, CSP_EMPTY_HASH],
        "img-src": [_csp.SELF, *CSP_IMG_HOSTS],
        "font-src": [_csp.SELF],
        "connect-src": [_csp.SELF],
        "object-src": [_csp.NONE],
        "base-uri": [_csp.SELF],
        "frame-ancestors": [_csp.NONE],
        "form-action": [_csp.SELF],
    }
}
# Permissions-Policy: browser features no page of the service uses, refused to it and to anything
# it could embed (config/security_headers.py).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

for _folder in (VAR_DIR, MEDIA_ROOT, STATIC_ROOT):
    _folder.mkdir(parents=True, exist_ok=True)

# plotly.js is served from the installed plotly package (analytics/staticfiles.py), not vendored.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics.staticfiles.PlotlyJsFinder",
]

# Request metrics for the VideoCloud system endpoints (analytics/middleware.py): API paths only,
# buffered in memory and written in bulk every N requests or T seconds by a background thread.
REQUEST_METRICS_ENABLED = env_bool("REQUEST_METRICS_ENABLED", True)
REQUEST_METRICS_PATH_PREFIXES = env_list(
    "REQUEST_METRICS_PATH_PREFIXES", ["/api/", "/analytics/", "/analyse/", "/xapi/"]
)
REQUEST_METRICS_BATCH_SIZE = env_int("REQUEST_METRICS_BATCH_SIZE", 200)
REQUEST_METRICS_FLUSH_SECONDS = env_int("REQUEST_METRICS_FLUSH_SECONDS", 5)
REQUEST_METRICS_BACKGROUND = env_bool("REQUEST_METRICS_BACKGROUND", True)
# Request metrics and health checks are kept this many days (analytics.tasks.purge_request_metrics);
# a system analytics period starting earlier is ANALYTICS_DATA_UNAVAILABLE.
SYSTEM_METRICS_KEEP_DAYS = env_int("SYSTEM_METRICS_KEEP_DAYS", 30)
# Seconds a web process reuses its reading of the database size (system health `resources`):
# pg_database_size walks every file of the database, ~15 ms of backend CPU on a large one.
DATABASE_SIZE_CACHE_S = env_int("DATABASE_SIZE_CACHE_S", 60)
# What the once-a-minute health check (analytics.tasks.check_health) asks besides the database:
# the web process's health probe. Empty: the database only.
HEALTH_CHECK_URL = env_str("HEALTH_CHECK_URL", "http://127.0.0.1:8000/api/health/")
HEALTH_CHECK_TIMEOUT_S = env_int("HEALTH_CHECK_TIMEOUT_S", 10)
# Rate limits per credential (API key, or user in a workspace; per IP for the token endpoints) and
# per API family: "N/s", "N/min", "N/hour", "N/day" (or "N/<k>min"); empty: no limit. Counted in
# the default cache: set CACHE_URL (Redis) when several processes serve. Why these numbers:
# docs/security.md, "Rate limits" (config/throttling.py).
TRACKING_RATE_LIMIT = env_rate("TRACKING_RATE_LIMIT", "3000/min")
IMPORT_RATE_LIMIT = env_rate("IMPORT_RATE_LIMIT", "60/min")
XAPI_RATE_LIMIT = env_rate("XAPI_RATE_LIMIT", "3000/min")
LEARNER_ANALYTICS_RATE_LIMIT = env_rate("LEARNER_ANALYTICS_RATE_LIMIT", "120/min")
COURSE_INFO_RATE_LIMIT = env_rate("COURSE_INFO_RATE_LIMIT", "800/min")
LEARNING360_RATE_LIMIT = env_rate("LEARNING360_RATE_LIMIT", "50/s")
ANALYSE_RATE_LIMIT = env_rate("ANALYSE_RATE_LIMIT", "600/min")
VIDEOCLOUD_RATE_LIMIT = env_rate("VIDEOCLOUD_RATE_LIMIT", "600/min")
EXPORT_RATE_LIMIT = env_rate("EXPORT_RATE_LIMIT", "600/min")
EXPORT_CREATE_RATE_LIMIT = env_rate("EXPORT_CREATE_RATE_LIMIT", "30/min")
AUTH_TOKEN_RATE_LIMIT = env_rate("AUTH_TOKEN_RATE_LIMIT", "20/min")
API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "1200/min")
# courses declares covering indexes (INCLUDE columns) for the Analyse queries on PostgreSQL;
# SQLite builds them with their key columns only, which is all the demo needs.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# Instructor and admin dashboards (analytics/dashboards): seconds a computed section is cached.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 120)
# A page whose heavy figures are not cached is sent at once and loads them as a fragment (JS).
DASHBOARD_DEFER_SECTIONS = env_bool("DASHBOARD_DEFER_SECTIONS", True)
