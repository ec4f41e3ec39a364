"""The scaled mode: PostgreSQL, Redis, Rasa and action server replicas behind nginx (docs/DEPLOYMENT.md)."""
