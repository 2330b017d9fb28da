"""Course attempt statistics and the user directory, as 360Learning's APIs list them.

Pages are keyset-paginated: rows come in primary-key order and a page continues after the key
of the previous page's last row, so page 1,000 costs what page 1 costs. Each page is one query
that fetches `limit + 1` rows; the extra row only says whether there is a next page.
"""

from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, CharField, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce, NullIf

from accounts.models import Membership
from analytics.formats import IsoMsZText
from courses.models import Attempt, Course

from .bracket_filters import EQUALITY_OPERATORS, FilterField, conditions_q

PAGE_SIZE = 500
DEFAULT_LANG = "en"

# Public filter names of the attempts page (360Learning's names) -> ORM lookup and value kind.
ATTEMPT_FILTERS = {
    "courseId": FilterField("course__key", "string"),
    "userId": FilterField("user__public_id", "object_id"),
    "completedAt": FilterField("completed_at", "datetime"),
    "firstActivityAt": FilterField("first_activity_at", "datetime"),
    "lastActivityAt": FilterField("last_activity_at", "datetime"),
    "progress": FilterField("progress", "integer"),
    "score": FilterField("score", "integer"),
}

# The users page runs over memberships of the workspace, hence the `user__` lookups.
USER_STATUS_CHOICES = {
    "active": Q(user__is_active=True),
    "deleted": Q(user__is_active=False),
    "invited": Q(pk__in=[]),  # accepted for compatibility; this service has no invited state
}
USER_FILTERS = {
    "mail": FilterField("user__email", "email", operators=EQUALITY_OPERATORS),
    "status": FilterField("", "choice", operators=EQUALITY_OPERATORS, choices=USER_STATUS_CHOICES),
}


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows; `next_after` is the key to continue after, None on the last page."""

    rows: list
    next_after: int | None


def _keyset_page(queryset, key, after, limit):
    if after is not None:
        queryset = queryset.filter(**{f"{key}__gt": after})
    rows = list(queryset.order_by(key)[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return KeysetPage(rows=rows, next_after=rows[-1][key])
    return KeysetPage(rows=rows, next_after=None)


ATTEMPT_TIMES = {name: name for name in ("first_activity_at", "last_activity_at", "completed_at")}


def _times(names, as_text):
    """The timestamp columns `names` ({name: path}) as values()' keyword expressions: datetimes
    under their names, or with as_text iso_ms_z's text written by the database (IsoMsZText)
    under `<name>_text`."""
    if as_text:
        return {f"{name}_text": IsoMsZText(path) for name, path in names.items()}
    return {name: F(path) for name, path in names.items() if name != path}


def _attempt_rows(queryset, timestamps_as_text=False):
    """Attempt rows as plain dicts: the attempt's own fields plus the course key and user id.

    `time_spent_ms` is the stored seconds times 1000 (360Learning reports milliseconds; the
    product is computed as a bigint so that no stored value can overflow);
    `lang` falls back to DEFAULT_LANG when the attempt has none; empty path ids are None.
    The times are datetimes, or with timestamps_as_text 360Learning's text under `<name>_text`
    (the API: no datetime parsed and formatted per value; _times).
    """
    return queryset.values(
        "id",
        "public_id",
        "version_number",
        "progress",
        "score",
        *(() if timestamps_as_text else ATTEMPT_TIMES),
        **_times(ATTEMPT_TIMES, timestamps_as_text),
        course_key=F("course__key"),
        user_public_id=F("user__public_id"),
        lang_code=Coalesce(NullIf(F("lang"), Value("")), Value(DEFAULT_LANG), output_field=CharField()),
        time_spent_ms=Cast("time_spent_s", BigIntegerField()) * 1000,
        path_public_id=NullIf(F("path_id"), Value("")),
        path_session_public_id=NullIf(F("path_session_id"), Value("")),
    )


def attempts_page(workspace, conditions=(), after=None, limit=PAGE_SIZE, *, timestamps_as_text=False):
    """One page of the workspace's attempts that satisfy every condition, by attempt id.

    `conditions` come from parsing ATTEMPT_FILTERS; `after` is the previous page's
    `next_after` (None for the first page). Rows: see _attempt_rows; `id` is the keyset key.
    One query (attempt joined to its course and user).
    """
    queryset = Attempt.objects.filter(workspace=workspace).filter(conditions_q(conditions))
    return _keyset_page(_attempt_rows(queryset, timestamps_as_text), "id", after, limit)


def users_page(workspace, conditions=(), after=None, limit=PAGE_SIZE, *, timestamps_as_text=False):
    """One page of the workspace's members that satisfy every condition, by user id.

    `conditions` come from parsing USER_FILTERS. Rows: `user_id` (the keyset key),
    `public_id`, `email`, `first_name`/`last_name` (None when blank), `status` (`active`, or
    `deleted` for a deactivated account), `lang` (always DEFAULT_LANG: no language is stored)
    and `last_login` (`last_login_text` with timestamps_as_text, see _attempt_rows). One query over
    memberships, which are unique per (workspace, user).
    """
    queryset = (
        Membership.objects.filter(workspace=workspace)
        .filter(conditions_q(conditions))
        .values(
            "user_id",
            public_id=F("user__public_id"),
            email=F("user__email"),
            first_name=NullIf(F("user__first_name"), Value("")),
            last_name=NullIf(F("user__last_name"), Value("")),
            status=Case(When(user__is_active=True, then=Value("active")), default=Value("deleted")),
            lang=Value(DEFAULT_LANG),
            **_times({"last_login": "user__last_login"}, timestamps_as_text),
        )
    )
    return _keyset_page(queryset, "user_id", after, limit)


class CourseNotFound(LookupError):
    pass


class UserNotFound(LookupError):
    pass


def user_course_attempts(workspace, course_key, email, *, timestamps_as_text=False):
    """Every attempt of one user (by email, case-insensitive) at one course (by key), by id.

    Same rows as attempts_page. Raises CourseNotFound when the workspace has no such course,
    UserNotFound when no member of the workspace has that email; a member without attempts
    gets an empty list. One query when there are attempts, up to three when there are none.
    """
    email = email.strip().lower()
    queryset = Attempt.objects.filter(workspace=workspace, course__key=course_key, user__email=email)
    rows = list(_attempt_rows(queryset, timestamps_as_text).order_by("id"))
    if not rows:
        if not Course.objects.filter(workspace=workspace, key=course_key).exists():
            raise CourseNotFound(course_key)
        if not Membership.objects.filter(workspace=workspace, user__email=email).exists():
            raise UserNotFound(email)
    return rows
