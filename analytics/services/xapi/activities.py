"""The canonical activity definitions of a workspace (the Activities resource, format=canonical):
every definition its statements give an activity, merged, the later over the earlier; language
maps merged tag by tag, so two statements describing an activity in two languages give both."""

from django.db import transaction
from django.utils import timezone

from analytics.models import XapiActivity

LANGUAGE_MAPS = ("name", "description")
MAX_ID_LENGTH = 1000


def _is_activity(value):
    return isinstance(value, dict) and value.get("objectType", "Activity") == "Activity"


def _activities(statement):
    """The activities a statement defines: its object, its context activities, and the same of
    a SubStatement object."""
    found = []
    substatement = statement["object"] if statement["object"].get("objectType") == "SubStatement" else None
    for source in filter(None, (statement, substatement)):
        if _is_activity(source.get("object")):
            found.append(source["object"])
        context = source.get("context")
        activities = context.get("contextActivities") if isinstance(context, dict) else None
        for value in (activities or {}).values():
            found += [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]
    return [item for item in found if isinstance(item.get("id"), str) and isinstance(item.get("definition"), dict)]


def merge_definition(old, new):
    merged = dict(old)
    for key, value in new.items():
        if key in LANGUAGE_MAPS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def record_activity_definitions(workspace, statements):
    """Merge the definitions that statements (dicts, in the order stored) give into the
    workspace's XapiActivity rows: one read and a bulk write per batch."""
    given = {}
    for statement in statements:
        for activity in _activities(statement):
            activity_id = activity["id"][:MAX_ID_LENGTH]
            given[activity_id] = merge_definition(given.get(activity_id, {}), activity["definition"])
    if not given:
        return
    now = timezone.now()
    with transaction.atomic():
        known = {
            row.activity_id: row
            for row in XapiActivity.objects.select_for_update().filter(workspace=workspace, activity_id__in=list(given))
        }
        changed, new = [], []
        for activity_id, definition in given.items():
            row = known.get(activity_id)
            if row is None:
                new.append(
                    XapiActivity(workspace=workspace, activity_id=activity_id, definition=definition, updated_at=now)
                )
                continue
            merged = merge_definition(row.definition, definition)
            if merged != row.definition:
                row.definition, row.updated_at = merged, now
                changed.append(row)
        XapiActivity.objects.bulk_update(changed, ["definition", "updated_at"])
        # A concurrent batch may have created one of these: its definition stays until the next.
        XapiActivity.objects.bulk_create(new, ignore_conflicts=True)
