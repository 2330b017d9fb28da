#!/usr/bin/env bash
# Starts a Celery worker (with beat) in the background and the web server in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR_DIR=${VAR_DIR:-var}  # settings.py reads the same variable
mkdir -p "$VAR_DIR/log"
"$BIN/celery" -A config worker --beat --loglevel=info --concurrency=2 \
  --schedule="$VAR_DIR/celerybeat-schedule" >"$VAR_DIR/log/worker.log" 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true' EXIT INT TERM
"$BIN/python" manage.py demo_logins --url "http://$HOST:$PORT/"
echo "Celery worker log: $VAR_DIR/log/worker.log"
"$BIN/python" manage.py runserver "$HOST:$PORT"
