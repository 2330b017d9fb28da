"""Bulk upserts of the catalog and learning record: users, courses, chapters, videos,
enrollments, attempts, programs (the import's kinds).

Each function takes rows with references resolved to ids (pipeline.py does that), reads what is
stored for their natural keys in one query, applies only the fields a row carries, then writes
the new rows with bulk_create and the changed ones with bulk_update; rows that would change
nothing are not written. Rows may carry a `ref` that comes back with a rejection.
"""

import secrets

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, UNUSABLE_PASSWORD_SUFFIX_LENGTH

from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, Role, User
from analytics.rollups.changes import rows_changed
from courses.models import Attempt, Chapter, Course, Enrollment, Program, Video

from .behaviour import UpsertResult

PROFILE_FIELDS = ("first_name", "last_name", "birth_year", "gender", "education_level", "country")


def _apply(obj, row, attrs):
    """Set the attrs present in row on obj; True when a value changed."""
    changed = False
    for attr in attrs:
        if attr in row and getattr(obj, attr) != row[attr]:
            setattr(obj, attr, row[attr])
            changed = True
    return changed


def _upsert_objects(model, rows, key_of_row, stored, attrs, new_object, check=None):
    """Shared create-or-update loop over rows. stored: {key: object} as read from the database.

    Returns (result, stored, statuses): statuses[i] is "created", "updated", "unchanged" or
    "rejected" for rows[i]; stored gains the created objects.
    """
    result = UpsertResult()
    created, changed, statuses = [], {}, []
    for row in rows:
        key = key_of_row(row)
        obj = stored.get(key)
        is_new = obj is None
        if is_new:
            obj = new_object(row)
        before = {attr: getattr(obj, attr) for attr in attrs}
        did_change = _apply(obj, row, attrs)
        problem = check(obj) if check else None
        if problem:
            for attr, value in before.items():
                setattr(obj, attr, value)
            result.rejected.append((row.get("ref"), *problem))
            statuses.append("rejected")
            continue
        if is_new:
            stored[key] = obj
            created.append(obj)
            status = "created"
        elif did_change:
            if obj.pk is not None:
                changed[obj.pk] = obj
            status = "updated"
        else:
            status = "unchanged"
        setattr(result, status, getattr(result, status) + 1)
        statuses.append(status)
    # The plain manager: the callers tell the rollups themselves, once (analytics.rollups).
    model._base_manager.bulk_create(created)
    if changed:
        model._base_manager.bulk_update(list(changed.values()), list(attrs))
    return result, stored, statuses


def _sync_relation(through, owner_field, target_field, rows, statuses, result, row_field, owner_ids_by_key):
    """Make each owner's many-to-many set (through: owner_field -> target_field) exactly
    row[row_field], for the rows (by key) that carry it and were not rejected. An owner whose only
    change is this set counts as updated, not unchanged. Returns result."""
    wanted = {}
    for row, status in zip(rows, statuses):
        if row_field in row and status != "rejected":
            wanted[row["key"]] = set(row[row_field] or [])
    if not wanted:
        return result
    owner_ids = owner_ids_by_key(wanted.keys())
    current = {}
    pairs = through.objects.filter(**{f"{owner_field}__in": owner_ids.values()}).values_list(owner_field, target_field)
    for owner_id, target_id in pairs:
        current.setdefault(owner_id, set()).add(target_id)
    to_add, changed_keys = [], set()
    for key, targets in wanted.items():
        owner_id = owner_ids[key]
        have = current.get(owner_id, set())
        to_add += [through(**{owner_field: owner_id, target_field: target}) for target in targets - have]
        if have - targets:
            through.objects.filter(**{owner_field: owner_id, f"{target_field}__in": have - targets}).delete()
        if have != targets:
            changed_keys.add(key)
    through.objects.bulk_create(to_add, ignore_conflicts=True)
    for row, status in zip(rows, statuses):
        if status == "unchanged" and row["key"] in changed_keys:
            result.unchanged -= 1
            result.updated += 1
            changed_keys.discard(row["key"])
    return result


def split_name(name):
    """'Ada King Lovelace' -> ('Ada', 'King Lovelace'): the first word is the first name."""
    first, _, last = (name or "").strip().partition(" ")
    return first, last.strip()


def unusable_password():
    """What make_password(None) stores (the unusable prefix and a random suffix of the same
    length), from one call to the system's random source: make_password draws each of its 40
    characters separately (120,000 draws for the 3,000 learners of a first tracking-log import)."""
    return (
        UNUSABLE_PASSWORD_PREFIX
        + secrets.token_urlsafe(UNUSABLE_PASSWORD_SUFFIX_LENGTH)[:UNUSABLE_PASSWORD_SUFFIX_LENGTH]
    )


def upsert_users(workspace, rows):
    """Create or update users by email, with their membership, groups and custom attributes.

    rows: clean user records (email, and optionally name, role, birth_year, gender,
    education_level, country, groups [names], attributes {name: value or None}) plus `ref`.

    Rules:
    - A new email creates a user without a usable password (they log in after a reset or SSO).
    - Profile fields (name, demographics) of an existing user are updated only when the user
      belongs to no other workspace: one workspace's import never rewrites a person another
      workspace also knows (their membership, groups and attributes here are still set).
    - Membership: created with the role (learner when none is given); an existing member's role
      changes only when a role is given.
    - groups, when given, become exactly the user's groups in this workspace (groups created by
      name when new); attributes, when given, set each named value (CustomField created when new)
      and a null or empty value removes it; attributes not named are left alone.
    created counts users who became members of the workspace; updated those whose profile,
    role, groups or attributes changed.
    """
    result = UpsertResult()
    rows = [_user_row(row) for row in rows]
    if not rows:
        return result
    emails = {row["email"] for row in rows}
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    known_elsewhere = set(
        Membership.objects.filter(user__email__in=emails).exclude(workspace=workspace).values_list("user_id", flat=True)
    )
    new_users, changed_users = {}, {}
    for row in rows:
        user = users.get(row["email"])
        if user is None:
            user = User(email=row["email"], password=unusable_password())
            users[row["email"]] = new_users[row["email"]] = user
        if user.pk in known_elsewhere:
            continue
        if _apply(user, row, PROFILE_FIELDS) and user.pk is not None:
            changed_users[user.pk] = user
    User.objects.bulk_create(list(new_users.values()))
    if changed_users:
        User.objects.bulk_update(list(changed_users.values()), list(PROFILE_FIELDS))
    # Re-read the ids: not every database returns them from a bulk insert.
    user_ids = dict(User.objects.filter(email__in=emails).values_list("email", "id"))

    memberships = {m.user_id: m for m in Membership.objects.filter(workspace=workspace, user_id__in=user_ids.values())}
    new_memberships, changed_memberships = {}, {}
    changed_emails = {user.email for user in changed_users.values()}
    for row in rows:
        user_id = user_ids[row["email"]]
        membership = memberships.get(user_id)
        if membership is None:
            membership = Membership(workspace=workspace, user_id=user_id, role=row.get("role") or Role.LEARNER)
            memberships[user_id] = new_memberships[user_id] = membership
        elif row.get("role") and membership.role != row["role"]:
            membership.role = row["role"]
            if membership.pk is not None:
                changed_memberships[membership.pk] = membership
            changed_emails.add(row["email"])
    Membership.objects.bulk_create(list(new_memberships.values()))
    if changed_memberships:
        Membership.objects.bulk_update(list(changed_memberships.values()), ["role"])
    # Bulk writes send no signals: the learners' day totals follow the roles here.
    rows_changed(workspace.pk, Membership, users=[*new_memberships, *(m.user_id for m in changed_memberships.values())])

    changed_emails |= _set_groups(workspace, rows, user_ids)
    changed_emails |= _set_attributes(workspace, rows, user_ids)

    # The course information breakdowns read users' demographics.
    rows_changed(workspace.pk, User, users=user_ids.values())

    counted = set()
    for row in rows:
        email = row["email"]
        if email in counted:
            result.unchanged += 1
        elif user_ids[email] in new_memberships:
            result.created += 1
        elif email in changed_emails:
            result.updated += 1
        else:
            result.unchanged += 1
        counted.add(email)
    return result


def _user_row(row):
    row = dict(row)
    if "name" in row:
        row["first_name"], row["last_name"] = split_name(row.pop("name"))
    for attr in ("gender", "education_level", "country"):
        if attr in row and row[attr] is None:
            row[attr] = ""
    return row


def _named(model, workspace, names):
    """{name: id} for the named rows of model in workspace, creating the missing ones."""
    found = dict(model.objects.filter(workspace=workspace, name__in=names).values_list("name", "id"))
    missing = set(names) - found.keys()
    if missing:
        model.objects.bulk_create(
            [model(workspace=workspace, name=name) for name in sorted(missing)], ignore_conflicts=True
        )
        found.update(model.objects.filter(workspace=workspace, name__in=missing).values_list("name", "id"))
    return found


def _set_groups(workspace, rows, user_ids):
    """Make each row's groups (when given) the user's exact groups here; emails whose groups changed."""
    wanted = {}
    for row in rows:
        if "groups" in row:
            wanted[user_ids[row["email"]]] = set(row["groups"] or [])
    if not wanted:
        return set()
    group_ids = _named(LearnerGroup, workspace, set().union(*wanted.values()))
    through = LearnerGroup.members.through
    current = {}
    for user_id, group_id in through.objects.filter(
        user_id__in=wanted.keys(), learnergroup__workspace=workspace
    ).values_list("user_id", "learnergroup_id"):
        current.setdefault(user_id, set()).add(group_id)
    to_add, to_remove, changed_ids, changed_groups = [], [], set(), set()
    for user_id, names in wanted.items():
        target = {group_ids[name] for name in names}
        have = current.get(user_id, set())
        to_add += [through(user_id=user_id, learnergroup_id=group_id) for group_id in target - have]
        to_remove += [(user_id, group_id) for group_id in have - target]
        if target != have:
            changed_ids.add(user_id)
            changed_groups |= target ^ have
    through.objects.bulk_create(to_add, ignore_conflicts=True)
    if to_remove:
        by_user = {}
        for user_id, group_id in to_remove:
            by_user.setdefault(user_id, []).append(group_id)
        for user_id, group_list in by_user.items():
            through.objects.filter(user_id=user_id, learnergroup_id__in=group_list).delete()
    if changed_ids:  # the per-group Analyse totals (bulk writes send no m2m_changed)
        rows_changed(workspace.pk, through, users=changed_ids, groups=changed_groups)
    return {email for email, user_id in user_ids.items() if user_id in changed_ids}


def _set_attributes(workspace, rows, user_ids):
    """Set each row's named attribute values; emails whose values changed."""
    wanted = {}
    for row in rows:
        for name, value in (row.get("attributes") or {}).items():
            wanted[(user_ids[row["email"]], name)] = value
    if not wanted:
        return set()
    field_ids = _named(CustomField, workspace, {name for _, name in wanted})
    stored = {
        (value.user_id, value.field_id): value
        for value in CustomFieldValue.objects.filter(
            field_id__in=field_ids.values(), user_id__in={user_id for user_id, _ in wanted}
        )
    }
    to_create, to_update, to_delete, changed_ids = [], [], [], set()
    for (user_id, name), value in wanted.items():
        current = stored.get((user_id, field_ids[name]))
        if value is None:
            if current is not None:
                to_delete.append(current.pk)
                changed_ids.add(user_id)
        elif current is None:
            to_create.append(CustomFieldValue(user_id=user_id, field_id=field_ids[name], value=value))
            changed_ids.add(user_id)
        elif current.value != value:
            current.value = value
            to_update.append(current)
            changed_ids.add(user_id)
    CustomFieldValue.objects.bulk_create(to_create)
    if to_update:
        CustomFieldValue.objects.bulk_update(to_update, ["value"])
    if to_delete:
        CustomFieldValue.objects.filter(pk__in=to_delete).delete()
    return {email for email, user_id in user_ids.items() if user_id in changed_ids}


COURSE_FIELDS = ("title", "thumbnail", "start", "end", "pacing", "catalog_course", "catalog_title")


def _course_problem(course):
    if course.start and course.end and course.end < course.start:
        return ("end", "must not be before start")
    return None


def upsert_courses(workspace, rows):
    """Create or update courses by key. rows: key, title, optionally thumbnail, the catalog facts
    (start, end, pacing, catalog_course, catalog_title), instructor_ids (resolved emails: when
    given they become exactly the course's instructors), ref. A row that would leave the course
    ending before it starts (with the stored start or end) is rejected (field `end`)."""
    rows = list(rows)
    if not rows:
        return UpsertResult()
    stored = {c.key: c for c in Course.objects.filter(workspace=workspace, key__in={row["key"] for row in rows})}
    result, _, statuses = _upsert_objects(
        Course,
        rows,
        lambda row: row["key"],
        stored,
        COURSE_FIELDS,
        lambda row: Course(workspace=workspace, key=row["key"]),
        check=_course_problem,
    )
    return _sync_relation(
        Course.instructors.through,
        "course_id",
        "user_id",
        rows,
        statuses,
        result,
        "instructor_ids",
        lambda keys: dict(Course.objects.filter(workspace=workspace, key__in=keys).values_list("key", "id")),
    )


def upsert_programs(workspace, rows):
    """Create or update programs by key (their id). rows: key, title, optionally program_type,
    course_ids (when given they become exactly the program's courses), ref. A program whose only
    change is its course list counts as updated."""
    rows = list(rows)
    if not rows:
        return UpsertResult()
    stored = {p.key: p for p in Program.objects.filter(workspace=workspace, key__in={row["key"] for row in rows})}
    result, _, statuses = _upsert_objects(
        Program,
        rows,
        lambda row: row["key"],
        stored,
        ("title", "program_type"),
        lambda row: Program(workspace=workspace, key=row["key"]),
    )
    return _sync_relation(
        Program.courses.through,
        "program_id",
        "course_id",
        rows,
        statuses,
        result,
        "course_ids",
        lambda keys: dict(Program.objects.filter(workspace=workspace, key__in=keys).values_list("key", "id")),
    )


def upsert_chapters(workspace, rows):
    """Create or update chapters by (course_id, key). rows: course_id, key, title, optionally position, ref."""
    rows = list(rows)
    if not rows:
        return UpsertResult()
    stored = {
        (c.course_id, c.key): c
        for c in Chapter.objects.filter(
            course__workspace=workspace,
            course_id__in={row["course_id"] for row in rows},
            key__in={row["key"] for row in rows},
        )
    }
    result, _, _ = _upsert_objects(
        Chapter,
        rows,
        lambda row: (row["course_id"], row["key"]),
        stored,
        ("title", "position"),
        lambda row: Chapter(course_id=row["course_id"], key=row["key"]),
    )
    return result


def upsert_videos(workspace, rows):
    """Create or update videos by key (unique in the workspace). rows: course_id, key, optionally
    title, chapter_id, duration_s, segment_length_s, ref. A video named again under another
    course moves to it."""
    rows = list(rows)
    if not rows:
        return UpsertResult()
    stored = {v.key: v for v in Video.objects.filter(workspace=workspace, key__in={row["key"] for row in rows})}
    result, _, _ = _upsert_objects(
        Video,
        rows,
        lambda row: row["key"],
        stored,
        ("course_id", "chapter_id", "title", "duration_s", "segment_length_s"),
        lambda row: Video(workspace=workspace, key=row["key"]),
    )
    rows_changed(workspace.pk, Video, course_ids={row["course_id"] for row in rows})
    return result


def _enrollment_problem(enrollment):
    if enrollment.unenrolled_at and enrollment.enrolled_at and enrollment.unenrolled_at < enrollment.enrolled_at:
        return ("unenrolledAt", "must not be before enrolledAt")
    return None


def upsert_enrollments(workspace, rows):
    """Create or update enrollments by (user_id, course_id). rows: user_id, course_id, enrolled_at,
    optionally mode, kind, unenrolled_at, expires_at, ref."""
    rows = list(rows)
    if not rows:
        return UpsertResult()
    stored = {
        (e.user_id, e.course_id): e
        for e in Enrollment.objects.filter(
            workspace=workspace,
            user_id__in={row["user_id"] for row in rows},
            course_id__in={row["course_id"] for row in rows},
        )
    }
    result, _, statuses = _upsert_objects(
        Enrollment,
        rows,
        lambda row: (row["user_id"], row["course_id"]),
        stored,
        ("mode", "kind", "enrolled_at", "unenrolled_at", "expires_at"),
        lambda row: Enrollment(workspace=workspace, user_id=row["user_id"], course_id=row["course_id"]),
        check=_enrollment_problem,
    )
    _written_rows_changed(workspace, Enrollment, rows, statuses)
    return result


def _written_rows_changed(workspace, model, rows, statuses):
    """Tell the rollups (analytics.rollups) of the (learner, course) pairs whose rows were written."""
    written = [row for row, status in zip(rows, statuses) if status in ("created", "updated")]
    rows_changed(
        workspace.pk,
        model,
        result_pairs={(row["user_id"], row["course_id"]) for row in written},
        course_ids={row["course_id"] for row in written},
    )


ATTEMPT_FIELDS = (
    "state",
    "progress",
    "score",
    "time_spent_s",
    "first_activity_at",
    "last_activity_at",
    "completed_at",
    "certificate_issued_at",
    "expires_at",
    "lang",
)


def upsert_attempts(workspace, rows):
    """Create or update attempts by (user_id, course_id, version_number). rows: user_id,
    course_id, optionally version_number (default 0) and the fields of ATTEMPT_FIELDS, ref.
    progress and score are whole percents (the validator rounds fractions half up)."""
    rows = [{**row, "version_number": row.get("version_number") or 0} for row in rows]
    if not rows:
        return UpsertResult()
    stored = {
        (a.user_id, a.course_id, a.version_number): a
        for a in Attempt.objects.filter(
            workspace=workspace,
            user_id__in={row["user_id"] for row in rows},
            course_id__in={row["course_id"] for row in rows},
        )
    }
    result, _, statuses = _upsert_objects(
        Attempt,
        rows,
        lambda row: (row["user_id"], row["course_id"], row["version_number"]),
        stored,
        ATTEMPT_FIELDS,
        lambda row: Attempt(
            workspace=workspace,
            user_id=row["user_id"],
            course_id=row["course_id"],
            version_number=row["version_number"],
        ),
    )
    _written_rows_changed(workspace, Attempt, rows, statuses)
    return result
