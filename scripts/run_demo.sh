#!/usr/bin/env bash
# Starts a Celery worker (with beat) in the background and the web server in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR_DIR=${VAR_DIR:-var}  # settings.py reads the same variable
mkdir -p "$VAR_DIR/log"
# The once-a-minute health check (VideoCloud uptime) probes this server, wherever it listens.
export HEALTH_CHECK_URL=${HEALTH_CHECK_URL:-http://$HOST:$PORT/api/health/}
"$BIN/celery" -A config worker --beat --loglevel=info --concurrency=2 \
  --schedule="$VAR_DIR/celerybeat-schedule" >"$VAR_DIR/log/worker.log" 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true' EXIT INT TERM
"$BIN/python" manage.py demo_logins --url "http://$HOST:$PORT/"
echo "Celery worker log: $VAR_DIR/log/worker.log"
"$BIN/python" manage.py runserver "$HOST:$PORT"
