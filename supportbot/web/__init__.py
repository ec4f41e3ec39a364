"""The web process (app environment, port 8000): widget assets, the demo host page and the
support leads' console, one FastAPI application served by uvicorn."""
