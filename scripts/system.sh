#!/usr/bin/env bash
# System packages the test suite drives (not Python): Debian's Chromium, for the browser
# tests of the website widget and the console. Installed with apt-get when missing.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the browser tests need Chromium, which is not installed." >&2
  echo "       On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
echo "[system] installing Chromium for the browser tests (apt-get, a minute or two)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
