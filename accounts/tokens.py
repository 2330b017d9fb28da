from rest_framework_simplejwt.tokens import RefreshToken

from .authentication import JWT_WORKSPACE_CLAIM


def issue_tokens(user, workspace):
    """A refresh token and its access token for `user` acting in `workspace`."""
    refresh = RefreshToken.for_user(user)
    refresh[JWT_WORKSPACE_CLAIM] = workspace.slug
    return refresh, refresh.access_token
