#!/usr/bin/env bash
# Installs what building and testing Weir needs on a fresh machine. Idempotent.
# - the wasm32-wasip2 target: plugins are built for it (RUSTUP_AUTO_INSTALL=0
#   machines never install it on their own);
# - `kill` (Debian's procps): the Ctrl-C test sends SIGINT to a running `weir`;
# - the Python and JavaScript plugin toolchains (scripts/toolchains.sh).
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi

if [ ! -x /bin/kill ] && [ ! -x /usr/bin/kill ]; then
    echo "setup: installing procps (kill)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q procps
fi

"$(dirname "$0")/toolchains.sh"
