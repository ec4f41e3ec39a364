"""``python -m supportbot.feedback``: see ``supportbot.feedback.cli``."""

from supportbot.feedback.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
