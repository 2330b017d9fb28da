#!/usr/bin/env bash
# make conformance: ADL's xAPI LRS conformance suite (shared/tools/xapi-conformance) against this
# service on a fresh PostgreSQL database, served by gunicorn, with a new admin API key.
#   CONFORMANCE_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/la_conformance (dropped first)
#   CONFORMANCE_PORT          default 8765
#   CONFORMANCE_GROUPS        a regular expression over the suite's group titles (default: all,
#                             and then the client libraries of scripts/xapi_clients/)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PORT=${CONFORMANCE_PORT:-8765}
export DATABASE_URL=${CONFORMANCE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/la_conformance}
export DEBUG=0 SECURE_SSL_REDIRECT=0 SECRET_KEY=${SECRET_KEY:-conformance-run-only-$RANDOM$RANDOM} XAPI_RATE_LIMIT=
export ALLOWED_HOSTS=127.0.0.1,localhost CELERY_TASK_ALWAYS_EAGER=1
export VAR_DIR=${VAR_DIR:-var/conformance}
export MEDIA_ROOT="$VAR_DIR/media"

# The team's tool: XAPI_CONFORMANCE, else shared/tools/xapi-conformance beside this checkout or
# an ancestor of it (../shared from the main checkout), else beside the repository this one was
# cloned from (a CI clone made elsewhere).
find_tool() {
  [ -n "${XAPI_CONFORMANCE:-}" ] && { echo "$XAPI_CONFORMANCE"; return; }
  local origin start dir
  origin=$(git remote get-url origin 2>/dev/null || true)
  for start in "$PWD" "$origin"; do
    [ -d "$start" ] || continue
    dir=$(cd "$start" && pwd)
    while [ "$dir" != "/" ]; do
      dir=$(dirname "$dir")
      [ -f "$dir/shared/tools/xapi-conformance" ] && { echo "$dir/shared/tools/xapi-conformance"; return; }
    done
  done
}
TOOL=$(find_tool)
if [ -z "$TOOL" ] || [ ! -f "$TOOL" ]; then
  echo "make conformance: ADL's suite (shared/tools/xapi-conformance) was not found beside this checkout or its origin; set XAPI_CONFORMANCE" >&2
  exit 2
fi
echo "conformance tool: $TOOL"
[ -x "$TOOL" ] || TOOL="bash $TOOL"
mkdir -p "$VAR_DIR"

"$BIN/python" - <<'PY'
import os
import psycopg
from urllib.parse import urlsplit
url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
with psycopg.connect(os.environ["DATABASE_URL"].replace(url.path, "/postgres"), autocommit=True) as connection:
    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.execute(f'CREATE DATABASE "{name}"')
PY
"$BIN/python" manage.py migrate --noinput >"$VAR_DIR/migrate.log"
KEY=$("$BIN/python" manage.py create_api_key --workspace conformance --create-workspace --name conformance | tail -1)

"$BIN/gunicorn" config.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --access-logfile "$VAR_DIR/access.log" --error-logfile "$VAR_DIR/error.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/xapi/about" && break
  sleep 0.5
done
start=$(date +%s)
status=0
$TOOL "http://127.0.0.1:$PORT/xapi" conformance "$KEY" "${CONFORMANCE_GROUPS:-.}" || status=$?
echo "conformance suite: $(( $(date +%s) - start )) s"
if [ "$status" != 0 ]; then
  # The tool reads the failures from the suite's log, which has none to read when every test
  # passed (the suite's -z flag logs failures only): this run's log's summary then decides.
  log=$(find "${XAPI_CTS_DIR:-/tmp/xapi-cts}/logs" -name '*.log' -newermt "@$start" 2>/dev/null | head -1)
  [ -n "$log" ] || { echo "make conformance: the suite wrote no log in this run" >&2; exit "$status"; }
  "$BIN/python" - "$log" <<'PY' || exit "$status"
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
if summary["failed"] or not summary["total"]:
    sys.exit(1)
print(f"xapi-conformance: {summary['total']} passed, 0 failed")
PY
fi

# Then real client libraries, as their users call them (scripts/xapi_clients/), on the same server.
if [ -z "${CONFORMANCE_GROUPS:-}" ]; then
  clients="$VAR_DIR/xapi-clients"
  mkdir -p "$clients"
  cp scripts/xapi_clients/package.json scripts/xapi_clients/*.js "$clients/"
  (cd "$clients" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  for script in xapi_js.js tincan_js.js; do
    XAPI_ENDPOINT="http://127.0.0.1:$PORT/xapi/" XAPI_USER=conformance XAPI_KEY="$KEY" node "$clients/$script"
  done
fi
