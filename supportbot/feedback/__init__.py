"""Listening to customers: ratings, open feedback, PII redaction and recurring themes (app environment).

``store`` is what conversation actions call; ``themes`` and the CLI
(``python -m supportbot.feedback``) build the insights the console shows. Nothing here
loads a model at import time.
"""
