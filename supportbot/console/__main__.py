"""``python -m supportbot.console``: create console accounts (there is no default one) and serve the console alone.

    python -m supportbot.console create-admin --email lead@example.com      # asks for the password twice
    python -m supportbot.console create-user --email a@example.com --role agent --password-stdin < pw.txt
    python -m supportbot.console set-password --email a@example.com     # ends that account's sessions
    python -m supportbot.console serve --port 8001                           # normally it is mounted at /console

The database is ``SUPPORTBOT_DATABASE_URL``, migrated to the newest schema first.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from supportbot.console.auth import create_user, set_password
from supportbot.errors import InvalidRequestError
from supportbot.settings import get_settings
from supportbot.store.console_models import CONSOLE_ROLES
from supportbot.store.db import make_engine, session_factory
from supportbot.store.migrate import upgrade_database


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (12+ characters): ")
    if first != getpass.getpass("Same password again: "):
        raise InvalidRequestError("the two passwords differ")
    return first


def _create(email: str, role: str, password_stdin: bool) -> int:
    settings = get_settings()
    password = _password(password_stdin)
    upgrade_database(url=settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            user = create_user(session=session, email=email, role=role, password=password)
            print(f"created {user.role} {user.email}")
    finally:
        engine.dispose()
    return 0


def _set_password(email: str, password_stdin: bool) -> int:
    settings = get_settings()
    password = _password(password_stdin)
    upgrade_database(url=settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            user = set_password(session=session, email=email, password=password)
            print(f"new password set for {user.email}; their sessions have ended")
    finally:
        engine.dispose()
    return 0


def _serve(host: str, port: int) -> int:
    import uvicorn

    from supportbot.console.app import create_console_app

    uvicorn.run(create_console_app(get_settings()), host=host, port=port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportbot.console", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an admin account")
    user = commands.add_parser("create-user", help="create an account with a role")
    user.add_argument("--role", required=True, choices=CONSOLE_ROLES)
    reset = commands.add_parser("set-password", help="give an existing account a new password (ends its sessions)")
    for sub in (admin, user, reset):
        sub.add_argument("--email", required=True)
        sub.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    serve = commands.add_parser("serve", help="serve the console alone (development)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args.host, args.port)
        if args.command == "set-password":
            return _set_password(args.email, args.password_stdin)
        return _create(args.email, "admin" if args.command == "create-admin" else args.role, args.password_stdin)
    except InvalidRequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
