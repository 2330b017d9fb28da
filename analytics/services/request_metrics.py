"""Buffered recording of the service's API requests into RequestMetric.

The middleware only appends a tuple to an in-memory list (microseconds). The rows reach the
database in bulk: a background thread of each process writes them every
REQUEST_METRICS_FLUSH_SECONDS, or at once when REQUEST_METRICS_BATCH_SIZE rows are waiting, and
whatever is left when the process exits. With REQUEST_METRICS_BACKGROUND=0 the request that
fills a batch (or finds the interval passed) writes it itself, after its response is built.
A process killed with SIGKILL loses its unwritten rows: at most one batch or interval.
"""

import atexit
import logging
import os
import re
import threading
import time
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, connection

from analytics.models import RequestMetric

logger = logging.getLogger(__name__)

ROUTE_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@lru_cache(maxsize=1024)
def path_template(route):
    """The readable path template of a Django route, as API documents write paths:
    `/analytics/videos/<str:id>` -> `/analytics/videos/{id}`. This is what RequestMetric.endpoint
    holds and what /analytics/system/performance's byEndpoint keys show."""
    return ROUTE_PARAMETER.sub(r"{\1}", route)


class RequestMetricRecorder:
    def __init__(self):
        self._lock = threading.Lock()
        self._rows = []
        self._last_flush = time.monotonic()
        self._wake = threading.Event()
        self._thread = None
        self._pid = os.getpid()
        atexit.register(self.flush)

    def record(self, at, workspace_id, method, endpoint, status, latency_ms):
        """Buffer one request; never touches the database unless running inline."""
        self._after_fork()
        batch_size = settings.REQUEST_METRICS_BATCH_SIZE
        interval_s = settings.REQUEST_METRICS_FLUSH_SECONDS
        with self._lock:
            self._rows.append((at, workspace_id, method, endpoint, status, latency_ms))
            is_due = len(self._rows) >= batch_size or time.monotonic() - self._last_flush >= interval_s
        if settings.REQUEST_METRICS_BACKGROUND:
            self._ensure_thread()
            if is_due:
                self._wake.set()
        elif is_due:
            self.flush()

    def pending(self):
        with self._lock:
            return len(self._rows)

    def discard(self):
        """Forget buffered rows (tests)."""
        with self._lock:
            self._rows = []
            self._last_flush = time.monotonic()

    def flush(self):
        """Write the buffered rows with bulk_create on this thread's connection; returns how many.

        A database error drops the batch with a warning: metrics must never break a request.
        """
        with self._lock:
            rows, self._rows = self._rows, []
            self._last_flush = time.monotonic()
        if not rows:
            return 0
        metrics = [
            RequestMetric(
                at=at, workspace_id=workspace_id, method=method, endpoint=endpoint, status=status, latency_ms=latency_ms
            )
            for at, workspace_id, method, endpoint, status, latency_ms in rows
        ]
        try:
            RequestMetric.objects.bulk_create(metrics, batch_size=500)
        except DatabaseError as exc:
            logger.warning("Dropped %d request metrics: %s", len(rows), exc)
            return 0
        return len(rows)

    def _after_fork(self):
        # A forked worker (gunicorn --preload) inherits the parent's buffer but not its thread.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._rows = []
            self._wake = threading.Event()
            self._thread = None

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="request-metrics", daemon=True)
                    self._thread.start()

    def _run(self):
        while True:
            self._wake.wait(timeout=settings.REQUEST_METRICS_FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            finally:
                # This thread's own connection: closed between flushes so a restarted
                # database or a long idle time never leaves it broken.
                connection.close()


recorder = RequestMetricRecorder()
