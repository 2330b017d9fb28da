"""Limits on what a request body or an imported line may hold: the body size of each path, and
the JSON every door accepts (nesting depth, NUL characters, finite numbers).

Plain functions, shared by the HTTP layer (analytics/api/request_limits.py: the middleware and the
DRF parser that answer these limits in each family's envelope), the xAPI endpoints and the
interchange import (analytics/services/records/files.py). The rules and numbers:
docs/api/limits.md.
"""

import json
import math

from django.conf import settings

MAX_JSON_DEPTH = 64
NUL = "\x00"


def human_bytes(size):
    """`10 MiB`, `512 KiB`, `900 bytes`."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def body_limit_for(path):
    """Bytes a request body to this path may hold."""
    if path.rstrip("/") == "/api/import":
        return settings.IMPORT_MAX_BODY_BYTES
    return settings.API_MAX_BODY_BYTES


def json_path(parent, key):
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def json_problem(value, max_depth=MAX_JSON_DEPTH):
    """None when a parsed JSON value is acceptable, else (path, message): nesting deeper than
    max_depth, a NUL character in a string or a key, or a number too large for a double (1e400
    parses as infinity, which no JSON column stores). Iterative, so any depth is safe."""
    # Almost every body is acceptable: a walk without paths settles it; paths are only spelt out
    # (by the same walk in the same order, so the same first problem) when there is one.
    if not _has_json_problem(value, max_depth):
        return None
    return _json_problem_at(value, max_depth)


def _has_json_problem(value, max_depth):
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is dict:
            if depth > max_depth:
                return True
            children = item.values()
            for key in item:
                if NUL in key:
                    return True
        elif kind is list:
            if depth > max_depth:
                return True
            children = item
        elif kind is str:
            if NUL in item:
                return True
            continue
        elif kind is float:
            if not math.isfinite(item):
                return True
            continue
        elif kind in _PLAIN_SCALARS:
            continue
        else:  # a subclass or another type: the walk with paths decides
            return True
        for child in children:
            kind = type(child)
            if kind is str:
                if NUL in child:
                    return True
            elif kind not in _PLAIN_SCALARS:
                push((child, depth + 1))
    return False


_PLAIN_SCALARS = frozenset({int, bool, type(None)})


def _json_problem_at(value, max_depth):
    stack = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where, "text may not contain NUL characters (\\u0000)"
            continue
        if isinstance(item, float) and not math.isfinite(item):
            return where, "the number is too large (beyond a double's range)"
        if not isinstance(item, (dict, list)):
            continue
        if depth > max_depth:
            return where, f"JSON may not be nested deeper than {max_depth} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                if NUL in key:
                    return json_path(
                        where, key.replace(NUL, "\\u0000")
                    ), "keys may not contain NUL characters (\\u0000)"
                stack.append((child, json_path(where, key), depth + 1))
        else:
            stack.extend((child, json_path(where, index), depth + 1) for index, child in enumerate(item))
    return None


def problem_message(problem):
    where, message = problem
    return f"{where}: {message}" if where else message


def loads_bounded(text):
    """json.loads, raising ValueError (with the JSON path) for what json_problem refuses and for
    nesting too deep for the parser itself."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise ValueError(f"JSON may not be nested deeper than {MAX_JSON_DEPTH} levels") from exc
    problem = json_problem(value)
    if problem:
        raise ValueError(problem_message(problem))
    return value
