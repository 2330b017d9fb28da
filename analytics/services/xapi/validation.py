"""Validation of statements against xAPI 1.0.3 (Data 2.2-4.0): the first violation raises
StatementInvalid naming the property by its path.

Every object is checked for its keys (case-sensitive, no unknown ones), their types and formats
(IRIs, UUIDs, RFC 5646 language tags, ISO 8601 timestamps and durations, mailto: IRIs, SHA-1 and
SHA-2 sums), vocabularies (objectType, interactionType) and the rules between properties. No
value may be null, except inside extensions.

Open edX's event-routing-backends send a few things the specification refuses: activity ids
that are not IRIs (bare usage keys, UUIDs), an Activity without an id, the objectType
"GroupActivity" and a score with min = max = 0. Statements that carry its transformer-version
context extension get these allowances, and only them (docs/api/xapi.md).
"""

import re
from datetime import datetime, timezone as dt_timezone

from analytics.services.records.fields import FieldError, within_time_range
from analytics.services.xapi.errors import SUPPORTED_VERSION, StatementInvalid

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
OPENEDX_TRANSFORMER = "https://w3id.org/xapi/openedx/extension/transformer-version"
UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# In a statement: RFC 4122's layout, a version (1 to 8, RFC 9562 added 6 to 8) and its variant.
RFC4122_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2 = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
MIME_TYPE = re.compile(r"^[\w.+\-]+/[\w.+\-]+(\s*;.*)?$")
# ISO 8601 date-times, extended (2026-03-01T09:30:00.5Z) or basic (20260301T093000Z) form.
TIMESTAMP = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|\d{8}T\d{4}(?:\d{2}(?:[.,]\d+)?)?)"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
NEGATIVE_ZERO_OFFSET = re.compile(r"-00(:?00)?$")
DURATION = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?)$"
)
# RFC 5646 language tags (the well-formed grammar, with the irregular grandfathered tags).
LANGUAGE_TAG = re.compile(
    r"^(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*(?:-[\da-wy-z](?:-[a-z\d]{2,8})+)*(?:-x(?:-[a-z\d]{1,8})+)?"
    r"|x(?:-[a-z\d]{1,8})+|en-gb-oed|i-[a-z]{2,8}|sgn-[a-z]{2}-[a-z]{2,3})$",
    re.IGNORECASE,
)
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
COMPONENT_LISTS = {"choices", "scale", "source", "target", "steps"}
COMPONENTS_OF_TYPE = {
    "choice": {"choices"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "matching": {"source", "target"},
    "performance": {"steps"},
}
STATEMENT_KEYS = {
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", *IFI_KEYS}
GROUP_KEYS = AGENT_KEYS | {"member"}
ACTIVITY_KEYS = {"objectType", "id", "definition"}
DEFINITION_KEYS = {
    "name",
    "description",
    "type",
    "moreInfo",
    "extensions",
    "interactionType",
    "correctResponsesPattern",
    *COMPONENT_LISTS,
}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
CONTEXT_KEYS = {
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
}
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
ATTACHMENT_KEYS = {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}


def _fail(path, reason):
    raise StatementInvalid(f"{path}: {reason}")


class _Checker:
    """One statement's checks; `openedx` turns on the Open edX allowances."""

    def __init__(self, openedx):
        self.openedx = openedx

    # --- shapes ------------------------------------------------------------------------------

    def object_with(self, value, path, allowed, required=()):
        if not isinstance(value, dict):
            _fail(path, "must be a JSON object")
        for key, item in value.items():
            if key not in allowed:
                close = next((name for name in allowed if name.lower() == key.lower()), None)
                _fail(
                    f"{path}.{key}",
                    f"is not a property here (did you mean {close}?)" if close else "is not a property here",
                )
            if item is None:
                _fail(f"{path}.{key}", "must not be null")
        for key in required:
            if key not in value:
                _fail(f"{path}.{key}", "is required")
        return value

    def string(self, value, path, what="a string"):
        if not isinstance(value, str):
            _fail(path, f"must be {what}")
        return value

    def iri(self, value, path):
        if not isinstance(value, str) or not IRI.match(value):
            _fail(path, "must be an absolute IRI")

    def uuid(self, value, path):
        if not isinstance(value, str) or not RFC4122_UUID.match(value):
            _fail(path, "must be a UUID in standard string form (RFC 4122)")

    def number(self, value, path):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, "must be a number")
        return value

    def boolean(self, value, path):
        if not isinstance(value, bool):
            _fail(path, "must be true or false")

    def language_map(self, value, path):
        if not isinstance(value, dict):
            _fail(path, "must be a language map (an object of RFC 5646 language tag to text)")
        for tag, text in value.items():
            if not LANGUAGE_TAG.match(tag):
                _fail(f"{path}.{tag}", "is not an RFC 5646 language tag")
            if not isinstance(text, str):
                _fail(f"{path}.{tag}", "must be a string")

    def extensions(self, value, path):
        if not isinstance(value, dict):
            _fail(path, "must be a JSON object")
        for key in value:
            if not IRI.match(key):
                _fail(f"{path}.{key}", "an extension key must be an absolute IRI")

    def timestamp(self, value, path):
        if not isinstance(value, str) or not TIMESTAMP.match(value) or NEGATIVE_ZERO_OFFSET.search(value):
            _fail(path, "must be an ISO 8601 timestamp such as 2026-03-01T09:30:00.000Z")
        parse_timestamp(value, path)

    # --- actors ------------------------------------------------------------------------------

    def agent_or_group(self, value, path):
        if isinstance(value, dict) and value.get("objectType") == "Group":
            return self.group(value, path)
        return self.agent(value, path)

    def agent(self, value, path):
        agent = self.object_with(value, path, AGENT_KEYS)
        if "objectType" in agent and agent["objectType"] != "Agent":
            _fail(f"{path}.objectType", "must be Agent or Group")
        if "name" in agent:
            self.string(agent["name"], f"{path}.name")
        present = [key for key in IFI_KEYS if key in agent]
        if len(present) != 1:
            _fail(path, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
        self.ifi(agent, present[0], path)

    def group(self, value, path):
        group = self.object_with(value, path, GROUP_KEYS, required=("objectType",))
        if group["objectType"] != "Group":
            _fail(f"{path}.objectType", "must be Group")
        if "name" in group:
            self.string(group["name"], f"{path}.name")
        present = [key for key in IFI_KEYS if key in group]
        if len(present) > 1:
            _fail(path, "a Group has at most one of mbox, mbox_sha1sum, openid, account")
        if present:
            self.ifi(group, present[0], path)
        elif "member" not in group:
            _fail(f"{path}.member", "an anonymous Group needs a member list")
        if "member" in group:
            if not isinstance(group["member"], list):
                _fail(f"{path}.member", "must be a list of Agents")
            for index, member in enumerate(group["member"]):
                self.agent(member, f"{path}.member[{index}]")

    def ifi(self, agent, key, path):
        value = agent[key]
        if key == "mbox":
            if not isinstance(value, str) or not MAILTO.match(value):
                _fail(f"{path}.mbox", "must be a mailto: IRI such as mailto:ada@example.com")
        elif key == "mbox_sha1sum":
            if not isinstance(value, str) or not SHA1.match(value):
                _fail(f"{path}.mbox_sha1sum", "must be 40 hexadecimal characters")
        elif key == "openid":
            self.iri(value, f"{path}.openid")
        else:
            account = self.object_with(value, f"{path}.account", {"homePage", "name"}, required=("homePage", "name"))
            self.iri(account["homePage"], f"{path}.account.homePage")
            if not isinstance(account["name"], str) or not account["name"]:
                _fail(f"{path}.account.name", "must be a non-empty string")

    def authority(self, value, path):
        if isinstance(value, dict) and value.get("objectType") == "Group":
            self.group(value, path)
            if any(key in value for key in IFI_KEYS) or len(value.get("member", [])) != 2:
                _fail(path, "an authority Group must be anonymous with exactly two Agents (OAuth consumer and user)")
        else:
            self.agent(value, path)

    # --- verb and object ---------------------------------------------------------------------

    def verb(self, value, path):
        verb = self.object_with(value, path, {"id", "display"}, required=("id",))
        self.iri(verb["id"], f"{path}.id")
        if "display" in verb:
            self.language_map(verb["display"], f"{path}.display")

    def object(self, value, path, *, in_substatement=False):
        if not isinstance(value, dict):
            _fail(path, "must be a JSON object")
        object_type = value.get("objectType", "Activity")
        if object_type in ("Agent", "Group"):
            if "objectType" not in value:
                _fail(f"{path}.objectType", "is required for an Agent or Group object")
            self.agent_or_group(value, path)
        elif object_type == "StatementRef":
            self.statement_ref(value, path)
        elif object_type == "SubStatement":
            if in_substatement:
                _fail(f"{path}.objectType", "a SubStatement cannot contain another SubStatement")
            self.substatement(value, path)
        elif object_type == "Activity" or (self.openedx and object_type == "GroupActivity"):
            self.activity(value, path)
        elif not isinstance(object_type, str):
            _fail(f"{path}.objectType", "must be a string")
        else:
            _fail(f"{path}.objectType", "must be Activity, Agent, Group, SubStatement or StatementRef")

    def statement_ref(self, value, path):
        ref = self.object_with(value, path, {"objectType", "id"}, required=("objectType", "id"))
        if ref["objectType"] != "StatementRef":
            _fail(f"{path}.objectType", "must be StatementRef")
        self.uuid(ref["id"], f"{path}.id")

    def activity(self, value, path):
        activity = self.object_with(value, path, ACTIVITY_KEYS, required=() if self.openedx else ("id",))
        if "id" in activity:
            if self.openedx:
                if not isinstance(activity["id"], str) or not activity["id"].strip():
                    _fail(f"{path}.id", "must be a non-empty string (an IRI)")
            else:
                self.iri(activity["id"], f"{path}.id")
        if "definition" in activity:
            self.definition(activity["definition"], f"{path}.definition")

    def definition(self, value, path):
        definition = self.object_with(value, path, DEFINITION_KEYS)
        for key in ("name", "description"):
            if key in definition:
                self.language_map(definition[key], f"{path}.{key}")
        for key in ("type", "moreInfo"):
            if key in definition:
                self.iri(definition[key], f"{path}.{key}")
        if "extensions" in definition:
            self.extensions(definition["extensions"], f"{path}.extensions")
        interaction = COMPONENT_LISTS & definition.keys() | ({"correctResponsesPattern"} & definition.keys())
        if "interactionType" in definition:
            kind = definition["interactionType"]
            if not isinstance(kind, str) or kind not in INTERACTION_TYPES:
                _fail(f"{path}.interactionType", f"must be one of {', '.join(sorted(INTERACTION_TYPES))}")
            for key in sorted(COMPONENT_LISTS & definition.keys()):
                if key not in COMPONENTS_OF_TYPE.get(kind, ()):
                    _fail(f"{path}.{key}", f"is not used by interactionType {kind}")
        elif interaction:
            _fail(f"{path}.interactionType", f"is required with {sorted(interaction)[0]}")
        if "correctResponsesPattern" in definition:
            pattern = definition["correctResponsesPattern"]
            if not isinstance(pattern, list) or not all(isinstance(item, str) for item in pattern):
                _fail(f"{path}.correctResponsesPattern", "must be a list of strings")
        for key in sorted(COMPONENT_LISTS & definition.keys()):
            self.components(definition[key], f"{path}.{key}")

    def components(self, value, path):
        if not isinstance(value, list):
            _fail(path, "must be a list of interaction components")
        seen = set()
        for index, item in enumerate(value):
            component = self.object_with(item, f"{path}[{index}]", {"id", "description"}, required=("id",))
            if not isinstance(component["id"], str) or not component["id"].strip():
                _fail(f"{path}[{index}].id", "must be a non-empty string")
            if component["id"] in seen:
                _fail(f"{path}[{index}].id", "repeats an id of this list")
            seen.add(component["id"])
            if "description" in component:
                self.language_map(component["description"], f"{path}[{index}].description")

    def substatement(self, value, path):
        self.object_with(value, path, SUBSTATEMENT_KEYS, required=("actor", "verb", "object"))
        self.statement_body(value, path, in_substatement=True)

    # --- result, context, attachments --------------------------------------------------------

    def result(self, value, path):
        result = self.object_with(value, path, RESULT_KEYS)
        if "score" in result:
            self.score(result["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in result:
                self.boolean(result[key], f"{path}.{key}")
        if "response" in result:
            self.string(result["response"], f"{path}.response")
        if "duration" in result and (not isinstance(result["duration"], str) or not DURATION.match(result["duration"])):
            _fail(f"{path}.duration", "must be an ISO 8601 duration such as PT1H30M")
        if "extensions" in result:
            self.extensions(result["extensions"], f"{path}.extensions")

    def score(self, value, path):
        score = self.object_with(value, path, SCORE_KEYS)
        numbers = {key: self.number(score[key], f"{path}.{key}") for key in SCORE_KEYS & score.keys()}
        if "scaled" in numbers and not -1 <= numbers["scaled"] <= 1:
            _fail(f"{path}.scaled", "must be from -1 to 1")
        if "min" in numbers and "max" in numbers:
            # Open edX scores a problem worth nothing as min = max = 0.
            if numbers["min"] > numbers["max"] or (numbers["min"] == numbers["max"] and not self.openedx):
                _fail(f"{path}.min", "must be less than max")
        if "raw" in numbers:
            if "min" in numbers and numbers["raw"] < numbers["min"]:
                _fail(f"{path}.raw", "must not be less than min")
            if "max" in numbers and numbers["raw"] > numbers["max"]:
                _fail(f"{path}.raw", "must not be more than max")

    def context(self, value, path, statement_object):
        context = self.object_with(value, path, CONTEXT_KEYS)
        if "registration" in context:
            self.uuid(context["registration"], f"{path}.registration")
        if "instructor" in context:
            self.agent_or_group(context["instructor"], f"{path}.instructor")
        if "team" in context:
            self.group(context["team"], f"{path}.team")
        if "contextActivities" in context:
            activities = self.object_with(
                context["contextActivities"], f"{path}.contextActivities", CONTEXT_ACTIVITY_KEYS
            )
            for key, item in activities.items():
                if isinstance(item, list):
                    for index, activity in enumerate(item):
                        self.context_activity(activity, f"{path}.contextActivities.{key}[{index}]")
                else:
                    self.context_activity(item, f"{path}.contextActivities.{key}")
        is_activity = (
            isinstance(statement_object, dict) and statement_object.get("objectType", "Activity") == "Activity"
        )
        for key in ("revision", "platform"):
            if key in context:
                self.string(context[key], f"{path}.{key}")
                if not is_activity:
                    _fail(f"{path}.{key}", "is only allowed when the object is an Activity")
        if "language" in context and (
            not isinstance(context["language"], str) or not LANGUAGE_TAG.match(context["language"])
        ):
            _fail(f"{path}.language", "must be an RFC 5646 language tag")
        if "statement" in context:
            self.statement_ref(context["statement"], f"{path}.statement")
        if "extensions" in context:
            self.extensions(context["extensions"], f"{path}.extensions")

    def context_activity(self, value, path):
        if isinstance(value, dict) and value.get("objectType", "Activity") != "Activity" and not self.openedx:
            _fail(f"{path}.objectType", "must be Activity")
        self.activity(value, path)

    def attachments(self, value, path):
        if not isinstance(value, list):
            _fail(path, "must be a list of Attachments")
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            attachment = self.object_with(
                item, item_path, ATTACHMENT_KEYS, required=("usageType", "display", "contentType", "length", "sha2")
            )
            self.iri(attachment["usageType"], f"{item_path}.usageType")
            self.language_map(attachment["display"], f"{item_path}.display")
            if "description" in attachment:
                self.language_map(attachment["description"], f"{item_path}.description")
            if not isinstance(attachment["contentType"], str) or not MIME_TYPE.match(attachment["contentType"]):
                _fail(f"{item_path}.contentType", "must be an Internet media type such as text/plain")
            length = attachment["length"]
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                _fail(f"{item_path}.length", "must be a non-negative integer")
            if not isinstance(attachment["sha2"], str) or not SHA2.match(attachment["sha2"]):
                _fail(f"{item_path}.sha2", "must be a SHA-2 hash in hexadecimal")
            if "fileUrl" in attachment:
                self.iri(attachment["fileUrl"], f"{item_path}.fileUrl")

    # --- the statement -----------------------------------------------------------------------

    def statement_body(self, statement, path, *, in_substatement=False):
        """actor, verb, object, result, context, timestamp, attachments: a statement's or a
        SubStatement's."""
        self.agent_or_group(statement["actor"], f"{path}.actor")
        self.verb(statement["verb"], f"{path}.verb")
        self.object(statement["object"], f"{path}.object", in_substatement=in_substatement)
        if "result" in statement:
            self.result(statement["result"], f"{path}.result")
        if "context" in statement:
            self.context(statement["context"], f"{path}.context", statement["object"])
        if "timestamp" in statement:
            self.timestamp(statement["timestamp"], f"{path}.timestamp")
        if "attachments" in statement:
            self.attachments(statement["attachments"], f"{path}.attachments")

    def statement(self, statement, path):
        self.object_with(statement, path, STATEMENT_KEYS, required=("actor", "verb", "object"))
        if "id" in statement:
            self.uuid(statement["id"], f"{path}.id")
        self.statement_body(statement, path)
        if "stored" in statement:
            self.timestamp(statement["stored"], f"{path}.stored")
        if "authority" in statement:
            self.authority(statement["authority"], f"{path}.authority")
        if "version" in statement and (
            not isinstance(statement["version"], str) or not SUPPORTED_VERSION.match(statement["version"])
        ):
            _fail(f"{path}.version", "must be a 1.0.x version")
        if statement["verb"]["id"] == VOIDED and statement["object"].get("objectType") != "StatementRef":
            _fail(f"{path}.object.objectType", "a voiding statement's object must be a StatementRef")


def is_openedx_statement(statement):
    """Whether statement carries Open edX's transformer-version context extension."""
    context = statement.get("context") if isinstance(statement, dict) else None
    extensions = context.get("extensions") if isinstance(context, dict) else None
    return isinstance(extensions, dict) and OPENEDX_TRANSFORMER in extensions


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
    """Raise StatementInvalid naming the first property of statement that breaks xAPI 1.0.3."""
    _Checker(openedx=is_openedx_statement(statement)).statement(statement, path)


def validate_agent(agent, path="agent"):
    """Raise StatementInvalid unless agent is a valid Agent or Group."""
    _Checker(openedx=False).agent_or_group(agent, path)
