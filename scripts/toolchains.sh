#!/usr/bin/env bash
# Installs the toolchains that build Python and JavaScript plugins into
# Weir's toolchain folder ($WEIR_TOOLCHAINS, default ~/.cache/weir/toolchains),
# where `weir plugin build` looks for them. Never touches the system Python or
# a global npm. Idempotent: a toolchain whose pinned versions did not change
# is left as it is.
#
#   scripts/toolchains.sh [python|js|all]    (default: all)
#
# - python: a virtual environment with componentize-py and flatbuffers
#   (sdk/python/requirements.txt);
# - js: componentize-js, esbuild and apache-arrow (sdk/js/package.json and
#   its lockfile, installed with `npm ci`).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}"
which="${1:-all}"
mkdir -p "$dir"

# `current NAME FILES...`: whether toolchain NAME was installed from FILES as
# they are now.
current() {
    local name="$1"; shift
    [ -f "$dir/$name/.installed" ] && [ "$(cat "$dir/$name/.installed")" = "$(cat "$@" | sha256sum)" ]
}

stamp() {
    local name="$1"; shift
    cat "$@" | sha256sum > "$dir/$name/.installed"
}

python_toolchain() {
    local requirements="$root/sdk/python/requirements.txt"
    if current python "$requirements"; then return; fi
    echo "toolchains: installing componentize-py into $dir/python" >&2
    rm -rf "$dir/python"
    if ! python3 -m venv "$dir/python" 2>/dev/null; then
        # Debian's system Python keeps venv in a package of its own.
        echo "toolchains: installing python3-venv" >&2
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q && $sudo apt-get install -y -q python3-venv
        rm -rf "$dir/python"
        python3 -m venv "$dir/python"
    fi
    "$dir/python/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    stamp python "$requirements"
}

js_toolchain() {
    local files=("$root/sdk/js/package.json" "$root/sdk/js/package-lock.json")
    if current js "${files[@]}"; then return; fi
    command -v npm >/dev/null || { echo "toolchains: npm (Node.js) is needed for JavaScript plugins" >&2; exit 1; }
    echo "toolchains: installing componentize-js, esbuild and apache-arrow into $dir/js" >&2
    rm -rf "$dir/js"
    mkdir -p "$dir/js"
    cp "${files[@]}" "$dir/js/"
    # esbuild's install script only checks its binary, which comes as an
    # optional package; npm 11 asks before running install scripts.
    (cd "$dir/js" && npm ci --silent --no-audit --no-fund)
    stamp js "${files[@]}"
}

case "$which" in
    python) python_toolchain ;;
    js) js_toolchain ;;
    all) python_toolchain; js_toolchain ;;
    *) echo "usage: $0 [python|js|all]" >&2; exit 2 ;;
esac
