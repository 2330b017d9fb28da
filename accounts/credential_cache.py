"""The credential lookups of every API request, cached (issue 21: per-request cost).

Resolving a credential (an API key and its workspace; a user's membership, workspace and user)
costs a query built by the ORM on every request: more CPU than many an endpoint's own SQL. The
lookups are kept in Django's default cache for CREDENTIAL_CACHE_S seconds (0: not cached), keyed
by what the request presents (the API key's hash; the user id and the workspace asked for).

Any change to what a credential resolves to makes every cached lookup stale at once: each entry
is stored with the credentials *generation* read before its database read, and a change bumps
the generation. Changes are: saves and deletes of API keys, memberships, workspaces and users
(signals, accounts/apps.py), and their querysets' update, bulk_update and bulk_create
(accounts/models.py), except an API key's last-use stamp and a user's last login, which no
credential reads. The generation is bumped when the change is made (the writing transaction sees
it) and again after its commit, so that a lookup that read the database before the commit cannot
keep what it read. A revoked key, a removed member, a changed role or a disabled Analyse API is
therefore refused or seen on the next request.

Where the cache is shared (Redis, CACHE_URL) that holds for every process; so the cache is on by
default only then (config/settings.py): with the per-process local-memory cache another process
would see a change made elsewhere only when its entry expires. Writes that bypass the ORM (raw
SQL) are seen within CREDENTIAL_CACHE_S.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "credentials:generation"


def _ttl_s():
    return getattr(settings, "CREDENTIAL_CACHE_S", 30)


def _current_generation(found):
    generation = found.get(GENERATION_KEY)
    if generation is None:
        # First use, or the counter was evicted: a value no stored entry can carry.
        cache.add(GENERATION_KEY, time.time_ns(), None)
        generation = cache.get(GENERATION_KEY)
    return generation


def _bump_generation():
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no counter yet (or evicted): every entry is stale anyway
        cache.set(GENERATION_KEY, time.time_ns(), None)


def credentials_changed(**kwargs):
    """Every cached credential lookup is stale: now, and again once the change is committed.
    A signal receiver (hence **kwargs) and a plain call alike."""
    _bump_generation()
    transaction.on_commit(_bump_generation)


class CachedLookup:
    """One cached lookup: `CachedLookup(key).get(load)` answers the cached value, or load()'s
    (stored unless None: refusals are never cached)."""

    def __init__(self, key):
        self.key = key
        self.generation = None

    def get(self, load):
        ttl = _ttl_s()
        if not ttl:
            return load()
        found = cache.get_many([GENERATION_KEY, self.key])
        self.generation = _current_generation(found)
        entry = found.get(self.key)
        if entry is not None and self.generation is not None and entry[0] == self.generation:
            return entry[1]
        value = load()
        self.replace(value)
        return value

    def replace(self, value):
        """Store value under the generation read before it was loaded (never a later one: a
        change committed in between must leave it stale)."""
        if value is not None and self.generation is not None and _ttl_s():
            cache.set(self.key, (self.generation, value), _ttl_s())
