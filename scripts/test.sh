#!/usr/bin/env bash
# `make test`: the whole suite (see README). Environments are created by `make envs` first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)" HF_HUB_OFFLINE=1
.venvs/app/bin/python -m ruff check .
.venvs/app/bin/python -m pytest "$@"
