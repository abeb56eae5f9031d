#!/usr/bin/env bash
# Start a local S3 emulator (moto) on 127.0.0.1:PORT with an empty bucket, so
# a test broker started with TANSU_STORAGE=s3://BUCKET/ keeps its data across
# restarts.
#
#   s3-start.sh PORT BUCKET     # prints the PID on stdout
#
# Env: TANSU_HOME   where the package, pid file and log live (default ${TMPDIR:-/tmp}/tansu)
set -euo pipefail

PORT="${1:?port}"
BUCKET="${2:?bucket}"
HOME_DIR="${TANSU_HOME:-${TMPDIR:-/tmp}/tansu}"
PKG_DIR="$HOME_DIR/moto"
PIDFILE="$HOME_DIR/s3-$PORT.pid"
LOG="$HOME_DIR/s3-$PORT.log"

log() { echo "s3-start: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

mkdir -p "$HOME_DIR"
if [ ! -x "$PKG_DIR/bin/moto_server" ]; then
  log "installing moto[server] into $PKG_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$PKG_DIR" 'moto[server]==5.*' >&2
fi
if port_open; then
  log "port $PORT is already in use"; exit 1
fi
PYTHONPATH="$PKG_DIR" setsid python3 "$PKG_DIR/bin/moto_server" -H 127.0.0.1 -p "$PORT" \
  >"$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"
for _ in $(seq 1 300); do
  if ! kill -0 "$PID" 2>/dev/null; then
    log "emulator exited early; log:"; cat "$LOG" >&2; rm -f "$PIDFILE"; exit 1
  fi
  if port_open; then
    # Path-style bucket creation, as S3's API allows.
    python3 - "$PORT" "$BUCKET" <<'PY'
import sys, urllib.request
port, bucket = sys.argv[1], sys.argv[2]
req = urllib.request.Request(f"http://127.0.0.1:{port}/{bucket}", method="PUT")
urllib.request.urlopen(req).read()
PY
    log "listening on 127.0.0.1:$PORT (pid $PID), bucket $BUCKET"
    echo "$PID"; exit 0
  fi
  sleep 0.1
done
log "port $PORT did not open; stopping pid $PID"
kill "$PID" 2>/dev/null || true; rm -f "$PIDFILE"; exit 1
