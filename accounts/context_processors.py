from .credentials import membership_for_session


def workspace(request):
    membership = membership_for_session(request)
    return {
        "current_membership": membership,
        "current_workspace": membership.workspace if membership else None,
    }
