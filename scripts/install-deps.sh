#!/usr/bin/env bash
# Installs the Debian packages the build needs: RocksDB (the library the
# `rocksdb` crate links, see .cargo/config.toml) and libclang (for its
# bindings). Does nothing when they are there already.
#
#   scripts/install-deps.sh        # as root, or with sudo available
set -euo pipefail

PACKAGES=(librocksdb-dev libclang-dev)

have() {
  [ -f /usr/include/rocksdb/db.h ] &&
    ls /usr/lib/x86_64-linux-gnu/librocksdb.so >/dev/null 2>&1 &&
    ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1
}

if have; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install ${PACKAGES[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${PACKAGES[*]}" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
have || { echo "install-deps: the packages did not provide RocksDB and libclang" >&2; exit 1; }
