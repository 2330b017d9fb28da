from csp.constants import NONCE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

# perfect-scrollbar's CSS, which Redoc's bundle injects before it reads the nonce (the other such
# <style> is empty: the site policy's CSP_EMPTY_HASH already allows it).
REDOC_STYLE_HASHES = ["'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "api/docs/",
        # Swagger UI: its start-up script served as a file (no inline script); its stylesheet draws
        # icons as data: SVG images, allowed on this page only (docs/security.md).
        csp_update({"img-src": ["data:"]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[], authentication_classes=[])
        ),
        name="swagger-ui",
    ),
    path(
        "api/redoc/",
        # Redoc (docs/security.md): the <style> elements it injects carry this response's nonce
        # (templates/drf_spectacular/redoc.html), except two its bundle adds before it reads the
        # nonce, allowed by their hashes (the hash changes with drf-spectacular-sidecar, which
        # tests/browser/test_csp.py then reports); its search runs in a worker made from a blob:
        # URL; its icons are data: SVG images.
        csp_update(
            {
                "style-src": [NONCE, *REDOC_STYLE_HASHES],
                "worker-src": ["blob:"],
                "img-src": ["data:"],
            }
        )(SpectacularRedocView.as_view(url_name="schema", permission_classes=[], authentication_classes=[])),
        name="redoc",
    ),
    path("", include("accounts.urls")),
    path("", include("courses.urls")),
    path("", include("analytics.urls")),
    path("", include("exports.urls")),
    path("", include("privacy.urls")),
]
