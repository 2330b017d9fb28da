"""Filters in the LHS bracket syntax of 360Learning's API v2: `field[op]=value`.

A table (public field name -> FilterField) says which ORM lookup a field reads and what kind of
value it takes. `parse_bracket_filters` turns query parameters into `Condition`s, rejecting an
unknown field or operator and a value of the wrong kind with a `FilterError` that names the
parameter; `conditions_q` turns the conditions into one `Q` (all conditions must hold).

Operators: eq, ne, in, nin, gt, gte, lt, lte. `in`/`nin` take a comma-separated list
(`courseId[in]=a,b`), the parameter repeated (`courseId[in]=a&courseId[in]=b`) or the
`courseId[in][]=a` form. `ne` and `nin` also match rows where the field is empty (NULL), as
MongoDB's `$ne`/`$nin` match documents without the field.
"""

import re
from dataclasses import dataclass, field as dataclass_field

from django.db.models import Q

from analytics.formats import TIME_RANGE_MESSAGE, in_time_range, parse_iso_datetime

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte")
LIST_OPERATORS = frozenset({"in", "nin"})
EQUALITY_OPERATORS = ("eq", "ne", "in", "nin")
MAX_LIST_VALUES = 1000
MAX_VALUE_LENGTH = 255
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

OBJECT_ID_RE = re.compile(r"^[0-9a-fA-F]{24}$")
PARAM_RE = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*)\[(?P<op>[^\[\]]*)\](?P<list>\[\])?$")

# Value kinds and what each expects, for error messages.
KIND_DESCRIPTIONS = {
    "string": "a non-empty string",
    "email": "a non-empty email address",
    "object_id": "a 24-character hexadecimal id",
    "integer": "an integer",
    "datetime": "an ISO 8601 date-time such as 2025-06-30T13:23:56.059Z",
    "choice": "one of the listed values",
}


class FilterError(ValueError):
    """A query parameter that is not a valid filter. `param` names it as the client sent it."""

    def __init__(self, param, message):
        self.param = param
        self.message = message
        super().__init__(f"{param}: {message}")


@dataclass(frozen=True)
class FilterField:
    """A filterable field: the ORM lookup it reads, its value kind and the operators it allows.

    For kind "choice", `choices` maps each public value to the Q that selects it (the stored
    representation can differ from the public one, e.g. status `active` -> `is_active=True`).
    """

    lookup: str
    kind: str
    operators: tuple = OPERATORS
    choices: dict = dataclass_field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KIND_DESCRIPTIONS:
            raise ValueError(f"unknown filter kind {self.kind!r}")


@dataclass(frozen=True)
class Condition:
    """One parsed filter: `lookup op value`; `value` is a tuple for in/nin.

    For choice fields `lookup` is None and the values are the Q objects of the chosen values.
    """

    lookup: str | None
    op: str
    value: object

    def q(self):
        if self.lookup is None:
            values = self.value if isinstance(self.value, tuple) else (self.value,)
            combined = Q(pk__in=[])
            for choice_q in values:
                combined |= choice_q
            return ~combined if self.op in ("ne", "nin") else combined
        if self.op == "eq":
            return Q(**{self.lookup: self.value})
        if self.op == "ne":
            return ~Q(**{self.lookup: self.value})
        if self.op == "in":
            return Q(**{f"{self.lookup}__in": self.value})
        if self.op == "nin":
            return ~Q(**{f"{self.lookup}__in": self.value})
        return Q(**{f"{self.lookup}__{self.op}": self.value})


def conditions_q(conditions):
    """The Q that holds when every condition holds (an empty Q when there are none)."""
    combined = Q()
    for condition in conditions:
        combined &= condition.q()
    return combined


def _parse_value(param, spec, raw):
    text = raw.strip()
    if not text:
        raise FilterError(param, f"empty value; expected {KIND_DESCRIPTIONS[spec.kind]}")
    if len(text) > MAX_VALUE_LENGTH:
        raise FilterError(param, f"value longer than {MAX_VALUE_LENGTH} characters")
    if spec.kind == "string":
        return text
    if spec.kind == "email":
        return text.lower()
    if spec.kind == "object_id":
        if not OBJECT_ID_RE.match(text):
            raise FilterError(param, f"{text!r} is not {KIND_DESCRIPTIONS['object_id']}")
        return text.lower()
    if spec.kind == "integer":
        if not re.fullmatch(r"[+-]?\d{1,10}", text) or not INT32_MIN <= int(text) <= INT32_MAX:
            raise FilterError(param, f"{text!r} is not {KIND_DESCRIPTIONS['integer']}")
        return int(text)
    if spec.kind == "datetime":
        value = parse_iso_datetime(text)
        if value is None:
            raise FilterError(param, f"{text!r} is not {KIND_DESCRIPTIONS['datetime']}")
        if not in_time_range(value):
            raise FilterError(param, f"{text!r} {TIME_RANGE_MESSAGE}")
        return value
    # choice
    if text not in spec.choices:
        raise FilterError(param, f"{text!r} is not one of {', '.join(spec.choices)}")
    return spec.choices[text]


def parse_bracket_filters(params, fields, reserved=()):
    """Parse `field[op]=value` query parameters into a list of Conditions.

    `params` is a Django QueryDict (or anything with `.lists()`), `fields` the table of
    public field name -> FilterField, `reserved` parameter names that are not filters (the
    pagination cursor). Plain parameters that name no field are ignored. Raises FilterError
    naming the first bad parameter: an unknown bracket field or operator, a field without brackets, a non-list operator given twice,
    or a value of the wrong kind. Several operators on one field all apply (a range:
    `completedAt[gte]=...&completedAt[lt]=...`).
    """
    conditions = []
    for param, raw_values in params.lists():
        if param in reserved:
            continue
        match = PARAM_RE.match(param)
        if match is None:
            name = param.split("[", 1)[0]
            if name in fields:
                raise FilterError(param, f"use the bracket syntax, e.g. {name}[eq]=value")
            continue  # a plain parameter that names no field (`limit`, `_`): ignored, as 360Learning does
        name, op = match["field"], match["op"]
        spec = fields.get(name)
        if spec is None:
            raise FilterError(param, f"unknown field {name!r}; the filterable fields are {', '.join(fields)}")
        if op not in spec.operators:
            raise FilterError(param, f"unknown operator {op!r} for {name}; use one of {', '.join(spec.operators)}")
        lookup = None if spec.kind == "choice" else spec.lookup
        if op in LIST_OPERATORS:
            items = [item for raw in raw_values for item in raw.split(",")]
            if len(items) > MAX_LIST_VALUES:
                raise FilterError(param, f"more than {MAX_LIST_VALUES} values")
            values = tuple(_parse_value(param, spec, item) for item in items)
            conditions.append(Condition(lookup, op, values))
            continue
        if match["list"]:
            raise FilterError(param, f"operator {op!r} takes a single value, not a list")
        if len(raw_values) > 1:
            raise FilterError(param, "given more than once")
        conditions.append(Condition(lookup, op, _parse_value(param, spec, raw_values[0])))
    return conditions
