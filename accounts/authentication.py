"""DRF authentication classes. Each returns (user, Credential) so views read request.auth."""

from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from .credentials import (
    ApiKeyPrincipal,
    api_key_from_raw,
    credential_for_api_key,
    credential_for_membership,
    membership_for_session,
    membership_for_user,
)

JWT_WORKSPACE_CLAIM = "workspace"


def authenticate_raw_api_key(raw_key):
    api_key = api_key_from_raw(raw_key)
    if api_key is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    return ApiKeyPrincipal(api_key), credential_for_api_key(api_key)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        if not raw_key.strip():
            raise exceptions.AuthenticationFailed("Empty API key.")
        return authenticate_raw_api_key(raw_key)

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyQueryParamAuthentication(authentication.BaseAuthentication):
    """`?apiKey=<key>`, for the documents that put the key in the URL (360Learning v1)."""

    def authenticate(self, request):
        raw_key = request.query_params.get("apiKey")
        if raw_key is None:
            return None
        return authenticate_raw_api_key(raw_key)

    def authenticate_header(self, request):
        return "Api-Key"


class WorkspaceJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <JWT>`; the token's `workspace` claim picks the workspace.

    The user comes with the membership (one cached lookup, accounts/credential_cache.py) rather
    than from simplejwt's own user query; whenever that lookup finds no active member, simplejwt's
    checks run as before and answer their own errors."""

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        membership = self._active_membership(token)
        if membership is None:
            user = self.get_user(token)
            membership = membership_for_user(user, workspace_slug=token.get(JWT_WORKSPACE_CLAIM))
            if membership is None:
                raise exceptions.AuthenticationFailed("The token's user is not a member of its workspace.")
        return membership.user, credential_for_membership(membership, kind="jwt")

    def _active_membership(self, token):
        """The token's user's membership in the token's workspace when the user is active and
        nothing else of simplejwt's checks applies; else None."""
        user_id = token.get(jwt_settings.USER_ID_CLAIM)
        if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
            user_id = int(user_id)  # simplejwt writes the id as a string
        if jwt_settings.CHECK_REVOKE_TOKEN or jwt_settings.USER_ID_FIELD != "id" or type(user_id) is not int:
            return None
        membership = membership_for_user(user_id, workspace_slug=token.get(JWT_WORKSPACE_CLAIM))
        if membership is None or not membership.user.is_active:
            return None
        return membership


class WorkspaceSessionAuthentication(authentication.SessionAuthentication):
    """Browser session; the workspace chosen in the session, else the user's first one."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        membership = membership_for_session(request._request)
        if membership is None:
            return user, None
        return user, credential_for_membership(membership, kind="session")
