"""Records every API request (route pattern, method, status, latency) for the system endpoints."""

import time

from django.conf import settings
from django.utils import timezone

from analytics.services.request_metrics import path_template, recorder

UNMATCHED_ENDPOINT = "<unmatched>"
ENDPOINT_MAX_LENGTH = 200


def _workspace_id(response):
    """The workspace of the DRF credential that answered, without triggering authentication."""
    context = getattr(response, "renderer_context", None) or {}
    drf_request = context.get("request")
    credential = getattr(drf_request, "_auth", None)
    workspace = getattr(credential, "workspace", None)
    return getattr(workspace, "pk", None)


class RequestMetricsMiddleware:
    """Times API requests (paths under REQUEST_METRICS_PATH_PREFIXES) and hands them to the
    buffered recorder. The endpoint is the URL's path template (`/analytics/videos/{id}`), not
    the raw path, so that metrics group by endpoint and ids never leak into them; a path that
    matches no pattern is recorded as `<unmatched>`.

    Put it first in MIDDLEWARE so its latency covers every other middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.REQUEST_METRICS_PATH_PREFIXES)

    def __call__(self, request):
        if not settings.REQUEST_METRICS_ENABLED or not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        at = timezone.now()
        started = time.perf_counter()
        response = self.get_response(request)
        latency_ms = (time.perf_counter() - started) * 1000
        match = request.resolver_match
        endpoint = (
            path_template("/" + match.route)[:ENDPOINT_MAX_LENGTH]
            if match is not None and match.route
            else UNMATCHED_ENDPOINT
        )
        recorder.record(at, _workspace_id(response), request.method, endpoint, response.status_code, latency_ms)
        return response
