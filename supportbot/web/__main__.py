"""``python -m supportbot.web [--host 127.0.0.1] [--port 8000]``: serve the web process with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from supportbot.settings import get_settings
from supportbot.web.app import create_app
from supportbot.web.demo import is_loopback


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m supportbot.web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.web_port, help=f"port (default {settings.web_port})")
    args = parser.parse_args(argv)
    if settings.demo_mode and not is_loopback(args.host):
        parser.error(
            f"demo mode mints customer tokens without a sign-in, so it serves loopback only; "
            f"--host {args.host} is not. Unset SUPPORTBOT_DEMO_MODE to serve other hosts."
        )
    app = create_app(settings)
    shown_host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::1") else args.host
    if settings.demo_mode:
        print(f"demo page: http://{shown_host}:{args.port}/  (widget: /widget/widget.js)", flush=True)
    else:
        print(f"widget: http://{shown_host}:{args.port}/widget/widget.js", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
