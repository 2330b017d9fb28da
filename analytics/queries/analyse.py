"""Skillhabit "Analyse" results: one row per learner and content, their filters and statistics.

The row set (`analyse_results`) is one queryset, a UNION ALL of two halves that never overlap:

* attempt rows: each learner's latest attempt of a course (highest version_number), LEFT JOINed to the learner's active enrollment in that course. Without an active
  enrollment the row's enrollment type is NOT_ENROLLED.
* enrollment rows: active enrollments of learners with no attempt at all in that course, shown as
  NOT_STARTED with progress 0.

So every (learner, course) pair with an attempt or an active enrollment appears exactly once.
Filters are applied inside each half (the ORM cannot filter a union afterwards), so the database
sees them before it builds the union. Pages and counts are ORM queries on the union; statistics
aggregate over the union's SQL in `_aggregate_results` (the ORM cannot GROUP BY over a union).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Lookup,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Lower, NullIf, Trim
from django.utils import timezone

from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, User
from courses.models import Attempt, AttemptState, Course, Enrollment, EnrollmentKind

NOT_ENROLLED = "NOT_ENROLLED"
RESULT_STATES = [state.value for state in AttemptState]  # NOT_STARTED ... EXPIRED, document order
ENROLLMENT_TYPES = [EnrollmentKind.MANDATORY.value, EnrollmentKind.OPTIONAL.value, NOT_ENROLLED]
CONTENT_TYPE_COURSE = "COURSE"
BY_CONTENT_LIMIT = 20

# Public order names -> the union column they sort on. Text sorts are case-insensitive.
ORDER_COLUMNS = {
    "updatedAt": "activity_at",
    "progress": "progress_pct",
    "score": "score_pct",
    "userName": "user_sort",
    "contentName": "content_sort",
    "state": "state_rank",
}
# Every row is one (learner, course) pair, so these two make any order total and pages stable.
TIEBREAK_COLUMNS = ("user_pk", "course_pk")


@dataclass(frozen=True)
class DateRange:
    """`start` included, `end` excluded; either may be None (open end)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class CustomFieldFilter:
    field_id: str  # CustomField.public_id
    values: tuple[str, ...]


@dataclass(frozen=True)
class ResultFilters:
    """The `filters` object of a request. Empty tuples and None mean "no filter".

    Ids are public ids: LearnerGroup.public_id, User.public_id, Course.key, CustomField.public_id.
    """

    group_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    content_ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    enrollment_types: tuple[str, ...] = ()
    custom_fields: tuple[CustomFieldFilter, ...] = ()
    updated_at: DateRange | None = None
    expiry: DateRange | None = None


@dataclass(frozen=True)
class ResultOrder:
    field: str = "updatedAt"  # a key of ORDER_COLUMNS
    descending: bool = True


def _later_of(first, second):
    """The later of two nullable datetimes, ignoring a NULL (GREATEST differs on SQLite)."""
    return Case(
        When(**{f"{first}__isnull": True}, then=F(second)),
        When(**{f"{second}__isnull": True}, then=F(first)),
        When(**{f"{second}__gt": F(first)}, then=F(second)),
        default=F(first),
        output_field=DateTimeField(),
    )


def _state_rank():
    return Case(
        *[When(effective_state=state, then=Value(rank)) for rank, state in enumerate(RESULT_STATES)],
        output_field=IntegerField(),
    )


def _is_active_enrollment(prefix, now):
    """Enrollment still running at `now` (never unenrolled, or unenrolled in the future)."""
    return Q(**{f"{prefix}unenrolled_at__isnull": True}) | Q(**{f"{prefix}unenrolled_at__gt": now})


# The columns of a result row, in the same order in both halves of the union. The sort-only
# columns (state_rank, user_sort, content_sort) are selected only when a page sorts on them.
RESULT_COLUMNS = (
    "user_pk",
    "course_pk",
    "attempt_public_id",
    "user_public_id",
    "user_email",
    "user_name",
    "user_avatar",
    "course_key",
    "course_title",
    "enrollment_type",
    "effective_state",
    "progress_pct",
    "score_pct",
    "time_spent",
    "started_at",
    "finished_at",
    "certificate_at",
    "expiry_at",
    "activity_at",
)


def _user_name():
    full_name = NullIf(Trim(Concat(F("user__first_name"), Value(" "), F("user__last_name"))), Value(""))
    return Coalesce(full_name, F("user__email"), output_field=CharField())


# Columns that only describe a row (they join users or courses): added only when selected, so
# that a count or the statistics do not join tables they do not need.
DESCRIPTIVE_COLUMNS = {
    "user_public_id": lambda: F("user__public_id"),
    "user_email": lambda: F("user__email"),
    "user_name": _user_name,
    "user_avatar": lambda: F("user__avatar_url"),
    "user_sort": lambda: Lower(_user_name()),
    "course_key": lambda: F("course__key"),
    "course_title": lambda: F("course__title"),
    "content_sort": lambda: Lower(F("course__title")),
}


def _with_columns(queryset, columns):
    """Add the descriptive and rank columns among `columns`, then select exactly `columns`."""
    extra = {name: DESCRIPTIVE_COLUMNS[name]() for name in columns if name in DESCRIPTIVE_COLUMNS}
    if "state_rank" in columns:
        extra["state_rank"] = _state_rank()
    return queryset.annotate(**extra).values(*columns)


def _attempt_half(workspace, now):
    """Latest attempt per (learner, course), with the active enrollment's type and expiry.

    "Latest" is the highest version_number: (user, course, version_number) is unique, so no
    two attempts of a pair tie on it (and the anti-join stays an index-only scan of that
    constraint's index). The enrollment is joined through the user on (user, course), the
    columns of its unique index.
    """
    newer_attempt = Attempt.objects.filter(
        user_id=OuterRef("user_id"), course_id=OuterRef("course_id"), version_number__gt=OuterRef("version_number")
    )
    enrollment_prefix = "user__enrollments__"
    return (
        Attempt.objects.filter(workspace=workspace)
        .filter(~Exists(newer_attempt))
        .alias(
            active_enrollment=FilteredRelation(
                "user__enrollments",
                condition=Q(user__enrollments__course=F("course")) & _is_active_enrollment(enrollment_prefix, now),
            ),
        )
        .annotate(
            user_pk=F("user_id"),
            course_pk=F("course_id"),
            attempt_public_id=F("public_id"),
            enrollment_type=Coalesce(F("active_enrollment__kind"), Value(NOT_ENROLLED), output_field=CharField()),
            expiry_at=Coalesce(F("active_enrollment__expires_at"), F("expires_at"), output_field=DateTimeField()),
            progress_pct=F("progress"),
            score_pct=F("score"),
            time_spent=F("time_spent_s"),
            started_at=F("first_activity_at"),
            finished_at=F("completed_at"),
            certificate_at=F("certificate_issued_at"),
            activity_at=Coalesce(
                _later_of("last_activity_at", "completed_at"),
                F("first_activity_at"),
                F("active_enrollment__enrolled_at"),
                F("created_at"),
                output_field=DateTimeField(),
            ),
        )
        .annotate(effective_state=_effective_state(now, stored_state="state"))
    )


def _enrollment_half(workspace, now):
    """Active enrollments without any attempt: NOT_STARTED, progress 0, updated at enrollment."""
    any_attempt = Attempt.objects.filter(user_id=OuterRef("user_id"), course_id=OuterRef("course_id"))
    return (
        Enrollment.objects.filter(workspace=workspace)
        .filter(_is_active_enrollment("", now))
        .filter(~Exists(any_attempt))
        .annotate(
            user_pk=F("user_id"),
            course_pk=F("course_id"),
            attempt_public_id=Value(None, output_field=CharField()),
            enrollment_type=F("kind"),
            expiry_at=F("expires_at"),
            progress_pct=Value(0, output_field=IntegerField()),
            score_pct=Value(None, output_field=IntegerField()),
            time_spent=Value(0, output_field=IntegerField()),
            started_at=Value(None, output_field=DateTimeField()),
            finished_at=Value(None, output_field=DateTimeField()),
            certificate_at=Value(None, output_field=DateTimeField()),
            activity_at=F("enrolled_at"),
        )
        .annotate(effective_state=_effective_state(now))
    )


def _effective_state(now, stored_state=None):
    """EXPIRED when past the expiry date and not APPROVED; the stored state otherwise.

    stored_state None means the half has no attempt (always NOT_STARTED before expiry).
    """
    if stored_state is None:
        is_expired = Q(expiry_at__lt=now)
        default = Value(AttemptState.NOT_STARTED.value)
    else:
        is_expired = Q(expiry_at__lt=now) & ~Q(state=AttemptState.APPROVED)
        default = F(stored_state)
    return Case(When(is_expired, then=Value(AttemptState.EXPIRED.value)), default=default, output_field=CharField())


def _in_range(queryset, column, date_range):
    if date_range is None:
        return queryset
    if date_range.start is not None:
        queryset = queryset.filter(**{f"{column}__gte": date_range.start})
    if date_range.end is not None:
        queryset = queryset.filter(**{f"{column}__lt": date_range.end})
    return queryset


class InIdsOf(Lookup):
    """`column IN (subquery)`, written on PostgreSQL as `column = ANY(ARRAY(subquery))`.

    The planner runs such a subquery once, first, and then reaches the rows through the
    column's index. With a plain IN it estimates the subquery's size from column statistics,
    which for intersections of groups and custom-field values is off by orders of magnitude,
    and it then hashes the whole workspace's attempts (seconds instead of milliseconds).
    """

    lookup_name = "in_ids_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(ARRAY{rhs_sql})", (*lhs_params, *rhs_params)
        return f"{lhs_sql} IN {rhs_sql}", (*lhs_params, *rhs_params)


def _learners_matching(workspace, filters):
    """The ids of users passing every learner-level filter (groups, users, custom fields), or
    None when there is none. One subquery, so the database narrows the learners first."""
    if not (filters.group_ids or filters.user_ids or filters.custom_fields):
        return None
    learners = User.objects.all()
    if filters.group_ids:
        members = LearnerGroup.members.through.objects.filter(
            learnergroup__workspace=workspace, learnergroup__public_id__in=filters.group_ids
        ).values("user_id")
        learners = learners.filter(id__in=members)
    if filters.user_ids:
        learners = learners.filter(public_id__in=filters.user_ids)
    for custom_field in filters.custom_fields:
        holders = CustomFieldValue.objects.filter(
            field__workspace=workspace, field__public_id=custom_field.field_id, value__in=custom_field.values
        ).values("user_id")
        learners = learners.filter(id__in=holders)
    return learners.order_by().values("id")


def _courses_matching(workspace, filters, instructor):
    """The ids of courses passing the content filter and the instructor's scope, or None."""
    if not filters.content_ids and instructor is None:
        return None
    courses = Course.objects.filter(workspace=workspace)
    if filters.content_ids:
        courses = courses.filter(key__in=filters.content_ids)
    if instructor is not None:
        courses = courses.filter(instructors=instructor)
    return courses.order_by().values("id")


def _filtered(queryset, workspace, filters, instructor):
    """Apply the request filters (AND between filters, OR inside one) to one half."""
    learners = _learners_matching(workspace, filters)
    if learners is not None:
        queryset = queryset.filter(InIdsOf(F("user_id"), learners))
    courses = _courses_matching(workspace, filters, instructor)
    if courses is not None:
        # Courses are few and keyed uniquely, so the planner estimates this IN well as it is.
        queryset = queryset.filter(course_id__in=courses)
    if filters.states:
        queryset = queryset.filter(effective_state__in=filters.states)
    if filters.enrollment_types:
        queryset = queryset.filter(enrollment_type__in=filters.enrollment_types)
    queryset = _in_range(queryset, "activity_at", filters.updated_at)
    return _in_range(queryset, "expiry_at", filters.expiry)


def _enrollment_half_can_match(filters):
    """False when the filters exclude every enrollment-only row (saves the database a scan)."""
    if filters.states and not set(filters.states) & {AttemptState.NOT_STARTED, AttemptState.EXPIRED}:
        return False
    if filters.enrollment_types and set(filters.enrollment_types) <= {NOT_ENROLLED}:
        return False
    return True


def analyse_results(workspace, filters=ResultFilters(), *, instructor=None, now=None, columns=RESULT_COLUMNS):
    """The Analyse result rows of `workspace` matching `filters`, as ONE unordered queryset of dicts.

    One row per (learner, course): the learner's latest attempt (highest version_number) with
    the type of their active enrollment, or NOT_ENROLLED when they have none; plus NOT_STARTED rows (progress 0) for active enrollments without any attempt.
    Rules: `effective_state` is EXPIRED when `expiry_at` (the enrollment's expiry, else the
    attempt's) is before `now` and the stored state is not APPROVED; `activity_at` (updatedAt) is
    the later of last activity and completion, else first activity, else the enrollment date.
    An enrollment counts as active while unenrolled_at is empty or in the future.
    `instructor` limits the rows to the courses that user teaches. `columns` picks the
    columns to select (RESULT_COLUMNS and the sort columns of ORDER_COLUMNS), the same order in
    both halves.
    """
    now = now or timezone.now()
    attempt_rows = _with_columns(_filtered(_attempt_half(workspace, now), workspace, filters, instructor), columns)
    if not _enrollment_half_can_match(filters):
        return attempt_rows
    enrollment_rows = _with_columns(_filtered(_enrollment_half(workspace, now), workspace, filters, instructor), columns)
    return attempt_rows.union(enrollment_rows, all=True)


def result_id(row):
    """The public id of a result: its attempt's public_id, or for an enrollment without attempt a
    stable 24-hex id derived from the learner and the course (it becomes the attempt's id once
    the learner starts)."""
    if row["attempt_public_id"]:
        return row["attempt_public_id"]
    digest = hashlib.sha1(f"{row['user_public_id']}/{row['course_key']}".encode()).hexdigest()
    return digest[:24]


@dataclass(frozen=True)
class Page:
    total: int
    rows: list


def analyse_results_page(workspace, filters, order=ResultOrder(), *, limit=50, skip=0, instructor=None, now=None):
    """One page of `analyse_results` in `order` plus the total: exactly two queries.

    NULLs (a missing score) sort last in both directions; ties are broken by learner then course,
    so consecutive pages neither repeat nor skip rows. Each row gains `result_id`.
    """
    now = now or timezone.now()  # one instant for the page and its count
    sort_column = ORDER_COLUMNS[order.field]
    columns = RESULT_COLUMNS if sort_column in RESULT_COLUMNS else (*RESULT_COLUMNS, sort_column)
    rows = analyse_results(workspace, filters, instructor=instructor, now=now, columns=columns)
    column = F(sort_column)
    primary = column.desc(nulls_last=True) if order.descending else column.asc(nulls_last=True)
    page = list(rows.order_by(primary, *TIEBREAK_COLUMNS)[skip : skip + limit])
    for row in page:
        row["result_id"] = result_id(row)
    # The count selects one column: the filters are the same, the database computes less.
    total = analyse_results(workspace, filters, instructor=instructor, now=now, columns=("user_pk",)).count()
    return Page(total=total, rows=page)


_STATISTICS_COLUMNS = (
    "course_pk",
    "course_key",
    "course_title",
    "effective_state",
    "enrollment_type",
    "progress_pct",
    "score_pct",
    "time_spent",
    "certificate_at",
)


def _aggregate_results(rows, select_sql, select_params=(), tail_sql=""):
    """`SELECT <select_sql> FROM (<rows>) AS results <tail_sql>`: all rows of that one query.

    Raw SQL because the ORM cannot aggregate or GROUP BY over a union; the union itself is still
    compiled by the ORM, so filters and scoping stay in one place.
    """
    inner_sql, inner_params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_sql} FROM ({inner_sql}) AS results {tail_sql}",
            (*select_params, *inner_params),
        )
        return cursor.fetchall()


def _count_per(column, values):
    sql = ", ".join(f"SUM(CASE WHEN {column} = %s THEN 1 ELSE 0 END)" for _ in values)
    return sql, tuple(values)


def _rounded(value, digits):
    return None if value is None else round(float(value), digits)


def analyse_statistics(workspace, filters=ResultFilters(), *, instructor=None, now=None):
    """Totals over the rows `analyse_results` returns for the same filters (two queries).

    total; byState (all five states, zeros included); byEnrollmentType (MANDATORY, OPTIONAL,
    NOT_ENROLLED); averageProgress over all rows (0 when there are none); averageScore over rows
    with a score (None when none has one); completionRate = APPROVED rows / total (0 when total
    is 0); certificatesIssued = rows with a certificate date; totalTimeSpent in seconds; byContent:
    the 20 contents with most rows (ties by name then key), each with its byState.
    """
    rows = analyse_results(workspace, filters, instructor=instructor, now=now, columns=_STATISTICS_COLUMNS)
    state_sql, state_params = _count_per("effective_state", RESULT_STATES)
    type_sql, type_params = _count_per("enrollment_type", ENROLLMENT_TYPES)
    (summary,) = _aggregate_results(
        rows,
        f"COUNT(*), {state_sql}, {type_sql}, AVG(progress_pct), AVG(score_pct), "
        "SUM(CASE WHEN certificate_at IS NOT NULL THEN 1 ELSE 0 END), SUM(time_spent)",
        (*state_params, *type_params),
    )
    total = summary[0]
    by_state = dict(zip(RESULT_STATES, (int(n or 0) for n in summary[1:6])))
    by_type = dict(zip(ENROLLMENT_TYPES, (int(n or 0) for n in summary[6:9])))
    average_progress, average_score, certificates, time_spent = summary[9:13]

    content_rows = _aggregate_results(
        rows,
        f"course_key, course_title, COUNT(*) AS total, {state_sql}",
        state_params,
        "GROUP BY course_pk, course_key, course_title ORDER BY total DESC, LOWER(course_title), course_key "
        f"LIMIT {BY_CONTENT_LIMIT}",
    )
    return {
        "total": total,
        "by_state": by_state,
        "by_enrollment_type": by_type,
        "average_progress": _rounded(average_progress, 2) if total else 0,
        "average_score": _rounded(average_score, 2),
        "completion_rate": round(by_state[AttemptState.APPROVED] / total, 4) if total else 0,
        "certificates_issued": int(certificates or 0),
        "total_time_spent": int(time_spent or 0),
        "by_content": [
            {
                "id": key,
                "name": title,
                "total": count,
                "by_state": dict(zip(RESULT_STATES, (int(n or 0) for n in counts))),
            }
            for key, title, count, *counts in content_rows
        ],
    }


# Lookups: what a client filters by. Each is one count plus one page query (custom fields: +1).


def _page(queryset, limit, skip):
    return Page(total=queryset.count(), rows=list(queryset[skip : skip + limit]))


def analyse_groups(workspace, *, search="", limit=50, skip=0):
    """Groups of the workspace whose name contains `search` (case-insensitive), by name, with
    their member count."""
    groups = LearnerGroup.objects.filter(workspace=workspace)
    if search:
        groups = groups.filter(name__icontains=search)
    total = groups.count()
    rows = (
        groups.annotate(members_count=Count("members"))
        .order_by("name", "id")
        .values("public_id", "name", "members_count")[skip : skip + limit]
    )
    return Page(total=total, rows=list(rows))


def analyse_custom_fields(workspace, *, search="", limit=50, skip=0):
    """Custom fields whose name contains `search`, by name, each with the distinct non-empty
    values its users hold (sorted): the values a customFields filter can match."""
    fields = CustomField.objects.filter(workspace=workspace)
    if search:
        fields = fields.filter(name__icontains=search)
    page = _page(fields.order_by("name", "id").values("id", "public_id", "name"), limit, skip)
    known = (
        CustomFieldValue.objects.filter(field_id__in=[row["id"] for row in page.rows])
        .exclude(value="")
        .values_list("field_id", "value")
        .distinct()
        .order_by("field_id", "value")
    )
    values_by_field = {}
    for field_id, value in known:
        values_by_field.setdefault(field_id, []).append(value)
    for row in page.rows:
        row["values"] = values_by_field.get(row.pop("id"), [])
    return page


def analyse_contents(workspace, *, search="", limit=50, skip=0, instructor=None):
    """Courses (all of the workspace, or those `instructor` teaches) whose title or key contains
    `search`, by title then key."""
    courses = Course.objects.filter(workspace=workspace)
    if instructor is not None:
        courses = courses.filter(instructors=instructor)
    if search:
        courses = courses.filter(Q(title__icontains=search) | Q(key__icontains=search))
    return _page(courses.order_by(Lower("title"), "key").values("key", "title"), limit, skip)


def analyse_users(workspace, *, search="", limit=50, skip=0, instructor=None):
    """Members of the workspace (for an instructor: those enrolled in or attempting one of their
    courses) whose name or email contains `search`, by name then email."""
    full_name = Trim(Concat(F("first_name"), Value(" "), F("last_name")))
    users = User.objects.filter(
        id__in=Membership.objects.filter(workspace=workspace).values("user_id")
    ).annotate(full_name_text=full_name)
    if instructor is not None:
        taught = Course.objects.filter(workspace=workspace, instructors=instructor).values("id")
        users = users.filter(
            Q(id__in=Enrollment.objects.filter(course_id__in=taught).values("user_id"))
            | Q(id__in=Attempt.objects.filter(course_id__in=taught).values("user_id"))
        )
    if search:
        users = users.filter(Q(full_name_text__icontains=search) | Q(email__icontains=search))
    users = users.order_by(Lower("full_name_text"), "email").values(
        "public_id", "full_name_text", "email", "avatar_url"
    )
    return _page(users, limit, skip)
