from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is closed by default: workspaces add their users (admin, import, LMS sync)."""

    def is_open_for_signup(self, request):
        return settings.ACCOUNT_ALLOW_SIGNUP
