"""Who a request acts as: one workspace, one role, and a user unless it is an API key."""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .credential_cache import CachedLookup
from .models import ApiKey, Membership, Role, Workspace, hash_api_key

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)
SESSION_WORKSPACE_KEY = "workspace_id"


@dataclass(frozen=True)
class Credential:
    workspace: Workspace
    role: str
    kind: str  # "session", "jwt" or "api_key"
    user: object = None
    api_key: ApiKey | None = None

    @property
    def is_admin(self):
        return self.role == Role.ADMIN

    @property
    def is_instructor(self):
        return self.role == Role.INSTRUCTOR

    @property
    def is_learner(self):
        return self.role == Role.LEARNER


class ApiKeyPrincipal:
    """Stands in for request.user when an integration authenticates with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key):
        self.api_key = api_key

    def __str__(self):
        return f"API key {self.api_key.prefix}"


def api_key_from_raw(raw_key):
    """The active ApiKey matching raw_key, or None. Compares hashes in constant time.

    Cached by the key's hash (accounts/credential_cache.py): only keys that matched are cached,
    and a revoked key is refused on the next request. The last use is stamped at most once a
    minute, as without the cache."""
    prefix, _, secret = (raw_key or "").strip().partition(".")
    if not prefix or not secret:
        return None
    key_hash = hash_api_key(raw_key.strip())
    lookup = CachedLookup(f"credentials:api-key:{key_hash}")
    api_key = lookup.get(lambda: _active_api_key(prefix, key_hash))
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        lookup.replace(api_key)
    return api_key


def _active_api_key(prefix, key_hash):
    api_key = ApiKey.objects.active().select_related("workspace").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, key_hash):
        return None
    return api_key


def credential_for_api_key(api_key):
    return Credential(workspace=api_key.workspace, role=api_key.role, kind="api_key", api_key=api_key)


def membership_for_user(user, workspace_id=None, workspace_slug=None):
    """The user's membership in the named workspace, or their earliest one when none is named.

    Cached per user and workspace asked for (accounts/credential_cache.py); the user comes with
    it, without the password hash (which no credential reads)."""
    user_id = getattr(user, "pk", user)
    lookup = CachedLookup(f"credentials:membership:{user_id}:{workspace_id}:{workspace_slug}")
    return lookup.get(lambda: _membership(user_id, workspace_id, workspace_slug))


def _membership(user_id, workspace_id, workspace_slug):
    memberships = Membership.objects.select_related("workspace", "user").defer("user__password")
    memberships = memberships.filter(user_id=user_id)
    if workspace_id is not None:
        memberships = memberships.filter(workspace_id=workspace_id)
    if workspace_slug is not None:
        memberships = memberships.filter(workspace__slug=workspace_slug)
    return memberships.order_by("joined_at", "id").first()


def credential_for_membership(membership, kind):
    return Credential(workspace=membership.workspace, role=membership.role, kind=kind, user=membership.user)


def membership_for_session(request):
    """The logged-in user's membership for this browser session (cached on the request).

    The workspace chosen in the session, else the user's earliest membership; None when the user
    belongs to no workspace or is not logged in.
    """
    if not hasattr(request, "_session_membership"):
        membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            workspace_id = request.session.get(SESSION_WORKSPACE_KEY)
            if workspace_id:
                membership = membership_for_user(user, workspace_id=workspace_id)
            membership = membership or membership_for_user(user)
        request._session_membership = membership
    return request._session_membership
