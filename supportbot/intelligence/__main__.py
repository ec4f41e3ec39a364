"""``python -m supportbot.intelligence``: see ``supportbot.intelligence.cli``."""

from supportbot.intelligence.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
