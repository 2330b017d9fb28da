"""Lookups: what a client filters by (groups, custom fields, contents, users). Each is one count
plus one page query (custom fields: +1)."""

from django.db.models import Count, F, Q, Value
from django.db.models.functions import Concat, Lower, Trim

from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, User
from courses.models import Course, Result

from .filters import Page


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


def analyse_contents(workspace, *, search="", limit=50, skip=0, course_ids=None):
    """Courses of the workspace (all, or those of the course scope `course_ids`: ids or a Course
    queryset, e.g. analytics.definitions.course_scope) whose title or key contains `search`, by
    title then key."""
    courses = Course.objects.filter(workspace=workspace)
    if course_ids is not None:
        courses = courses.filter(pk__in=course_ids)
    if search:
        courses = courses.filter(Q(title__icontains=search) | Q(key__icontains=search))
    return _page(courses.order_by(Lower("title"), "key").values("key", "title"), limit, skip)


def analyse_users(workspace, *, search="", limit=50, skip=0, course_ids=None):
    """Members of the workspace (with a course scope `course_ids`, an instructor's: those enrolled
    in or attempting one of those courses) whose name or email contains `search`, by name then
    email.

    An instructor's learners are read from the result table, which has one row per (learner,
    course) with an enrollment (ended or not) or an attempt: the same pairs, along the course
    index alone."""
    full_name = Trim(Concat(F("first_name"), Value(" "), F("last_name")))
    users = User.objects.filter(id__in=Membership.objects.filter(workspace=workspace).values("user_id")).annotate(
        full_name_text=full_name
    )
    if course_ids is not None:
        users = users.filter(id__in=Result.objects.filter(course_id__in=course_ids).values("user_id"))
    if search:
        users = users.filter(Q(full_name_text__icontains=search) | Q(email__icontains=search))
    users = users.order_by(Lower("full_name_text"), "email").values(
        "public_id", "full_name_text", "email", "avatar_url"
    )
    return _page(users, limit, skip)
