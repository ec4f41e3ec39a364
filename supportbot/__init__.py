"""The support assistant's application code (app environment, Python 3.11).

Everything here runs outside the Rasa server: the profile store, the services the
action server calls, the CLI. Nothing in this package is imported by Rasa.
"""
