"""A Celery worker whose exports write slowly, so that a test or the drill can kill it mid-export.

    python -m tests.reliability.slow_export_worker worker --pool=solo -Q QUEUE ...

Exports write SLOW_EXPORT_BATCH_ROWS rows per batch and pause SLOW_EXPORT_PAUSE_S after saving
each batch's progress. Redelivery of a task whose worker died is made quick (the broker's
visibility timeout is SLOW_EXPORT_VISIBILITY_S, swept every second) instead of the production
hour. Test-only: the project's code is patched here, never configured for it.
"""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from config.celery import app  # noqa: E402
from exports import services  # noqa: E402

PAUSE_S = float(os.environ.get("SLOW_EXPORT_PAUSE_S", "1"))
services.BATCH_SIZE = int(os.environ.get("SLOW_EXPORT_BATCH_ROWS", "2"))
_record_progress = services._record_progress


def slow_record_progress(job, written):
    _record_progress(job, written)
    time.sleep(PAUSE_S)


services._record_progress = slow_record_progress
app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "visibility_timeout": int(os.environ.get("SLOW_EXPORT_VISIBILITY_S", "3")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
