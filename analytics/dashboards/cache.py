"""Short-lived caching of the dashboards' heavy sections, and how fresh they are.

A section (its query results and rendered charts) is cached under the workspace, the page, what
the viewer may see (an instructor's courses differ from an admin's workspace) and the filters,
for DASHBOARD_CACHE_SECONDS (default 120 s). Each cached value carries the time it was computed;
the page shows "data as of HH:MM" from the oldest section it shows. The cache is Django's default
cache: local memory per process in the demo, Redis (CACHE_URL) when several processes serve.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

# Cached sections hold rendered chart HTML: a new version when its format changes (2: charts as
# JSON data blocks drawn by static/js/charts.js, for the Content-Security-Policy).
KEY_VERSION = 2


def cache_seconds():
    return getattr(settings, "DASHBOARD_CACHE_SECONDS", 120)


@dataclass(frozen=True)
class Section:
    value: object
    as_of: datetime


def _generation_key(workspace_id):
    return f"dash:generation:{workspace_id}"


def section_key(workspace, name, *parts):
    """The cache key of a section: readable prefix, the workspace's generation, hashed parameters."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    generation = cache.get(_generation_key(workspace.pk), 0)
    return f"dash:v{KEY_VERSION}:{workspace.pk}:{generation}:{name}:{digest}"


def forget_workspace_sections(workspace_id):
    """Every cached section of the workspace is stale from now on (an erasure: figures computed
    with the erased person's rows must not be shown again). Bumps the workspace's generation,
    which every section key carries; the old entries expire on their own."""
    key = _generation_key(workspace_id)
    cache.add(key, 0, None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, None)


def cached_section(workspace, name, parts, compute):
    """Section(value, as_of): `compute()` run at most once per DASHBOARD_CACHE_SECONDS for the
    same workspace, section name and parameters (`parts`: a tuple of plain values)."""
    key = section_key(workspace, name, *parts)
    hit = cache.get(key)
    if hit is not None:
        return hit
    section = Section(value=compute(), as_of=timezone.now())
    cache.set(key, section, cache_seconds())
    return section


def oldest(*sections):
    """The time of the oldest of the sections shown (None when there are none)."""
    times = [section.as_of for section in sections if section is not None]
    return min(times) if times else None


def peek_section(workspace, name, parts):
    """The cached Section, or None when it is not (or no longer) cached: never computes."""
    return cache.get(section_key(workspace, name, *parts))
