"""Parsers for the fields of interchange records.

Each parser takes the JSON value of one field and returns the clean Python value, or raises
FieldError with the reason (a short sentence a client can act on). They never touch the database.
"""

import math
from functools import lru_cache
import uuid

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from analytics.definitions import round_half_up
from analytics.formats import TIME_RANGE_MESSAGE, in_time_range, parse_iso_datetime
from analytics.services.problem_rollups import list_answer

COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)
# A page session or video view longer than a week is a client bug, not a learner.
MAX_DURATION_S = 7 * 24 * 3600
MAX_INT = 2**31 - 1


class FieldError(ValueError):
    """The reason one field of a record is invalid."""


def parse_text(max_length, *, allow_blank=False):
    def parse(value):
        if not isinstance(value, str):
            raise FieldError("must be a string")
        value = value.strip()
        if not value and not allow_blank:
            raise FieldError("must not be blank")
        if len(value) > max_length:
            raise FieldError(f"must be at most {max_length} characters")
        return value

    return parse


def parse_email(value):
    if not isinstance(value, str):
        raise FieldError("must be an email address")
    return _parse_email_text(value)


@lru_cache(maxsize=4096)
def _parse_email_text(value):
    # Cached: a batch names the same few users many times, and the email check is a slow regex.
    value = value.strip().lower()
    if len(value) > 254:
        raise FieldError("must be at most 254 characters")
    try:
        validate_email(value)
    except ValidationError:
        raise FieldError("must be an email address") from None
    return value


def parse_uuid(value):
    if isinstance(value, str):
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            pass
    raise FieldError("must be a UUID")


def parse_time(value):
    """An aware datetime from ISO 8601 text; a time without an offset is UTC."""
    parsed = parse_iso_datetime(value)
    if parsed is None:
        raise FieldError("must be an ISO 8601 time such as 2026-03-01T09:30:00Z")
    return within_time_range(parsed)


def within_time_range(value):
    """value (aware) if it lies in [EARLIEST_TIME, LATEST_TIME) (analytics.formats), else FieldError."""
    if not in_time_range(value):
        raise FieldError(TIME_RANGE_MESSAGE)
    return value


def _number(value):
    # bool is an int in Python, never a number in JSON records.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldError("must be a number")
    return value


def parse_whole(minimum=0, maximum=MAX_INT, *, unit=""):
    """A number rounded half up to a whole number, within [minimum, maximum]."""
    suffix = f" {unit}" if unit else ""

    def parse(value):
        number = round_half_up(_number(value))
        if number < minimum or number > maximum:
            raise FieldError(f"must be between {minimum} and {maximum}{suffix}")
        return number

    return parse


def parse_int(minimum=0, maximum=MAX_INT):
    """A whole number (no fraction) within [minimum, maximum]."""

    def parse(value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("must be a whole number")
        if value < minimum or value > maximum:
            raise FieldError(f"must be between {minimum} and {maximum}")
        return value

    return parse


def parse_float(minimum=0.0, maximum=1e9):
    def parse(value):
        number = float(_number(value))
        if number < minimum or number > maximum:
            raise FieldError(f"must be between {minimum:g} and {maximum:g}")
        return number

    return parse


def parse_bool(value):
    if not isinstance(value, bool):
        raise FieldError("must be true or false")
    return value


def parse_choice(choices, *, upper=False):
    """One of the choices (a TextChoices class or an iterable of strings)."""
    values = tuple(getattr(choices, "values", choices))
    allowed = frozenset(values)
    listing = ", ".join(values)

    def parse(value):
        if isinstance(value, str):
            value = value.strip()
            value = value.upper() if upper else value.lower()
            if value in allowed:
                return value
        raise FieldError(f"must be one of {listing}")

    return parse


def parse_country(value):
    if isinstance(value, str) and value.strip().upper() in COUNTRY_CODES:
        return value.strip().upper()
    raise FieldError("must be an ISO 3166 alpha-2 country code such as FR")


_url_validator = URLValidator(schemes=["http", "https"])


def parse_url(max_length=500):
    def parse(value):
        if not isinstance(value, str):
            raise FieldError("must be an http(s) URL")
        value = value.strip()
        if not value:
            return ""
        if len(value) > max_length:
            raise FieldError(f"must be at most {max_length} characters")
        try:
            _url_validator(value)
        except ValidationError:
            raise FieldError("must be an http(s) URL") from None
        return value

    return parse


def parse_list(item_parser, *, max_items=10_000, unique=True):
    def parse(value):
        if not isinstance(value, list):
            raise FieldError("must be a list")
        if len(value) > max_items:
            raise FieldError(f"must have at most {max_items} items")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(item_parser(item))
            except FieldError as exc:
                raise FieldError(f"item {index} {exc}") from None
        if unique:
            items = list(dict.fromkeys(items))
        return items

    return parse


def parse_object(max_chars=20_000):
    """A JSON object (dict), kept as is, of bounded size."""

    def parse(value):
        if not isinstance(value, dict):
            raise FieldError("must be a JSON object")
        if len(repr(value)) > max_chars:
            raise FieldError(f"must be at most {max_chars} characters")
        return value

    return parse


def parse_attributes(value):
    """{field name: value}: names up to 100 characters, values strings or numbers (null clears)."""
    if not isinstance(value, dict):
        raise FieldError("must be an object of field name to value")
    clean = {}
    for name, item in value.items():
        name = name.strip()
        if not name or len(name) > 100:
            raise FieldError("field names must be 1 to 100 characters")
        if item is None or item == "":
            clean[name] = None
        elif isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise FieldError(f"value of {name!r} must be a string or a number")
        else:
            text = str(item).strip()
            if len(text) > 255:
                raise FieldError(f"value of {name!r} must be at most 255 characters")
            clean[name] = text or None
    return clean


def parse_answer(max_length):
    """An answer as text: a string kept as sent, or a list of strings (checkboxes) as `[a|b]`,
    Open edX's spelling of a list answer (problem_rollups.list_answer)."""

    def parse(value):
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise FieldError("must be a string or a list of strings")
            value = list_answer(value)
        elif not isinstance(value, str):
            raise FieldError("must be a string or a list of strings")
        if len(value) > max_length:
            raise FieldError(f"must be at most {max_length} characters")
        return value

    return parse
