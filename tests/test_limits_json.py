"""config.limits.json_problem: the quick walk without paths finds exactly the bodies the walk
with paths refuses, and the answer (path and message) is the latter's."""

import pytest

from config.limits import _json_problem_at, json_problem


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


VALUES = [
    [{"id": "a", "page": "Course Player", "duration": 30, "data": {"x": [1, 2.5, None, True]}}] * 3,
    {"note": "a\u0000b"},
    [{"ok": 1}, {"data": {"a\u0000b": 1}}],
    [1.0, float("inf")],
    {"deep": nested(64)},
    nested(63),
    nested(64),
    {"list": [{"a": "fine"}, {"b": float("nan")}], "c": "x\u0000"},
    "plain text",
    "\u0000",
]


@pytest.mark.parametrize("value", VALUES)
def test_quick_walk_answers_as_the_walk_with_paths(value):
    assert json_problem(value) == _json_problem_at(value, 64)


def test_problems_are_found_and_named():
    assert json_problem({"note": "a\u0000b"}) == ("note", "text may not contain NUL characters (\\u0000)")
    assert json_problem([{"ok": 1}, {"n": float("inf")}]) == (
        "[1].n",
        "the number is too large (beyond a double's range)",
    )
    assert json_problem(nested(64)) is None
    assert json_problem(nested(65))[1] == "JSON may not be nested deeper than 64 levels"
