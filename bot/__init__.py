"""Code loaded *inside the Rasa server* (rasa environment: Python 3.10, rasa==3.6.21).

Only what the rasa environment has may be imported here (rasa, sanic, PyJWT, ...);
never ``supportbot`` or ``actions``, which live in the app environment.
"""
