#!/usr/bin/env bash
# Install the real Bluesky PDS test tier (pinned in package-lock.json) with `npm ci`.
# Idempotent: skipped when node_modules already matches the lockfile (and the Node
# version, since better-sqlite3 is a native module compiled for one Node ABI).
# Exits 0 with a message when node/npm are missing: that tier is then skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bluesky PDS tier: node/npm not found, skipped"
    exit 0
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "bluesky PDS tier: node $(node --version) is too old (need >= 20), skipped"
    exit 0
fi

hash_file="node_modules/.lock-hash"
want_hash="$(
    {
        cat package-lock.json
        node -p 'process.version + " " + process.versions.modules + " " + process.platform + " " + process.arch'
    } | sha256sum | cut -d' ' -f1
)"

if [ -f "$hash_file" ] && [ "$(cat "$hash_file")" = "$want_hash" ] \
    && [ -f node_modules/@atproto/pds/package.json ] \
    && [ -f node_modules/@did-plc/server/package.json ]; then
    echo "bluesky PDS tier: node_modules up to date with package-lock.json"
    exit 0
fi

# better-sqlite3 has no reachable prebuilt binary: node-gyp compiles it and needs the
# Node headers. Use the local ones (e.g. /usr/include/node on Debian) instead of letting
# node-gyp try to download them.
if [ -z "${npm_config_nodedir:-}" ]; then
    node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
    if [ -f "$node_prefix/include/node/node_version.h" ]; then
        export npm_config_nodedir="$node_prefix"
    fi
fi

export JOBS="${JOBS:-max}" # node-gyp: compile with every core

echo "bluesky PDS tier: npm ci in $here (compiles better-sqlite3, takes a few minutes)"
start=$SECONDS
rm -f "$hash_file"
npm ci --no-audit --no-fund --loglevel=error
echo "$want_hash" >"$hash_file"
echo "bluesky PDS tier: installed in $((SECONDS - start)) s"
