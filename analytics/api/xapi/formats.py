"""The `format` of GET /xapi/statements (xAPI Communication 2.1.3): `exact` returns statements as
stored, `ids` only what identifies each Agent, Group, Verb and Activity, `canonical` the
workspace's canonical activity definitions and one language per language map, chosen by
`Accept-Language`."""

import re

FORMATS = ("exact", "ids", "canonical")
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
FALLBACK_LANGUAGES = ("en-US", "en")
LANGUAGE_MAPS_OF_DEFINITION = ("name", "description")
INTERACTION_COMPONENTS = ("choices", "scale", "source", "target", "steps")


def accepted_languages(header):
    """The language ranges of an Accept-Language header, most preferred first (q=0 left out)."""
    ranges = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag:
            continue
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            quality = float(match.group(1)) if match else 1.0
        except ValueError:
            quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranges)]


def _one_language(language_map, languages):
    """The language map cut to its best entry for `languages` (RFC 4647 lookup, then en-US, en,
    then its first entry)."""
    if not isinstance(language_map, dict) or len(language_map) <= 1:
        return language_map
    by_lower = {tag.lower(): tag for tag in language_map}
    for wanted in [*languages, *(tag.lower() for tag in FALLBACK_LANGUAGES)]:
        if wanted == "*":
            break
        prefix = wanted
        while prefix:
            if prefix in by_lower:
                tag = by_lower[prefix]
                return {tag: language_map[tag]}
            prefix = prefix.rpartition("-")[0]
    tag = next(iter(language_map))
    return {tag: language_map[tag]}


def _ids_agent(agent):
    if not isinstance(agent, dict):
        return agent
    kept = {key: agent[key] for key in ("objectType", *IFI_KEYS) if key in agent}
    if agent.get("objectType") == "Group" and not any(key in agent for key in IFI_KEYS):
        kept["member"] = [_ids_agent(member) for member in agent.get("member") or []]
    return kept


def _canonical_activity(activity, definitions, languages):
    definition = definitions.get(activity.get("id"), activity.get("definition"))
    if not isinstance(definition, dict):
        return activity
    definition = dict(definition)
    for key in LANGUAGE_MAPS_OF_DEFINITION:
        if key in definition:
            definition[key] = _one_language(definition[key], languages)
    for key in INTERACTION_COMPONENTS:
        if isinstance(definition.get(key), list):
            definition[key] = [
                {**component, "description": _one_language(component["description"], languages)}
                if isinstance(component, dict) and "description" in component
                else component
                for component in definition[key]
            ]
    return {**activity, "definition": definition}


def _transform(statement, agent, verb, activity):
    """A copy of statement with each Agent/Group, Verb and Activity passed through its function
    (in the actor, object, authority, context and a SubStatement)."""
    result = dict(statement)
    result["actor"] = agent(statement["actor"])
    result["verb"] = verb(statement["verb"])
    obj = statement["object"]
    object_type = obj.get("objectType", "Activity") if isinstance(obj, dict) else None
    if object_type in ("Agent", "Group"):
        result["object"] = agent(obj)
    elif object_type == "SubStatement":
        result["object"] = _transform(obj, agent, verb, activity)
    elif object_type != "StatementRef":
        result["object"] = activity(obj)
    if "authority" in statement:
        result["authority"] = agent(statement["authority"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = agent(context[key])
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            context["contextActivities"] = {
                key: [activity(item) for item in value] if isinstance(value, list) else activity(value)
                for key, value in activities.items()
            }
        result["context"] = context
    return result


def activity_ids(statement):
    """The ids of every Activity a statement names (for loading canonical definitions)."""
    found = []

    def collect(activity):
        if isinstance(activity, dict) and isinstance(activity.get("id"), str):
            found.append(activity["id"])
        return activity

    _transform(statement, lambda agent: agent, lambda verb: verb, collect)
    return found


def formatted(statement, format_name, *, definitions=None, languages=()):
    """statement in format_name; canonical reads definitions ({activity id: definition})."""
    if format_name == "ids":
        return _transform(
            statement,
            _ids_agent,
            lambda verb: {"id": verb["id"]},
            lambda activity: {"id": activity["id"]} if isinstance(activity, dict) and "id" in activity else activity,
        )
    if format_name == "canonical":
        return _transform(
            statement,
            lambda agent: agent,
            lambda verb: {**verb, "display": _one_language(verb["display"], languages)} if "display" in verb else verb,
            lambda activity: _canonical_activity(activity, definitions or {}, languages),
        )
    return statement
