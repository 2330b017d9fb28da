"""The scope of the result rows: which learners and courses they may belong to, as id subqueries
and as the WITH clause (CTEs) of a statement that reads them."""

from django.db import connection

from accounts.models import CustomFieldValue, LearnerGroup, User
from courses.models import Course


def _learners_matching(workspace, filters):
    """Ids of the users passing every learner-level filter (groups OR'ed, users, each custom
    field AND'ed), as a one-column queryset (a user may appear more than once: read it with
    `IN`), or None when there is no such filter.

    Built on the membership and custom-value rows themselves rather than on the user table: a
    group scope is then one index range of the group's members (joining the users added one
    lookup per member and nothing else)."""
    subsets = []
    if filters.group_ids:
        members = LearnerGroup.members.through.objects.filter(
            learnergroup__workspace=workspace, learnergroup__public_id__in=filters.group_ids
        )
        subsets.append((members, "user_id"))
    for custom_field in filters.custom_fields:
        holders = CustomFieldValue.objects.filter(
            field__workspace=workspace, field__public_id=custom_field.field_id, value__in=custom_field.values
        )
        subsets.append((holders, "user_id"))
    if filters.user_ids:
        subsets.append((User.objects.filter(public_id__in=filters.user_ids), "id"))
    if not subsets:
        return None
    (learners, column), *others = subsets
    for other, other_column in others:
        learners = learners.filter(**{f"{column}__in": other.order_by().values(other_column)})
    return learners.order_by().values(column)


def _courses_matching(workspace, filters, course_ids):
    """Courses passing the content filter and inside the course scope `course_ids` (None: every
    course of the workspace; else ids or a Course queryset, e.g. analytics.definitions.course_scope),
    as an id queryset, or None when neither applies."""
    if not filters.content_ids and course_ids is None:
        return None
    courses = Course.objects.filter(workspace=workspace)
    if filters.content_ids:
        courses = courses.filter(key__in=filters.content_ids)
    if course_ids is not None:
        courses = courses.filter(pk__in=course_ids)
    return courses.order_by().values("id")


def _scope_sql(workspace, filters, course_ids):
    """(sql, params) of the WITH clause naming the scope: `scope_learners` and / or
    `scope_courses` (ids), the CTEs the parts of `result_parts_sql` read; ("", []) without scope.
    Computed once per statement however many parts and counts read it (PostgreSQL materializes
    a CTE read more than once)."""
    ctes, params = [], []
    for name, ids in _scopes(workspace, filters, course_ids):
        # An empty scope (an instructor API key teaches nothing) compiles to a false condition
        # rather than raising EmptyResultSet.
        sql, ids_params = ids.query.get_compiler(connection=connection, elide_empty=False).as_sql()
        ctes.append(f"{name} (id) AS ({sql})")
        params.extend(ids_params)
    return (f"WITH {', '.join(ctes)} " if ctes else ""), params


def _scopes(workspace, filters, course_ids):
    """[(CTE name, id queryset)] of the scope in force."""
    scopes = [
        ("scope_learners", _learners_matching(workspace, filters)),
        ("scope_courses", _courses_matching(workspace, filters, course_ids)),
    ]
    return [(name, ids) for name, ids in scopes if ids is not None]
