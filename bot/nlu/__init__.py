"""Custom NLU components loaded inside the Rasa server (rasa environment)."""
