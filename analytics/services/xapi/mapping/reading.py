"""Reading statements: IRIs to keys (course, activity, video), verb names, language maps, an
activity's type, the learner an Agent names. Shared by the other mapping modules; the
underscored helpers are the package's own, not part of its interface."""

import re
from urllib.parse import unquote, urlsplit

COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"


def iri_last_segment(iri):
    """The last path segment of an IRI, URL-decoded (`+` stays a plus), with its query if any.

    A value that is not a hierarchical URL (Open edX sometimes sends a bare usage key such as
    `block-v1:Org+X+1+type@problem+block@ab12`) is returned whole.
    """
    if "://" not in iri:
        return unquote(iri.strip())
    parts = urlsplit(iri)
    path = parts.path.rstrip("/")
    segment = unquote(path.rsplit("/", 1)[-1]) if path else parts.netloc
    return f"{segment}?{parts.query}" if parts.query else segment


def object_key(iri):
    """What a LearningEvent's `object` holds for an activity IRI: the Open edX usage key in it when
    there is one (`.../xblock/block-v1:...@ab12/hint/1` -> `block-v1:...@ab12`, as tracking logs
    name blocks), else the IRI's last path segment."""
    if "://" in iri:
        for segment in urlsplit(iri).path.split("/"):
            segment = unquote(segment)
            if segment.startswith(("block-v1:", "ccx-block-v1:", "i4x:")):
                return segment
    return iri_last_segment(iri)


def video_key_from_iri(iri):
    """The video key of a video activity: for an Open edX block usage key, the block id after
    `block@` (what tracking logs call the video id); otherwise the IRI's last path segment."""
    segment = iri_last_segment(iri)
    return segment.rsplit("block@", 1)[-1] if "block@" in segment else segment


def verb_name(verb_id):
    """The last segment of a verb IRI (`http://adlnet.gov/expapi/verbs/answered` -> answered)."""
    return re.split(r"[/#]", verb_id.rstrip("/#"))[-1].lower() or verb_id.lower()


def _language_text(language_map):
    if not isinstance(language_map, dict) or not language_map:
        return ""
    for tag in ("en-US", "en", "en-GB"):
        if isinstance(language_map.get(tag), str):
            return language_map[tag]
    return next((text for text in language_map.values() if isinstance(text, str)), "")


def _activity_type(activity):
    definition = activity.get("definition") if isinstance(activity, dict) else None
    return definition.get("type", "") if isinstance(definition, dict) else ""


def is_activity(obj):
    return isinstance(obj, dict) and obj.get("objectType", "Activity") not in (
        "Agent",
        "Group",
        "StatementRef",
        "SubStatement",
    )


def course_activity(statement):
    """The statement's course activity: its object, else the first context parent / grouping / other
    activity of type http://adlnet.gov/expapi/activities/course; None when there is none."""
    obj = statement["object"]
    if is_activity(obj) and _activity_type(obj) == COURSE_TYPE:
        return obj
    activities = (statement.get("context") or {}).get("contextActivities") or {}
    for key in ("parent", "grouping", "other", "category"):
        value = activities.get(key) or []
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and _activity_type(activity) == COURSE_TYPE:
                return activity
    return None


def learner_email(agent):
    """(email, display name) of the learner an Agent names, or (None, "") when it names none.

    mbox: its address. account: the account name when it is an email address, else the
    placeholder `<name>@<homePage host>` (Open edX sends an anonymous id and its LMS URL, so the
    learner becomes `32e08e30-...@lms.example.com`). mbox_sha1sum, openid and Groups name no
    learner: their statements are stored but not mapped.
    """
    if agent.get("objectType") == "Group":
        return None, ""
    name = agent.get("name") if isinstance(agent.get("name"), str) else ""
    if "mbox" in agent:
        return agent["mbox"][len("mailto:") :].strip().lower()[:254], name
    account = agent.get("account")
    if isinstance(account, dict):
        account_name = account["name"].strip()
        if re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", account_name):
            return account_name.lower()[:254], name
        host = (urlsplit(account["homePage"]).hostname or "lms.invalid").lower()
        local = re.sub(r"[^A-Za-z0-9._+\-]", "-", account_name).strip(".")[:64] or "learner"
        return f"{local.lower()}@{host}"[:254], name or account_name[:150]
    return None, ""


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
