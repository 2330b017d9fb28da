"""Validation of statements against xAPI 1.0.3 (Data 2.2-4.0): the first violation raises
StatementInvalid naming the property by its path."""

import re
from datetime import datetime, timezone as dt_timezone

from analytics.services.records.fields import FieldError, within_time_range
from analytics.services.xapi.errors import SUPPORTED_VERSION, StatementInvalid

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def _fail(path, reason):
    raise StatementInvalid(f"{path}: {reason}")


def _require_object(value, path):
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    return value


def _check_iri(value, path):
    if not isinstance(value, str) or not IRI.match(value):
        _fail(path, "must be an absolute IRI")


def _check_language_map(value, path):
    if not isinstance(value, dict) or not all(isinstance(text, str) for text in value.values()):
        _fail(path, "must be a language map (an object of language tag to text)")


def _check_agent(value, path, *, as_group_member=False):
    agent = _require_object(value, path)
    object_type = agent.get("objectType", "Agent")
    if object_type == "Group" and not as_group_member:
        return _check_group(agent, path)
    if object_type != "Agent":
        _fail(f"{path}.objectType", "must be Agent or Group")
    present = [key for key in IFI_KEYS if key in agent]
    if len(present) != 1:
        _fail(path, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
    _check_ifi(agent, present[0], path)


def _check_group(group, path):
    present = [key for key in IFI_KEYS if key in group]
    if len(present) > 1:
        _fail(path, "a Group has at most one of mbox, mbox_sha1sum, openid, account")
    if present:
        _check_ifi(group, present[0], path)
    members = group.get("member")
    if members is None and not present:
        _fail(f"{path}.member", "an anonymous Group needs a member list")
    if members is not None:
        if not isinstance(members, list):
            _fail(f"{path}.member", "must be a list of Agents")
        for index, member in enumerate(members):
            _check_agent(member, f"{path}.member[{index}]", as_group_member=True)


def _check_ifi(agent, key, path):
    value = agent[key]
    if key == "mbox":
        if not isinstance(value, str) or not value.startswith("mailto:") or "@" not in value:
            _fail(f"{path}.mbox", "must be a mailto: IRI such as mailto:ada@example.com")
    elif key == "mbox_sha1sum":
        if not isinstance(value, str) or not SHA1.match(value):
            _fail(f"{path}.mbox_sha1sum", "must be 40 hexadecimal characters")
    elif key == "openid":
        _check_iri(value, f"{path}.openid")
    else:
        account = _require_object(value, f"{path}.account")
        if not isinstance(account.get("homePage"), str) or not IRI.match(account["homePage"]):
            _fail(f"{path}.account.homePage", "must be an IRL")
        if not isinstance(account.get("name"), str) or not account["name"]:
            _fail(f"{path}.account.name", "must be a non-empty string")


def _check_verb(value, path):
    verb = _require_object(value, path)
    _check_iri(verb.get("id"), f"{path}.id")
    if "display" in verb:
        _check_language_map(verb["display"], f"{path}.display")


def _check_activity(activity, path):
    # Open edX sends activity ids that are not IRIs (bare usage keys, bare UUIDs) and, for a
    # problem_check with only the required data, an Activity without an id: both are accepted.
    if "id" in activity and (not isinstance(activity["id"], str) or not activity["id"].strip()):
        _fail(f"{path}.id", "must be a non-empty string (an IRI)")
    definition = activity.get("definition")
    if definition is not None:
        _require_object(definition, f"{path}.definition")
        if "type" in definition:
            _check_iri(definition["type"], f"{path}.definition.type")
        for key in ("name", "description"):
            if key in definition:
                _check_language_map(definition[key], f"{path}.definition.{key}")


def _check_object(value, path, *, in_substatement=False):
    obj = _require_object(value, path)
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        _check_agent(obj, path)
    elif object_type == "StatementRef":
        if not isinstance(obj.get("id"), str) or not UUID_TEXT.match(obj["id"]):
            _fail(f"{path}.id", "a StatementRef needs the UUID of a statement")
    elif object_type == "SubStatement":
        if in_substatement:
            _fail(f"{path}.objectType", "a SubStatement cannot contain another SubStatement")
        for forbidden in ("id", "stored", "version", "authority"):
            if forbidden in obj:
                _fail(f"{path}.{forbidden}", "is not allowed in a SubStatement")
        _check_agent(obj.get("actor"), f"{path}.actor")
        _check_verb(obj.get("verb"), f"{path}.verb")
        _check_object(obj.get("object"), f"{path}.object", in_substatement=True)
        _check_result_context(obj, path)
    else:
        # "Activity", or an objectType the spec does not define that carries an activity id
        # (Open edX sends "GroupActivity" for a problem with several questions): an activity.
        _check_activity(obj, path)


def _check_result_context(statement, path):
    if "result" in statement:
        result = _require_object(statement["result"], f"{path}.result")
        if "score" in result:
            score = _require_object(result["score"], f"{path}.result.score")
            scaled = score.get("scaled")
            if scaled is not None and (isinstance(scaled, bool) or not isinstance(scaled, (int, float)) or not -1 <= scaled <= 1):
                _fail(f"{path}.result.score.scaled", "must be a number from -1 to 1")
        for key in ("success", "completion"):
            if key in result and not isinstance(result[key], bool):
                _fail(f"{path}.result.{key}", "must be true or false")
        if "extensions" in result:
            _require_object(result["extensions"], f"{path}.result.extensions")
    if "context" in statement:
        context = _require_object(statement["context"], f"{path}.context")
        if "registration" in context and (
            not isinstance(context["registration"], str) or not UUID_TEXT.match(context["registration"])
        ):
            _fail(f"{path}.context.registration", "must be a UUID")
        activities = context.get("contextActivities")
        if activities is not None:
            _require_object(activities, f"{path}.context.contextActivities")
            for key, value in activities.items():
                if key not in ("parent", "grouping", "category", "other"):
                    _fail(f"{path}.context.contextActivities.{key}", "must be parent, grouping, category or other")
                for index, activity in enumerate(value if isinstance(value, list) else [value]):
                    item_path = f"{path}.context.contextActivities.{key}[{index}]"
                    _check_activity(_require_object(activity, item_path), item_path)
        for key in ("instructor", "team"):
            if key in context:
                _check_agent(context[key], f"{path}.context.{key}")
        if "extensions" in context:
            _require_object(context["extensions"], f"{path}.context.extensions")


def parse_timestamp(value, path):
    """An aware datetime from an xAPI timestamp (ISO 8601 with an offset; none means UTC)."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)
            try:
                return within_time_range(parsed)
            except FieldError as exc:
                _fail(path, str(exc))
    _fail(path, "must be an ISO 8601 timestamp such as 2026-03-01T09:30:00.000Z")


def validate_statement(statement, path="statement"):
    """Raise StatementInvalid naming the first field of statement that breaks xAPI 1.0.3.

    Checks structure and identifiers (id, actor with exactly one inverse functional identifier,
    verb id, object by its objectType, timestamp, version 1.0.x, score range, context activities),
    not vocabularies: unknown verbs and activity types are welcome.
    """
    _require_object(statement, path)
    if "id" in statement and (not isinstance(statement["id"], str) or not UUID_TEXT.match(statement["id"])):
        _fail(f"{path}.id", "must be a UUID in standard string form")
    if "actor" not in statement:
        _fail(f"{path}.actor", "is required")
    _check_agent(statement["actor"], f"{path}.actor")
    if "verb" not in statement:
        _fail(f"{path}.verb", "is required")
    _check_verb(statement["verb"], f"{path}.verb")
    if "object" not in statement:
        _fail(f"{path}.object", "is required")
    _check_object(statement["object"], f"{path}.object")
    _check_result_context(statement, path)
    if "timestamp" in statement:
        parse_timestamp(statement["timestamp"], f"{path}.timestamp")
    if "version" in statement and (
        not isinstance(statement["version"], str) or not SUPPORTED_VERSION.match(statement["version"])
    ):
        _fail(f"{path}.version", "must be a 1.0.x version")
    if statement["verb"]["id"] == VOIDED and statement["object"].get("objectType") != "StatementRef":
        _fail(f"{path}.object.objectType", "a voiding statement's object must be a StatementRef")

