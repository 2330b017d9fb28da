from rest_framework.permissions import BasePermission

from .credentials import Credential
from .models import Role


class IsWorkspaceMember(BasePermission):
    """Any credential that acts in a workspace."""

    message = "This credential does not act in any workspace."

    def has_permission(self, request, view):
        return isinstance(request.auth, Credential)


def roles_allowed(*roles, api_keys=True):
    """A permission class letting through credentials of the given roles.

    api_keys=False refuses API keys whatever their role (endpoints that need a person).
    """

    class HasRole(IsWorkspaceMember):
        message = f"This endpoint needs the role {' or '.join(roles)}."

        def has_permission(self, request, view):
            credential = request.auth
            if not isinstance(credential, Credential) or credential.role not in roles:
                return False
            return api_keys or credential.kind != "api_key"

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole


IsAdmin = roles_allowed(Role.ADMIN)
IsInstructorOrAdmin = roles_allowed(Role.INSTRUCTOR, Role.ADMIN)
IsLearnerUser = roles_allowed(Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN, api_keys=False)
