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
- A period (`Period`, `resolve_period`): a day period `Nd` is the N whole UTC days ending today,
  today included: end = tomorrow 00:00Z, start = end - N days. An hour period `Nh` is the N whole
  UTC hours ending with the current one: end = the next hour's 00:00, start = end - N hours. `all`
  starts at 00:00Z of the UTC day of the earliest row the figure reads (no data: today only) and
  ends like a day period. The previous period has the same length and ends where the period
  starts. Callers resolve a period once (the API view, the dashboard, the export) and hand the
  Period to the query functions.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from django.db import connection
from django.db.models.functions import TruncDate

from accounts.models import Membership, Role
from analytics.queries.sql import quoted_table
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


def is_learner_sql(alias, workspace_sql=None, *, per_row=False):
    """SQL: the row `alias` (with workspace_id and user_id columns) is of a user who has the
    learner role in that workspace (workspace_sql: an SQL expression of the workspace id instead,
    such as a placeholder, for rows without a workspace_id column).

    per_row: for statements over a few rows, one index probe per row; PostgreSQL may otherwise
    hash every membership of the table for them (OFFSET 0 keeps it from turning the EXISTS into
    a hashed IN)."""
    membership = quoted_table(Membership)
    workspace_sql = workspace_sql or f"{alias}.workspace_id"
    fence = " OFFSET 0" if per_row and connection.vendor == "postgresql" else ""
    return (
        f"EXISTS (SELECT 1 FROM {membership} m WHERE m.workspace_id = {workspace_sql} "
        f"AND m.user_id = {alias}.user_id AND m.role = '{Role.LEARNER.value}'{fence})"
    )


def taught_courses(workspace, user):
    """The courses of the workspace that `user` teaches (a queryset of Course; none for None)."""
    if user is None:
        return Course.objects.none()
    return Course.objects.filter(workspace=workspace, instructors=user)


def can_read_course(credential, course):
    """Whether the credential may read `course` (a course of its workspace): every course for an
    admin, the courses they teach for an instructor (course_scope); one query for an instructor."""
    courses = course_scope(credential)
    return courses is None or courses.filter(pk=course.pk).exists()


def course_scope(credential):
    """The courses a credential may read: None for every course of its workspace (an admin, or a
    learner reading their own rows), else the queryset of the courses its instructor teaches."""
    if credential.role != Role.INSTRUCTOR:
        return None
    return taught_courses(credential.workspace, credential.user)


DAY_PERIODS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}
HOUR_PERIODS = {"1h": 1, "24h": 24}
ALL = "all"
DATA_PERIODS = (*DAY_PERIODS, ALL)
SYSTEM_PERIODS = (*HOUR_PERIODS, *DAY_PERIODS, ALL)


@dataclass(frozen=True)
class Period:
    """A window [start, end) named `name`, resolved at `now` (all UTC datetimes)."""

    name: str
    start: datetime
    end: datetime
    now: datetime

    @property
    def length(self):
        return self.end - self.start

    @property
    def previous(self):
        return Period(self.name, self.start - self.length, self.start, self.now)

    @property
    def elapsed_seconds(self):
        """Seconds of the period that have already happened (the period may end in the future)."""
        return max(0.0, (min(self.now, self.end) - self.start).total_seconds())

    @property
    def start_day(self):
        """The UTC date of the start (the first day of a day period)."""
        return self.start.astimezone(UTC).date()

    @property
    def end_day(self):
        """The UTC date of the end (the day after the last day of a day period)."""
        return self.end.astimezone(UTC).date()


def day_start(moment):
    """00:00 UTC of the UTC day of `moment`."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, UTC)


def resolve_period(name, now=None, earliest: Callable[[], datetime | None] | None = None):
    """The Period named `name` at `now` (default: the current time). `earliest()` gives the first
    data time for `all` (called only for `all`). Raises ValueError for an unknown name: callers
    check names first (the VideoCloud `validate_period_name`, the export's and dashboards' forms)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if name in HOUR_PERIODS:
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return Period(name, end - timedelta(hours=HOUR_PERIODS[name]), end, now)
    end = day_start(now) + timedelta(days=1)
    if name in DAY_PERIODS:
        return Period(name, end - timedelta(days=DAY_PERIODS[name]), end, now)
    if name == ALL:
        first = earliest() if earliest else None
        start = day_start(first) if first is not None else end - timedelta(days=1)
        return Period(name, min(start, end - timedelta(days=1)), end, now)
    raise ValueError(f"Unknown period {name!r}.")
