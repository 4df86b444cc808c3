#!/usr/bin/env bash
# Install the real Bluesky network tier (PLC + PDS + AppView from @atproto/dev-env, pinned
# in package-lock.json) with `npm ci`, and, when run as root with apt, the Debian packages
# the AppView needs: postgresql-15 and redis-server.
# Idempotent; exits 0 with a message when something is missing: that tier is then skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bluesky AppView tier: node/npm not found, skipped"
    exit 0
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "bluesky AppView tier: node $(node --version) is too old (need >= 20), skipped"
    exit 0
fi

have_pg() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
if { ! have_pg || ! command -v redis-server >/dev/null 2>&1; } \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 redis-server >/dev/null 2>&1 \
        || echo "bluesky AppView tier: postgresql-15/redis-server could not be installed" >&2
fi

hash_file="node_modules/.lock-hash"
want_hash="$(
    {
        cat package-lock.json
        node -p 'process.version + " " + process.versions.modules + " " + process.platform + " " + process.arch'
    } | sha256sum | cut -d' ' -f1
)"
if [ -f "$hash_file" ] && [ "$(cat "$hash_file")" = "$want_hash" ] \
    && [ -f node_modules/@atproto/dev-env/package.json ]; then
    echo "bluesky AppView tier: node_modules up to date with package-lock.json"
    exit 0
fi

# Native modules compile against the local Node headers (see ../bluesky/setup.sh).
if [ -z "${npm_config_nodedir:-}" ]; then
    node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
    if [ -f "$node_prefix/include/node/node_version.h" ]; then
        export npm_config_nodedir="$node_prefix"
    fi
fi
export JOBS="${JOBS:-max}"

echo "bluesky AppView tier: npm ci in $here (compiles native modules, takes several minutes)"
start=$SECONDS
rm -f "$hash_file"
npm ci --no-audit --no-fund --loglevel=error
echo "$want_hash" >"$hash_file"
echo "bluesky AppView tier: installed in $((SECONDS - start)) s"
