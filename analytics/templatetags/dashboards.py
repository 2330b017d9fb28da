"""Formatting for the instructor and admin dashboards (presentation only, no numbers made here)."""

import json

from django import template

register = template.Library()


@register.filter
def json_attr(value):
    """The value as JSON text, for a data-* attribute (the template escapes it)."""
    return json.dumps(value or {}, separators=(",", ":"))


@register.filter
def percent(ratio, places=1):
    """A ratio (0.4567) as a percentage (`45.7 %`); an em dash when unknown."""
    if ratio in (None, ""):
        return "—"
    return f"{float(ratio) * 100:.{int(places)}f} %"


@register.filter
def get(mapping, key):
    """mapping[key] in a template (labels by state, links by column)."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return ""
