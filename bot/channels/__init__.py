"""Rasa input channels that bind conversations to verified customers (rasa environment)."""
