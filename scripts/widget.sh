#!/usr/bin/env bash
# Install the website widget's npm dependencies (widget/node_modules: socket.io-client's
# browser bundle, served by supportbot.web at /widget/vendor/socket.io.min.js).
# Idempotent and quick when nothing changed: like scripts/envs.sh, it remembers the hash
# of the lock file it installed from and runs `npm ci` only when that hash changes.
set -euo pipefail
cd "$(dirname "$0")/../widget"

log() { printf '\033[1m[widget]\033[0m %s\n' "$*"; }

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is needed to install the website widget's dependencies (socket.io-client) but was not found on PATH." >&2
    echo "       Install Node.js 18 or newer with npm, e.g. 'apt-get install -y nodejs npm' (https://nodejs.org), then run this again." >&2
    exit 1
  fi
done

want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.lock.sha256
bundle=node_modules/socket.io-client/dist/socket.io.min.js
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$bundle" ]; then
  log "widget dependencies up to date (widget/node_modules)"; exit 0
fi
log "installing widget dependencies from widget/package-lock.json (npm ci)"
npm ci --no-audit --no-fund
if [ ! -f "$bundle" ]; then
  echo "error: npm ci finished but $bundle is missing; check widget/package.json" >&2
  exit 1
fi
echo "$want" > "$stamp"
log "widget dependencies ready"
