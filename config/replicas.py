"""Reads on PostgreSQL streaming replicas (docs/scaling.md).

`DATABASE_REPLICA_URLS` adds one database alias per replica (`replica_1`, `replica_2`, ...). Reads
go to a replica only inside `replica_reads()`: `ReplicaReadsMiddleware` opens it for the read
requests (GET and HEAD, and the views that read with POST, marked `reads_from_replica = True`),
the export task for the rows of its file. Everything else reads and writes the primary:
writes, every request that writes (so a request always reads its own writes: the tracking
answer, xAPI GET after POST), reads inside a transaction on the primary, the models of the
apps in PRIMARY_APPS (sessions, users and credentials, export jobs: a client reads them back at
once after writing them), and the paths in REPLICA_PRIMARY_PATHS (the LRS: xAPI clients read
their own statements in the next request, and the admin).

A replica is used while it answers and its replay lag is at most `REPLICA_MAX_LAG_S`; each
process checks that at most every `REPLICA_CHECK_S` seconds. A replica that fails during a
request is marked down and the request is answered again from the primary.
"""

import contextlib
import contextvars
import itertools
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

# Models read back right after they are written (a login, a new API key, an export job polled
# after its POST): always on the primary.
PRIMARY_APPS = frozenset(
    {"sessions", "auth", "contenttypes", "accounts", "account", "socialaccount", "exports", "admin"}
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
         AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 'Infinity')
END
"""

_read_alias = contextvars.ContextVar("replica_read_alias", default=None)


@dataclass(frozen=True)
class ReplicaHealth:
    checked_at: float
    is_usable: bool
    lag_s: float | None


_health: dict[str, ReplicaHealth] = {}
_health_lock = threading.Lock()
_turn = itertools.count()


def replica_aliases():
    """The database aliases of the configured replicas, in order."""
    return settings.REPLICA_ALIASES


def replica_lag_s(alias):
    """Seconds the replica's data is behind the primary: 0 while it has replayed all it received
    and still streams; else the age of its last replayed transaction. Raises the database's
    OperationalError when it cannot be reached."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(LAG_SQL)
        return float(cursor.fetchone()[0])


def _check(alias, now):
    try:
        lag_s = replica_lag_s(alias)
    except (OperationalError, InterfaceError) as exc:
        logger.warning("Replica %s unreachable, reading from the primary: %s", alias, exc)
        connections[alias].close()
        return ReplicaHealth(now, False, None)
    is_usable = lag_s <= settings.REPLICA_MAX_LAG_S
    if not is_usable:
        logger.warning(
            "Replica %s lags %.1f s (> %s s), reading from the primary", alias, lag_s, settings.REPLICA_MAX_LAG_S
        )
    return ReplicaHealth(now, is_usable, lag_s)


def replica_health(alias, now=None):
    """The replica's last known health, checked again when older than REPLICA_CHECK_S."""
    now = time.monotonic() if now is None else now
    health = _health.get(alias)
    if health is None or now - health.checked_at >= settings.REPLICA_CHECK_S:
        health = _check(alias, now)
        with _health_lock:
            _health[alias] = health
    return health


def mark_down(alias):
    """Skip the replica until the next check (it failed during a request)."""
    connections[alias].close()
    with _health_lock:
        _health[alias] = ReplicaHealth(time.monotonic(), False, None)


def forget_health():
    """Check every replica again at the next read (tests, a changed configuration)."""
    with _health_lock:
        _health.clear()


def usable_replica():
    """A replica to read from (in turn among the usable ones), or None: read the primary."""
    aliases = replica_aliases()
    if not aliases:
        return None
    start = next(_turn)
    for offset in range(len(aliases)):
        alias = aliases[(start + offset) % len(aliases)]
        if replica_health(alias).is_usable:
            return alias
    return None


def read_connection():
    """The connection the current hand-written read SQL runs on (see read_alias)."""
    return connections[read_alias()]


def read_alias():
    """The alias the current reads use: the replica chosen for this request or task, except
    inside a transaction on the primary (which must see its own writes)."""
    alias = _read_alias.get()
    if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return alias


@contextlib.contextmanager
def replica_reads(alias=None):
    """Reads inside the block go to `alias` (default: a usable replica, if any). Yields the alias
    chosen, or None when reads stay on the primary. A lost connection inside the block marks the
    replica down, so that a retry reads the primary."""
    alias = alias if alias is not None else usable_replica()
    token = _read_alias.set(alias)
    try:
        yield alias
    except (OperationalError, InterfaceError):
        if alias is not None:
            mark_down(alias)  # a retry of the work reads the primary
        raise
    finally:
        _read_alias.reset(token)


@contextlib.contextmanager
def primary_reads():
    """Reads inside the block go to the primary, whatever the surrounding block chose."""
    token = _read_alias.set(None)
    try:
        yield
    finally:
        _read_alias.reset(token)


class ReplicaRouter:
    """DATABASE_ROUTERS entry: reads as `read_alias()` says (the apps of PRIMARY_APPS always on the
    primary), every write and every migration on the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_APPS:
            return DEFAULT_DB_ALIAS
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def reads_from_replica(request, view_func):
    """Whether this request's reads may go to a replica: a read (GET, HEAD, OPTIONS, or a view
    marked `reads_from_replica`) outside the paths that must read the primary."""
    if request.path.startswith(tuple(settings.REPLICA_PRIMARY_PATHS)):
        return False
    if request.method in SAFE_METHODS:
        return True
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return bool(getattr(view_class, "reads_from_replica", False) or getattr(view_func, "reads_from_replica", False))


class _FailureWatch:
    """An execute wrapper on the replica's connection that remembers a lost connection."""

    def __init__(self):
        self.has_failed = False

    def __call__(self, execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError):
            self.has_failed = True
            raise


class ReplicaReadsMiddleware:
    """Opens `replica_reads()` for the views that only read; when the replica fails during one
    (stopped, restarted, network lost), marks it down and answers the request again from the
    primary, so the client sees no error."""

    def __init__(self, get_response):
        if not replica_aliases():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        request.replica_reads = None
        try:
            response = self.get_response(request)
            replica = request.replica_reads
            if replica is not None and replica.is_lost():
                self._close(request)
                mark_down(replica.alias)
                logger.warning("Replica %s failed during %s; answering from the primary", replica.alias, request.path)
                response = self.get_response(request)
            return response
        finally:
            self._close(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.replica_reads is not None or not reads_from_replica(request, view_func):
            return None
        alias = usable_replica()
        if alias is None:
            return None
        try:
            connections[alias].close_if_health_check_failed()  # Django's once-per-request check
            connections[alias].ensure_connection()
        except (OperationalError, InterfaceError) as exc:
            logger.warning("Replica %s unreachable, reading from the primary: %s", alias, exc)
            mark_down(alias)
            return None
        if request.method not in SAFE_METHODS:
            request.body  # noqa: B018 (read now, so that a second answer can read it again)
        watch = _FailureWatch()
        connections[alias].execute_wrappers.insert(0, watch)  # outermost: sees every failure
        request.replica_reads = _RequestReplica(alias, watch, _read_alias.set(alias))
        return None

    @staticmethod
    def _close(request):
        replica = getattr(request, "replica_reads", None)
        if replica is None:
            return
        _read_alias.reset(replica.token)
        wrappers = connections[replica.alias].execute_wrappers
        if replica.watch in wrappers:
            wrappers.remove(replica.watch)
        request.replica_reads = None


@dataclass
class _RequestReplica:
    alias: str
    watch: _FailureWatch
    token: contextvars.Token

    def is_lost(self):
        """A lost connection shows as an error inside a statement (the watch) or, when Django
        reopens or makes a cursor between statements, outside any statement: Django then flags
        the connection's `errors_occurred` (cleared when a request starts and when the
        connection opens, so only this request's errors count)."""
        return self.watch.has_failed or connections[self.alias].errors_occurred


def warn_unreachable_replicas():
    """At start-up: a replica that cannot be reached is logged, not fatal (reads use the primary
    until it answers)."""
    for alias in replica_aliases():
        replica_health(alias)
