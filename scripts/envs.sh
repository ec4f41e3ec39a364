#!/usr/bin/env bash
# Create or update the two Python environments (see docs/ARCHITECTURE.md):
#   .venvs/rasa  Python 3.10, rasa==3.6.21          (requirements/rasa.lock)
#   .venvs/app   Python 3.11, everything else         (requirements/app.lock)
# Idempotent and quick when nothing changed: each env remembers the hash of the
# lock file it was built from and is only touched when that hash changes.
# Packages are installed by uv (requirements/tools.lock, in .venvs/tools), which reads
# the machine's pip configuration through scripts/uv_args.py. Measured back to back on a
# 2-core machine, Rasa env from nothing: pip 57.6 s wall / 52 CPU-s, uv 27 s / 41 CPU-s
# (hard links from its cache in .venvs/.uv-cache, on the same disk).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[envs]\033[0m %s\n' "$*"; }

find_python() {  # find_python 3.10 -> path of a python3.10 interpreter, or nothing
  local version=$1 candidate
  for candidate in "python$version" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$version"*/bin/"python$version"; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c "import sys; sys.exit(0 if sys.version_info[:2] == tuple(map(int, '$version'.split('.'))) else 1)" 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local prefix
    prefix=$(pyenv prefix "$(pyenv versions --bare | grep -E "^${version//./\\.}(\.|$)" | tail -n 1)" 2>/dev/null || true)
    if [ -n "$prefix" ] && [ -x "$prefix/bin/python$version" ]; then echo "$prefix/bin/python$version"; return 0; fi
  fi
  return 1
}

build_env() {  # build_env NAME PYTHON_VERSION LOCKFILE
  local name=$1 version=$2 lock=$3 dir=".venvs/$1" python stamp want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  stamp="$dir/.lock.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    log "$name env up to date ($dir)"; return 0
  fi
  if ! python=$(find_python "$version"); then
    echo "error: Python $version is needed for the $name environment but was not found on PATH or in pyenv." >&2
    echo "       Install it, e.g. 'pyenv install $version' (https://github.com/pyenv/pyenv), then run this again." >&2
    exit 1
  fi
  log "building $name env with $python from $lock (a minute or two the first time)"
  [ -x "$dir/bin/python" ] || "$UV" venv --quiet --python "$python" "$dir"
  "$UV" pip install --quiet --python "$dir/bin/python" --link-mode hardlink "${UV_ARGS[@]}" -r "$lock"
  "$UV" pip check --python "$dir/bin/python"
  echo "$want" > "$stamp"
  log "$name env ready"
}

# uv itself, pinned, in a small env of its own (python3: whichever this machine has).
build_tools() {
  local dir=.venvs/tools want stamp=.venvs/tools/.lock.sha256
  want=$(sha256sum requirements/tools.lock | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/uv" ]; then return 0; fi
  log "installing the package installer (uv) into $dir"
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements/tools.lock
  echo "$want" > "$stamp"
}

want=${1:-all}
mkdir -p .venvs
UV_CACHE=$(pwd)/.venvs/.uv-cache
export UV_HTTP_TIMEOUT=${UV_HTTP_TIMEOUT:-${PIP_DEFAULT_TIMEOUT:-180}}
build_tools
UV=.venvs/tools/bin/uv
export UV_CACHE_DIR=$UV_CACHE
UV_ARGS=()
listed=$(.venvs/tools/bin/python scripts/uv_args.py)
[ -z "$listed" ] || mapfile -t UV_ARGS <<< "$listed"
if [ -z "${SSL_CERT_FILE:-}" ] && cert=$(.venvs/tools/bin/python scripts/uv_args.py cert 2>/dev/null) && [ -n "$cert" ]; then
  export SSL_CERT_FILE=$cert
fi
case "$want" in
  rasa) build_env rasa 3.10 requirements/rasa.lock ;;
  app) build_env app 3.11 requirements/app.lock ;;
  all)
    # The two builds are independent and mostly wait on unpacking: run them side by side.
    build_env rasa 3.10 requirements/rasa.lock & rasa_pid=$!
    build_env app 3.11 requirements/app.lock & app_pid=$!
    status=0
    wait "$rasa_pid" || status=1
    wait "$app_pid" || status=1
    exit "$status"
    ;;
  *) echo "usage: scripts/envs.sh [all|rasa|app]" >&2; exit 2 ;;
esac
