#!/usr/bin/env bash
# Local secrets for `make run`: generated once into var/secrets.env (never in git).
# In production set CUSTOMER_TOKEN_SECRET, RASA_API_TOKEN and SUPPORTBOT_CONSOLE_SECRET in the environment instead.
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
if ! grep -q '^SUPPORTBOT_CONSOLE_SECRET=' var/secrets.env; then
  umask 077
  echo "SUPPORTBOT_CONSOLE_SECRET=$(.venvs/app/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')" >> var/secrets.env
fi
