"""Who may see what: the dashboards are for a workspace's admins (every course) and instructors
(the courses they teach, analytics.definitions.course_scope, as the APIs decide it); learners and
users without a workspace get a 403 page, an unknown course a 404 page."""

from dataclasses import dataclass

from django.shortcuts import render

from accounts.credentials import Credential, credential_for_membership, membership_for_session
from accounts.models import Role
from analytics.definitions import can_read_course, course_scope
from courses.models import Course


def refuse(request, reason, status=403):
    return render(
        request, "analytics/dashboards/refused.html", {"reason": reason, "response_status": status}, status=status
    )


@dataclass(frozen=True)
class Viewer:
    """An admin or an instructor looking at the dashboards, as the APIs see a credential: an
    admin sees every course of the workspace, an instructor the courses they teach
    (analytics.definitions.course_scope)."""

    credential: Credential

    @property
    def workspace(self):
        return self.credential.workspace

    @property
    def is_admin(self):
        return self.credential.is_admin

    @property
    def course_ids(self):
        """The course scope of the queries: None for the whole workspace, else a Course queryset."""
        return course_scope(self.credential)

    @property
    def scope_key(self):
        """What cached sections are keyed by besides their parts: None for the whole workspace,
        else the instructor's user id (instructors see different courses)."""
        return None if self.is_admin else self.credential.user.pk


def staff_viewer(request):
    """(viewer, None) for an admin or instructor, else (None, a 403 response)."""
    membership = membership_for_session(request)
    if membership is None:
        return None, refuse(request, "Your account does not belong to a workspace.")
    if membership.role not in (Role.ADMIN, Role.INSTRUCTOR):
        return None, refuse(
            request,
            "The course and workspace dashboards are for instructors and administrators. "
            "Your own learning is on “My learning”.",
        )
    return Viewer(credential_for_membership(membership, "session")), None


def course_for(request, viewer, key):
    """(course, None) or (None, a 404 / 403 response)."""
    course = Course.objects.filter(workspace=viewer.workspace, key=key).first()
    if course is None:
        return None, refuse(request, f"There is no course “{key}” in this workspace.", status=404)
    if not can_read_course(viewer.credential, course):
        return None, refuse(request, "Instructors see the dashboards of the courses they teach only.")
    return course, None
