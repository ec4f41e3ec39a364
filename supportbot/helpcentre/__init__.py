"""The help centre: Markdown articles the support team edits, and retrieval over them (app environment).

``articles`` loads and validates the folder, ``chunking`` cuts articles into passages,
``lexical`` is BM25, ``index`` builds and stores the search index under ``var/`` (with the
embedding model's name and the content hash), ``retrieval`` scores a question against it,
``answers`` turns the best passage into a short reply, and ``gaps`` records and groups the
questions the help centre could not answer. ``python -m supportbot.helpcentre reindex``
rebuilds the index; the action server reloads it when the file changes, so an edited
article changes the next answer without retraining Rasa.
"""
