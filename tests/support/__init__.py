"""Helpers for tests that start real processes (Rasa server, action server, ...)."""
