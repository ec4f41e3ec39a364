"""``python -m supportbot``: see ``supportbot.cli``."""

from supportbot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
