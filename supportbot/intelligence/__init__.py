"""Customer intelligence (app environment): segments, churn risk, lifetime value, next best action.

Batch computations over the profile store, run by command (``python -m supportbot.intelligence``)
or by the scheduler (``supportbot.intelligence.jobs``); never imported by Rasa or loaded by the
action server. docs/INTELLIGENCE.md describes features, models, schedules and figures.
"""
