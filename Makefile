# The commands the README names. Each prepares what it needs (environments,
# database, model) and is safe to run again.
SHELL := /bin/bash
RASA := .venvs/rasa/bin/rasa
APP_PY := .venvs/app/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: run test envs train validate lint token clean

run:            ## start the whole assistant on local defaults (SQLite, demo data)
	@scripts/run.sh

test: envs      ## every test: lint, data validation, unit, action, NLU, conversation and end-to-end tests
	@scripts/test.sh

envs:           ## create/update both Python environments
	@scripts/envs.sh

train: envs     ## train the model into models/ (skipped by Rasa when nothing changed)
	$(RASA) train --out models

validate: envs  ## check the training data and domain
	$(RASA) data validate --fail-on-warnings

lint: envs
	$(APP_PY) -m ruff check .
	$(APP_PY) -m mypy supportbot actions

token:          ## mint a demo customer token: make -s token CUSTOMER=C000001
	@set -a; . var/secrets.env; set +a; $(APP_PY) -m supportbot token mint $(CUSTOMER)

clean:          ## remove local state (databases, models, results), keep the environments
	rm -rf var/*.db var/*.db-* models/*.tar.gz results
