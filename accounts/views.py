from django.shortcuts import redirect

from .credentials import membership_for_session
from .models import Role


def home(request):
    """Send a visitor to login, a learner to their dashboard, staff roles to the dashboards."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    membership = membership_for_session(request)
    if membership is not None and membership.role in (Role.ADMIN, Role.INSTRUCTOR):
        return redirect("workspace_dashboard")
    if membership is None and request.user.is_staff:
        return redirect("admin:index")
    return redirect("learner_dashboard")
