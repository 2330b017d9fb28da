"""Password logins outside the login page count against allauth's failed-login limits.

ACCOUNT_RATE_LIMITS["login_failed"] ("10/m/ip,5/5m/key" by default) guards the login form; the
bearer-token endpoint takes the same email and password, so it goes through the same allauth
adapter: five failures for one email lock that email on both (docs/security.md).
"""

from allauth.account.adapter import get_adapter
from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.exceptions import APIException


class TooManyLoginAttempts(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed login attempts. Try again later."
    default_code = "too_many_login_attempts"


def authenticate_with_login_limit(request, email, password):
    """The user with this email and password, or None; TooManyLoginAttempts (429) while the
    email or the client IP is over the failed-login limit (the right password included)."""
    try:
        return get_adapter(request).authenticate(request, email=email, password=password)
    except ValidationError as exc:
        if exc.code != "too_many_login_attempts":
            raise
        raise TooManyLoginAttempts() from exc
