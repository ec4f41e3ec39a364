"""The outreach scheduler process (app environment): ``python -m scheduler``.

Runs apart from Rasa and the action server. It plans proactive messages into the
outbox and delivers them through Rasa's HTTP API (see docs/OUTREACH.md):

    python -m scheduler                 # the long-running process (APScheduler)
    python -m scheduler plan [--date YYYY-MM-DD] [--dry-run]
    python -m scheduler deliver [--once]
    python -m scheduler status

Nothing is built at import time: engines, settings and clients are made by the
command that needs them.
"""
