#!/usr/bin/env bash
# The action's cache key for its walburst build: the OS, the cargo profile, the toolchain
# and a hash of every file the binary is built from (in the action's own checkout, which
# `hashFiles` cannot read from a composite action). Writes `key` and `restore` (the prefix
# an older build of the same OS and profile is restored from) to $GITHUB_OUTPUT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${GITHUB_OUTPUT:?the action runs inside GitHub Actions (or a test that sets GITHUB_OUTPUT)}"
profile="${INPUT_PROFILE:-release}"
toolchain="$(rustc --version 2>/dev/null || echo no-rustc)"
sum="$(
    cd "$root"
    {
        echo "$toolchain"
        sha256sum Cargo.lock Cargo.toml
        find harness -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-20
)"
prefix="walburst-${RUNNER_OS:-$(uname -s)}-${profile}-"
{
    echo "key=${prefix}${sum}"
    echo "restore=${prefix}"
} >> "$GITHUB_OUTPUT"
