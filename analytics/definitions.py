"""Definitions every family, dashboard and export shares (issue 20 gathers them here).

- UTC: the one time zone days are counted in; every "day" of a figure is a UTC day, whatever
  Django's TIME_ZONE says.
- round_half_up(value): the one rounding rule of whole-number figures and imported scores
  (49.5 -> 50, unlike Python's round()).
- utc_day(field): the ORM expression of a datetime field's UTC date (a bare TruncDate would use
  the current time zone, TIME_ZONE, and move activity near midnight to another day).
- Who is a learner: a member of the workspace with the learner role, now (`learner_memberships`,
  `learner_ids`, and `is_learner_sql` for raw SQL). Admins and instructors are never counted as
  learners, whatever they did; a user whose role changes is counted by their current role.
- Which courses a user teaches: the courses of the workspace that list them as an instructor
  (`taught_courses`); `course_scope(credential)` is what a credential may read: None (every course
  of the workspace) for an admin, the taught courses for an instructor, none for an instructor API
  key (it has no person, so it teaches nothing).
"""

from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models.functions import TruncDate

from accounts.models import Membership, Role
from courses.models import Course

UTC = dt_timezone.utc


def utc_day(field):
    """The UTC date of the datetime `field`, as an ORM expression."""
    return TruncDate(field, tzinfo=UTC)


def round_half_up(value):
    """Whole number nearest to value (an int or a float), halves rounded up."""
    if isinstance(value, int):
        return value
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def learner_memberships(workspace):
    """The workspace's memberships with the learner role (a queryset of Membership)."""
    return Membership.objects.filter(workspace=workspace, role=Role.LEARNER)


def learner_ids(workspace):
    """The user ids of the workspace's learners, as a subquery."""
    return learner_memberships(workspace).order_by().values("user_id")


def is_learner_sql(alias):
    """SQL: the row `alias` (with workspace_id and user_id columns) is of a user who has the
    learner role in that workspace."""
    membership = connection.ops.quote_name(Membership._meta.db_table)
    return (
        f"EXISTS (SELECT 1 FROM {membership} m WHERE m.workspace_id = {alias}.workspace_id "
        f"AND m.user_id = {alias}.user_id AND m.role = '{Role.LEARNER.value}')"
    )


def taught_courses(workspace, user):
    """The courses of the workspace that `user` teaches (a queryset of Course; none for None)."""
    if user is None:
        return Course.objects.none()
    return Course.objects.filter(workspace=workspace, instructors=user)


def course_scope(credential):
    """The courses a credential may read: None for every course of its workspace (an admin, or a
    learner reading their own rows), else the queryset of the courses its instructor teaches."""
    if credential.role != Role.INSTRUCTOR:
        return None
    return taught_courses(credential.workspace, credential.user)
