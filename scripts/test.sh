#!/usr/bin/env bash
# The project's test command: installs the Debian packages the build needs
# (scripts/install-deps.sh), starts a Kafka-API broker (tansu) on
# 127.0.0.1, runs every test against it, and stops it again.
#
#   scripts/test.sh [cargo test args...]
#
# Kafka tests read the broker address from PIPELINE_KAFKA_BROKERS. They never
# skip: without a broker they fail and say how to start one.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
PORT="${PIPELINE_TEST_KAFKA_PORT:-19092}"
export TANSU_HOME="${TANSU_HOME:-$PWD/target/tansu}"
scripts/kafka-start.sh "$PORT" >/dev/null
trap 'scripts/kafka-stop.sh "$PORT"' EXIT
export PIPELINE_KAFKA_BROKERS="127.0.0.1:$PORT"

cargo test --workspace "$@"
