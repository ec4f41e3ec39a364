"""``python -m supportbot.helpcentre``: see ``supportbot.helpcentre.cli``."""

from supportbot.helpcentre.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
