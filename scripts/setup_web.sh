#!/usr/bin/env bash
# Installs what the browser tests of the web page need (tests/web): Debian's chromium
# and playwright-core from npm (tests/web/node_modules, from package-lock.json).
# Idempotent: does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "setup_web: installing chromium with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v npm >/dev/null; then
    echo "setup_web: installing nodejs and npm with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

# npm ci only when playwright-core is missing or the lock file changed since.
stamp=tests/web/node_modules/.package-lock.json
if [ ! -d tests/web/node_modules/playwright-core ] || [ tests/web/package-lock.json -nt "$stamp" ]; then
    echo "setup_web: npm ci in tests/web" >&2
    (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi
