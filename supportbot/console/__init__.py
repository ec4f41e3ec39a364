"""The support leads' console (app environment): a FastAPI sub-application mounted at ``/console``.

Server-rendered pages (Jinja2, autoescaped, no JavaScript) over two stores: Rasa's SQL
tracker store for conversations (read, and deleted from only to forget a customer) and the
profile store for customers, feedback, outreach and the console's own tables
(``supportbot.store.console_models``). See docs/CONSOLE.md.
"""
