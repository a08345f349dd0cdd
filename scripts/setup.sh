#!/usr/bin/env bash
# Installs what building Weir needs on a fresh machine. Idempotent.
# - the wasm32-wasip2 target: plugins are built for it (RUSTUP_AUTO_INSTALL=0
#   machines never install it on their own).
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi
