"""Custom actions served by the action server (app environment, Python 3.11).

Started with ``python -m supportbot.action_server`` (rasa-sdk's app, one process); it imports every
module of this package and registers each concrete ``Action`` subclass. Actions
stay thin: read slots, call one ``supportbot.services`` function, answer.
"""
