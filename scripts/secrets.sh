#!/usr/bin/env bash
# Local secrets for `make run`: generated once into var/secrets.env (never in git).
# In production set them in the environment instead (docs/SECURITY.md: what each one is, how to rotate it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
if [ ! -s var/secrets.env ]; then
  umask 077
  {
    echo "CUSTOMER_TOKEN_SECRET=$(.venvs/app/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    echo "RASA_API_TOKEN=$(.venvs/app/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')"
  } > var/secrets.env
  echo "[run] created var/secrets.env with fresh local secrets"
fi
# Added later than the first two: appended to an existing file when missing.
add_secret() {  # add_secret NAME BYTES
  if ! grep -q "^$1=" var/secrets.env; then
    umask 077
    echo "$1=$(.venvs/app/bin/python -c "import secrets; print(secrets.token_urlsafe($2))")" >> var/secrets.env
  fi
}
add_secret SUPPORTBOT_CONSOLE_SECRET 48
add_secret ACTION_SERVER_TOKEN 32
