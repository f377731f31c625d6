#!/usr/bin/env bash
# The action's install step: the walburst to run. `walburst-bin` (INPUT_WALBURST_BIN) names a
# built binary; otherwise walburst is built from the action's own checkout with cargo
# (the cache step before this restores target/, so a warm cache only relinks or does
# nothing). Writes `walburst` (an absolute path) to $GITHUB_OUTPUT and its directory to
# $GITHUB_PATH, so later steps of the job can call `walburst` too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${GITHUB_OUTPUT:?the action runs inside GitHub Actions (or a test that sets GITHUB_OUTPUT)}"

if [ -n "${INPUT_WALBURST_BIN:-}" ]; then
    bin="$INPUT_WALBURST_BIN"
    case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
        echo "::error::walburst action: walburst-bin '$INPUT_WALBURST_BIN' is not an executable file"
        exit 2
    fi
else
    if ! command -v cargo >/dev/null; then
        echo "::error::walburst action: building walburst needs a Rust toolchain (cargo; GitHub's ubuntu runners have one), or give walburst-bin"
        exit 2
    fi
    profile="${INPUT_PROFILE:-release}"
    echo "building walburst (cargo profile $profile) from $root"
    cargo build --locked --profile "$profile" --manifest-path "$root/Cargo.toml"
    case "$profile" in
        dev | test) dir=debug ;;
        *) dir="$profile" ;;
    esac
    bin="${CARGO_TARGET_DIR:-$root/target}/$dir/walburst"
fi

"$bin" --version
echo "walburst=$bin" >> "$GITHUB_OUTPUT"
if [ -n "${GITHUB_PATH:-}" ]; then
    dirname "$bin" >> "$GITHUB_PATH"
fi
