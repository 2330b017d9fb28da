#!/usr/bin/env bash
# Starts a Celery worker (with beat) in the background and the web server in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
mkdir -p var/log
"$BIN/celery" -A config worker --beat --loglevel=info --concurrency=2 \
  --schedule=var/celerybeat-schedule >var/log/worker.log 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true' EXIT INT TERM
"$BIN/python" manage.py demo_logins --url "http://$HOST:$PORT/"
echo "Celery worker log: var/log/worker.log"
"$BIN/python" manage.py runserver "$HOST:$PORT"
