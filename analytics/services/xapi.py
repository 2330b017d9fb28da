"""xAPI 1.0.3 statements: validation, the conflict rules, storage, voiding, and the mapping of
known verbs onto the learning record (docs/api/xapi.md has the table).

`record_statements(workspace, statements, authority=...)` is the one entry point for writes: a batch
is accepted whole or rejected whole (400 for an invalid statement or a repeated id, 409 when an id
is already stored with different content), in one transaction.

Statements are stored per workspace: the row's primary key is derived from (workspace, statement
id), so two workspaces may hold the same statement id without seeing each other's rows.
"""

import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import unquote, urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import EventSource, LearningEvent, XapiStatement
from analytics.services import video_sessions
from analytics.services.learning_state import (
    AttemptOutcome,
    EnrollmentChange,
    VideoSpec,
    apply_attempt_outcomes,
    apply_enrollment_changes,
    derived_id,
    ensure_learners,
    ensure_titled_courses,
    ensure_videos,
)
from analytics.services.learner_activity import refresh_learner_days, refreshed_together
from analytics.services.records import upsert_events, upsert_video_views
from courses.models import AttemptState
from analytics.services.records.fields import FieldError, within_time_range

XAPI_VERSION = "1.0.3"
SUPPORTED_VERSION = re.compile(r"^1\.0(\.\d+)?$")
STATEMENT_PK_NAMESPACE = uuid.UUID("6c1d8a52-2f0e-4b1f-a8c4-0f3c1e5b7d21")
MAX_BATCH = 1000
SESSION_WINDOW = timedelta(days=1)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_VERBS_PREFIX = "https://w3id.org/xapi/video/verbs/"
EXT_SESSION = "https://w3id.org/xapi/openedx/extensions/session-id"
EXT_VIDEO_LENGTH = "https://w3id.org/xapi/video/extensions/length"
EXT_VIDEO_TIME = "https://w3id.org/xapi/video/extensions/time"
EXT_VIDEO_TIME_FROM = "https://w3id.org/xapi/video/extensions/time-from"
EXT_VIDEO_TIME_TO = "https://w3id.org/xapi/video/extensions/time-to"
EXT_VIDEO_PLAYED_SEGMENTS = "https://w3id.org/xapi/video/extensions/played-segments"
EXT_VIDEO_SESSION = "https://w3id.org/xapi/video/extensions/session-id"
EXT_ENROLLMENT_MODE = "https://w3id.org/xapi/acrossx/extensions/type"

# Verbs are matched by the last segment of their IRI, so that the ADL, Tin Can, ActivityStreams
# and acrossx spellings of the same verb all map. `voided` alone is matched exactly (the spec's).
EVENT_TYPE_BY_VERB = {
    "answered": "attempted_problem",
    "evaluated": "attempted_problem",
    "commented": "posted_forum",
    "posted": "posted_forum",
    "experienced": "viewed",
    "viewed": "viewed",
    "navigated": "viewed",
}
PLAYER_KIND_BY_VERB = {
    "played": video_sessions.PLAY,
    "paused": video_sessions.PAUSE,
    "seeked": video_sessions.SEEK,
    "completed": video_sessions.COMPLETE,
    "terminated": video_sessions.STOP,
}
COURSE_STATE_BY_VERB = {"passed": AttemptState.APPROVED, "failed": AttemptState.FAILED, "completed": ""}
ENROLLMENT_ACTION_BY_VERB = {"registered": "enroll", "unregistered": "unenroll"}

UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


class XapiError(Exception):
    """A request the statements resource refuses; status is the HTTP status to answer."""

    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class StatementInvalid(XapiError):
    status = 400


class StatementConflict(XapiError):
    status = 409


# ---------------------------------------------------------------------------------------------
# Validation


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


def check_version_header(value):
    """Raise XapiError unless value is a supported X-Experience-API-Version (1.0.x)."""
    if not value:
        raise XapiError("The X-Experience-API-Version header is required (this LRS speaks 1.0.3).")
    if not SUPPORTED_VERSION.match(value.strip()):
        raise XapiError(f"X-Experience-API-Version {value!r} is not supported (use 1.0.0 to 1.0.3).")


# ---------------------------------------------------------------------------------------------
# Identity and comparison


def statement_pk(workspace_id, statement_id):
    """The primary key of a statement in a workspace (statement ids are only unique per workspace)."""
    return uuid.uuid5(STATEMENT_PK_NAMESPACE, f"{workspace_id}:{str(statement_id).lower()}")


def agent_key(agent):
    """The inverse functional identifier of an Agent or identified Group, as one string.

    mbox as `mailto:lower-case address`, mbox_sha1sum lower-case, openid as sent, account as
    `homePage|name`. An anonymous Group has none: its key is a hash of its members' keys.
    """
    if "mbox" in agent:
        return str(agent["mbox"]).strip().lower()
    if "mbox_sha1sum" in agent:
        return "sha1:" + str(agent["mbox_sha1sum"]).lower()
    if "openid" in agent:
        return str(agent["openid"])
    if "account" in agent:
        return f"{agent['account'].get('homePage', '')}|{agent['account'].get('name', '')}"
    members = sorted(agent_key(member) for member in agent.get("member", []))
    return "group:" + hashlib.sha1("\n".join(members).encode()).hexdigest()


def _comparable_agent(agent):
    agent = dict(agent)
    agent.setdefault("objectType", "Agent")
    if "mbox" in agent:
        agent["mbox"] = str(agent["mbox"]).lower()
    if "mbox_sha1sum" in agent:
        agent["mbox_sha1sum"] = str(agent["mbox_sha1sum"]).lower()
    if isinstance(agent.get("member"), list):
        members = [_comparable_agent(member) for member in agent["member"]]
        agent["member"] = sorted(members, key=lambda member: json.dumps(member, sort_keys=True))
    return agent


def _comparable_activity(activity):
    # Activity definitions are not part of the statement (xAPI Data 2.3.1).
    return {"objectType": activity.get("objectType", "Activity"), "id": activity.get("id")}


def _comparable_object(obj):
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        return _comparable_agent(obj)
    if object_type == "StatementRef":
        return {"objectType": "StatementRef", "id": str(obj.get("id", "")).lower()}
    if object_type == "SubStatement":
        return _comparable_body(obj)
    return _comparable_activity(obj)


def _comparable_body(statement):
    body = {key: value for key, value in statement.items() if key not in ("id", "authority", "stored", "version", "timestamp", "attachments")}
    body["actor"] = _comparable_agent(statement["actor"])
    body["verb"] = {"id": statement["verb"]["id"]}
    body["object"] = _comparable_object(statement["object"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            context["contextActivities"] = {
                key: [_comparable_activity(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in activities.items()
            }
        for key in ("instructor", "team"):
            if isinstance(context.get(key), dict):
                context[key] = _comparable_agent(context[key])
        if "registration" in context:
            context["registration"] = str(context["registration"]).lower()
        body["context"] = context
    if "timestamp" in statement and "timestamp" in body:
        del body["timestamp"]
    return body


def statements_match(received, stored):
    """True when received is the same statement as stored, per xAPI's comparison rules.

    Ignored (xAPI Data 2.3.1, exceptions to immutability): id, authority, stored, version,
    attachments, verb display, activity definitions, the order of group members, the case of
    mbox / sha1 / UUIDs, and the serialization of timestamps (compared as instants; a statement
    sent without a timestamp matches any, since the LRS filled it in). Everything else, including
    result and context extensions, must be equal.
    """
    if _comparable_body(received) != _comparable_body(stored):
        return False
    if "timestamp" in received and "timestamp" in stored:
        received_at = parse_timestamp(received["timestamp"], "statement.timestamp")
        stored_at = parse_timestamp(stored["timestamp"], "statement.timestamp")
        return received_at == stored_at
    return True


# ---------------------------------------------------------------------------------------------
# Mapping helpers


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


def _is_activity(obj):
    return isinstance(obj, dict) and obj.get("objectType", "Activity") not in ("Agent", "Group", "StatementRef", "SubStatement")


def course_activity(statement):
    """The statement's course activity: its object, else the first context parent / grouping / other
    activity of type http://adlnet.gov/expapi/activities/course; None when there is none."""
    obj = statement["object"]
    if _is_activity(obj) and _activity_type(obj) == COURSE_TYPE:
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
        return agent["mbox"][len("mailto:"):].strip().lower()[:254], name
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


def _score_percent(result):
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    scaled = _number(score.get("scaled"))
    if scaled is None:
        raw, maximum = _number(score.get("raw")), _number(score.get("max"))
        minimum = _number(score.get("min")) or 0.0
        if raw is None or maximum is None or maximum <= minimum:
            return None
        scaled = (raw - minimum) / (maximum - minimum)
    return round(max(0.0, min(1.0, scaled)) * 100)


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class _Incoming:
    statement: dict  # as it will be stored
    received: dict  # as it was sent (for comparison)
    statement_id: str
    pk: uuid.UUID
    timestamp: datetime
    email: str | None = None
    display_name: str = ""
    extras: dict = field(default_factory=dict)


def _activity_id(statement):
    obj = statement["object"]
    return str(obj.get("id", ""))[:1000] if _is_activity(obj) else ""


def _prepare(workspace, statements, authority, now, statement_id=None):
    if not isinstance(statements, list):
        statements = [statements]
        paths = ["statement"]
    else:
        paths = [f"statements[{index}]" for index in range(len(statements))]
    if len(statements) > MAX_BATCH:
        raise StatementInvalid(f"statements: a batch holds at most {MAX_BATCH} statements")
    incoming, seen = [], {}
    for path, received in zip(paths, statements):
        validate_statement(received, path)
        if statement_id is not None:
            if "id" in received and received["id"].lower() != statement_id.lower():
                _fail(f"{path}.id", "differs from the statementId parameter")
            sid = statement_id.lower()
        else:
            sid = received.get("id", "").lower() or str(uuid.uuid4())
        if sid in seen:
            _fail(f"{path}.id", f"repeats the id of {seen[sid]} in the same batch")
        seen[sid] = path
        stored = copy.deepcopy(received)
        stored["id"] = sid
        stored.setdefault("timestamp", now.isoformat().replace("+00:00", "Z"))
        stored.setdefault("version", "1.0.0")
        stored["stored"] = now.isoformat().replace("+00:00", "Z")
        if authority:
            stored["authority"] = authority
        email, name = learner_email(received["actor"])
        incoming.append(
            _Incoming(
                statement=stored,
                received=received,
                statement_id=sid,
                pk=statement_pk(workspace.id, sid),
                timestamp=parse_timestamp(stored["timestamp"], f"{path}.timestamp"),
                email=email,
                display_name=name,
            )
        )
    return incoming


def record_statements(workspace, statements, *, authority=None, statement_id=None):
    """Store a statement or a list of statements in workspace; returns their ids, in order.

    All or nothing, in one transaction: an invalid statement or a repeated id in the batch raises
    StatementInvalid (400); an id already stored with different content raises StatementConflict
    (409). An id already stored with the same content is accepted again and changes nothing. New
    statements are mapped onto enrollments, attempts, events and video views (see map_statements).
    statement_id (PUT) is the id every statement must have.
    """
    now = timezone.now()
    incoming = _prepare(workspace, statements, authority, now, statement_id)
    for attempt in range(2):
        try:
            # One learner-day refresh for the whole batch (see refreshed_together).
            with transaction.atomic(), refreshed_together():
                new = _split_new(workspace, incoming)
                if new:
                    _insert_and_map(workspace, new)
            break
        except IntegrityError:
            # A concurrent request stored one of these ids first: compare again against it.
            if attempt:
                raise StatementConflict("A statement of this batch was stored by a concurrent request; retry.")
    return [item.statement_id for item in incoming]


def _split_new(workspace, incoming):
    stored = {
        row.pk: row.statement
        for row in XapiStatement.objects.filter(workspace=workspace, pk__in=[item.pk for item in incoming]).only("id", "statement")
    }
    for item in incoming:
        if item.pk in stored and not statements_match(item.received, stored[item.pk]):
            raise StatementConflict(
                f"Statement {item.statement_id} is already stored with different content "
                "(a statement is immutable: send the change under a new id, or void the old one)."
            )
    return [item for item in incoming if item.pk not in stored]


def _insert_and_map(workspace, new):
    people = {item.email: item.display_name for item in new if item.email}
    user_ids = ensure_learners(workspace, people) if people else {}
    rows = [
        XapiStatement(
            id=item.pk,
            workspace=workspace,
            statement=item.statement,
            verb_id=item.statement["verb"]["id"][:500],
            actor_key=agent_key(item.statement["actor"])[:500],
            activity_id=_activity_id(item.statement),
            user_id=user_ids.get(item.email),
            timestamp=item.timestamp,
            stored=parse_timestamp(item.statement["stored"], "stored"),
        )
        for item in new
    ]
    XapiStatement.objects.bulk_create(rows)
    voided = _apply_voiding(workspace, new)
    live = [(item, row) for item, row in zip(new, rows) if row.pk not in voided]
    map_statements(workspace, live)


def _apply_voiding(workspace, new):
    """Mark the targets of voiding statements voided; returns the pks voided among `new`.

    A voiding statement may arrive before its target (the target is then voided as it arrives); a
    voiding statement is never itself voided. The events derived from a voided statement are
    deleted and its video session recomputed; enrollments and attempts are left as they are.
    """
    targets = {
        statement_pk(workspace.id, item.statement["object"]["id"]): item
        for item in new
        if item.statement["verb"]["id"] == VOIDED
    }
    new_pks = {item.pk for item in new}
    # Statements of this batch that earlier voiding statements already name.
    earlier = XapiStatement.objects.filter(
        workspace=workspace, verb_id=VOIDED, statement__object__id__in=[item.statement_id for item in new]
    ).exclude(pk__in=new_pks)
    for statement in earlier.values_list("statement", flat=True):
        targets.setdefault(statement_pk(workspace.id, statement["object"]["id"]), None)
    if not targets:
        return set()
    victims = list(
        XapiStatement.objects.filter(workspace=workspace, pk__in=targets).exclude(verb_id=VOIDED).values_list("pk", "statement", "user_id")
    )
    if not victims:
        return set()
    victim_pks = [pk for pk, _, _ in victims]
    XapiStatement.objects.filter(pk__in=victim_pks).update(is_voided=True)
    # One DELETE (no per-row signals), then the learner-days of the deleted events.
    events = LearningEvent.objects.filter(workspace=workspace, id__in=victim_pks)
    touched = set(events.values_list("user_id", "occurred_at"))
    events._raw_delete(events.db)
    refresh_learner_days(workspace.pk, touched)
    _recompute_video_sessions(
        workspace,
        [
            (statement, user_id)
            for pk, statement, user_id in victims
            if pk not in new_pks and user_id and _is_video_player_statement(statement)
        ],
    )
    return set(victim_pks) & new_pks


def map_statements(workspace, items):
    """Derive learning-record rows from newly stored statements ([(_Incoming, XapiStatement)]).

    - registered / unregistered -> Enrollment (mode from the activity's acrossx `type` extension)
    - completed / passed / failed on a course -> the learner's Attempt state
    - played / paused / seeked / completed / terminated on a video -> the session's VideoView,
      recomputed from all of its statements; played also records a `played_video` event
    - answered / evaluated -> `attempted_problem`; commented / posted -> `posted_forum`;
      experienced / viewed / navigated -> `viewed`; any other verb -> an event named by the verb
    Statements whose actor names no learner (Groups, mbox_sha1sum, openid) are only stored.
    """
    mapped = [(item, row) for item, row in items if row.user_id and row.verb_id != VOIDED]
    if not mapped:
        return
    course_titles = {}
    for item, _ in mapped:
        activity = course_activity(item.statement)
        if activity is not None and isinstance(activity.get("id"), str):
            key = iri_last_segment(activity["id"])[:255]
            if key:
                item.extras["course_key"] = key
                course_titles.setdefault(key, _language_text((activity.get("definition") or {}).get("name")))
    course_ids = ensure_titled_courses(workspace, course_titles) if course_titles else {}

    events, enrollments, outcomes, video_items = [], [], [], []
    for item, row in mapped:
        statement = item.statement
        verb = verb_name(row.verb_id)
        course_id = course_ids.get(item.extras.get("course_key"))
        obj = statement["object"]
        result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
        is_video = (
            _is_activity(obj)
            and bool(obj.get("id"))
            and (_activity_type(obj) == VIDEO_TYPE or row.verb_id.startswith(VIDEO_VERBS_PREFIX))
        )
        is_course_object = _is_activity(obj) and _activity_type(obj) == COURSE_TYPE
        event_type = EVENT_TYPE_BY_VERB.get(verb, verb[:100])
        if verb in ENROLLMENT_ACTION_BY_VERB and course_id:
            extensions = (obj.get("definition") or {}).get("extensions") if is_course_object else None
            mode = extensions.get(EXT_ENROLLMENT_MODE, "") if isinstance(extensions, dict) else ""
            enrollments.append(EnrollmentChange(row.user_id, course_id, row.timestamp, ENROLLMENT_ACTION_BY_VERB[verb], str(mode)))
            continue
        if verb in COURSE_STATE_BY_VERB and is_course_object and course_id:
            state = COURSE_STATE_BY_VERB[verb]
            if verb == "completed" and result.get("success") is False:
                state = AttemptState.FAILED
            outcomes.append(AttemptOutcome(row.user_id, course_id, row.timestamp, state, _score_percent(result)))
            continue
        if is_video and verb in PLAYER_KIND_BY_VERB and course_id:
            video_items.append((statement, row.user_id))
            if verb != "played":
                continue
            event_type = "played_video"
        elif is_video and verb == "played":
            event_type = "played_video"
        events.append(
            {
                "id": row.pk,
                "user_id": row.user_id,
                "course_id": course_id,
                "type": event_type,
                "object": _event_object(obj, event_type)[:500],
                "occurred_at": row.timestamp,
                "data": _event_data(statement, result),
            }
        )
    upsert_events(workspace, events, source=EventSource.XAPI)
    apply_enrollment_changes(workspace, enrollments)
    apply_attempt_outcomes(workspace, outcomes)
    _recompute_video_sessions(workspace, video_items, course_ids=course_ids)


def _is_video_player_statement(statement):
    obj = statement["object"]
    return (
        _is_activity(obj)
        and bool(obj.get("id"))
        and (_activity_type(obj) == VIDEO_TYPE or statement["verb"]["id"].startswith(VIDEO_VERBS_PREFIX))
        and verb_name(statement["verb"]["id"]) in PLAYER_KIND_BY_VERB
    )


def _event_object(obj, event_type):
    if not _is_activity(obj) or not obj.get("id"):
        return ""
    # played_video names the video by its key, as tracking logs do; other events the activity.
    return video_key_from_iri(obj["id"]) if event_type == "played_video" else object_key(obj["id"])


def _event_data(statement, result):
    data = {"statementId": statement["id"], "verb": statement["verb"]["id"]}
    if "success" in result:
        data["success"] = result["success"]
    score = _score_percent(result)
    if score is not None:
        data["score"] = score
    return data


def _session_of(statement):
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    session = extensions.get(EXT_SESSION) or extensions.get(EXT_VIDEO_SESSION) or context.get("registration")
    if session:
        return str(session)
    # No session reported: one view per learner, video and UTC day.
    return "day:" + parse_timestamp(statement["timestamp"], "timestamp").date().isoformat()


def player_event(statement):
    """The video_sessions.PlayerEvent a video statement reports, or None."""
    kind = PLAYER_KIND_BY_VERB.get(verb_name(statement["verb"]["id"]))
    if kind is None:
        return None
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    extensions = result.get("extensions") if isinstance(result.get("extensions"), dict) else {}
    if kind == video_sessions.SEEK:
        position = video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME_FROM))
    else:
        position = video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME))
    return video_sessions.PlayerEvent(
        at=parse_timestamp(statement["timestamp"], "timestamp"),
        kind=kind,
        position=position,
        seek_to=video_sessions.clean_position(extensions.get(EXT_VIDEO_TIME_TO)),
        played_segments=video_sessions.parse_played_segments(extensions.get(EXT_VIDEO_PLAYED_SEGMENTS)),
        completed=result.get("completion") is True,
    )


def _video_length(statement):
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    length = video_sessions.clean_position(extensions.get(EXT_VIDEO_LENGTH))
    return round(length) if length else 0


def _recompute_video_sessions(workspace, video_items, course_ids=None):
    """Recompute the VideoView of every (learner, video, session) that video_items touch, from all
    of that session's live (not voided) statements, and store it."""
    if not video_items:
        return
    touched, actor_keys, specs, times = set(), set(), {}, []
    course_ids = course_ids or {}
    for statement, user_id in video_items:
        activity = course_activity(statement)
        course_key = iri_last_segment(activity["id"])[:255] if activity and activity.get("id") else ""
        if course_key and course_key not in course_ids:
            course_ids.update(ensure_titled_courses(workspace, {course_key: ""}))
        course_id = course_ids.get(course_key)
        if not course_id:
            continue
        key = video_key_from_iri(statement["object"]["id"])[:255]
        name = _language_text((statement["object"].get("definition") or {}).get("name"))
        spec = specs.get(key)
        specs[key] = VideoSpec(course_id, (spec.title if spec else "") or name, max(_video_length(statement), spec.duration_s if spec else 0))
        touched.add((user_id, key, _session_of(statement)))
        actor_keys.add(agent_key(statement["actor"])[:500])
        times.append(parse_timestamp(statement["timestamp"], "timestamp"))
    if not touched:
        return
    videos = ensure_videos(workspace, specs)
    # A viewing session lasts less than a day: its statements are the learner's within a day of
    # the ones at hand (the same video may be named by several IRIs, e.g. a CCX copy of a course).
    statements = XapiStatement.objects.filter(
        workspace=workspace,
        actor_key__in=actor_keys,
        timestamp__gte=min(times) - SESSION_WINDOW,
        timestamp__lte=max(times) + SESSION_WINDOW,
        is_voided=False,
    ).exclude(activity_id="").values_list("statement", "user_id")
    sessions = {}
    for statement, user_id in statements:
        key = (user_id, video_key_from_iri(statement["object"]["id"])[:255], _session_of(statement))
        if key in touched:
            event = player_event(statement)
            if event is not None:
                sessions.setdefault(key, []).append(event)
    views = []
    for (user_id, video_key, session), events in sessions.items():
        video = videos.get(video_key)
        if video is None:
            continue
        summary = video_sessions.summarize_session(events, video.duration_s, video.segment_length_s)
        views.append(
            {
                "id": derived_id("video-view", workspace.id, user_id, video_key, session),
                "user_id": user_id,
                "video_id": video.id,
                "started_at": summary.started_at,
                "watched_s": summary.watched_s,
                "position_s": summary.position_s,
                "segments": summary.segments,
                "is_completed": summary.is_completed,
            }
        )
    # Views only grow (records.upsert_video_views keeps the larger numbers): a session whose
    # statements are voided keeps what it had reached (documented).
    upsert_video_views(workspace, views, source=EventSource.XAPI, videos={video.id: video for video in videos.values()})
