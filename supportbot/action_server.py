"""The action server: rasa-sdk's app, served by Sanic in a single process.

    python -m supportbot.action_server --port 5055

Why not ``python -m rasa_sdk``: rasa-sdk 3.21 serves through Sanic's multi-process
mode, whose manager process polls its workers' state through a multiprocessing
Manager many times a second. Measured here on an idle action server (py-spy,
2026-11-22): the manager used 30-40 % of a core and the Manager's server process
another 7-9 %, on a 2-core machine, for one worker. Single-process serving gives
the same HTTP app (``rasa_sdk.endpoint.create_app_for_serve``: /webhook, /health,
/actions, tracing, plugins) without that cost, and makes start-up explicit: the
actions are registered and the feedback models warmed here, in the process that
runs them. Scale out by running more of these behind a load balancer (see
docs/ARCHITECTURE.md), not by Sanic workers.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from supportbot.settings import get_settings

logger = logging.getLogger("supportbot.action_server")


def warm_up_models() -> None:
    """Load the redaction model in the background: the first customer who writes feedback
    should not wait for spaCy (the load is shared with that request, under a lock)."""
    from supportbot.feedback.redaction import default_redactor

    started = time.monotonic()
    try:
        default_redactor().redact("warm-up")
        logger.info("redaction model loaded in %.1f s", time.monotonic() - started)
    except Exception:  # the first real feedback loads it again and reports the error there
        logger.exception("could not load the redaction model at start-up")
    from supportbot.helpcentre.service import warm_up as warm_up_help_centre

    started = time.monotonic()
    try:
        warm_up_help_centre()
        logger.info("help-centre index and embedding model loaded in %.1f s", time.monotonic() - started)
    except Exception:  # the first help question loads it again and tells the customer if it cannot
        logger.exception("could not load the help-centre index at start-up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the assistant's action server (single process)")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--actions", default="actions", help="the package of custom actions")
    parser.add_argument("--endpoints", default="endpoints.yml", help="for tracing settings, as rasa-sdk reads it")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)

    utils.configure_colored_logging(args.loglevel)
    logging.getLogger(APPLICATION_ROOT_LOGGER_NAME).setLevel(args.loglevel)
    logger.setLevel(args.loglevel)

    executor = ActionExecutor()
    executor.register_package(args.actions)
    if get_settings().warm_up_models:
        threading.Thread(target=warm_up_models, name="warm-up-models", daemon=True).start()
    app = create_app_for_serve(executor, cors_origins="*", endpoints=args.endpoints)
    app.prepare(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    logger.info("action server listening on %s:%d", args.host, args.port)
    Sanic.serve_single(primary=app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
