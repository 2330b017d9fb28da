"""Permissions-Policy on every response (Content-Security-Policy is django-csp's middleware)."""

from django.conf import settings


def permissions_policy_header(policy):
    """`{"camera": [], "fullscreen": ["self"]}` -> `camera=(), fullscreen=(self)`: the header's syntax."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


class PermissionsPolicyMiddleware:
    """Sets `Permissions-Policy` from settings.PERMISSIONS_POLICY unless the view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
