#!/usr/bin/env bash
# Stop the S3 emulator that s3-start.sh started on PORT.
#
#   s3-stop.sh PORT
set -uo pipefail

PORT="${1:?port}"
HOME_DIR="${TANSU_HOME:-${TMPDIR:-/tmp}/tansu}"
PIDFILE="$HOME_DIR/s3-$PORT.pid"
[ -f "$PIDFILE" ] || exit 0
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null && grep -qa moto_server "/proc/$PID/cmdline"; then
  kill "$PID"
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
fi
rm -f "$PIDFILE"
