"""The action server: rasa-sdk's action executor behind our own small Sanic app, one process.

    python -m supportbot.action_server [--host 127.0.0.1] [--port 5055]

Why our own HTTP surface instead of rasa-sdk's ``create_app`` (security review, issue 14
finding 1): the action server reads and changes every customer's account, and the customer
is taken from the tracker Rasa posts. rasa-sdk's app accepts any caller (no
authentication; CORS ``*``), inflates ``deflate`` bodies without a bound, and answers an
unexpected error with the whole request body echoed back. Here:

- every call but ``GET /health`` must carry ``Authorization: Bearer $ACTION_SERVER_TOKEN``
  (Rasa sends it: ``endpoints.yml``'s ``action_endpoint.headers``), compared in constant
  time; 401 otherwise, before the body is read as JSON;
- it listens on 127.0.0.1 unless ``--host`` / ``SUPPORTBOT_ACTIONS_HOST`` names a
  (private) interface; no CORS headers at all (no browser has business here);
- bodies are bounded (``SUPPORTBOT_ACTIONS_MAX_REQUEST_BYTES``, also after inflating
  ``Content-Encoding: deflate``, which Rasa uses when ``COMPRESS_ACTION_SERVER_REQUEST``
  is on); other encodings get 415;
- error answers carry a fixed message (and, for a form's rejection, the action name Rasa
  needs); never the request body.

The executor, the action registry and the wire format are rasa-sdk's own
(``ActionExecutor``), so Rasa sees exactly the protocol it expects.

Why one process and not ``python -m rasa_sdk``: rasa-sdk 3.21 serves through Sanic's
multi-process mode, whose manager polled its workers many times a second (30-40 % of a
core on an idle server, py-spy, 2026-11-22). Scale out by running more of these behind a
load balancer (docs/ARCHITECTURE.md), not by Sanic workers.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import threading
import time
import zlib
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from supportbot.errors import ConfigurationError
from supportbot.settings import get_settings

logger = logging.getLogger("supportbot.action_server")

OPEN_PATHS = {("GET", "/health")}
"""Answered without the token: a load balancer's health check learns nothing else."""


class BodyProblem(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
    from supportbot.language import warm_up as warm_up_language

    try:
        warm_up_language()
    except Exception:  # the first message in another language loads it again
        logger.exception("could not load the language identifier at start-up")


def authorised(header: str, token: str) -> bool:
    return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def read_action_call(request: Request, *, max_bytes: int) -> dict[str, Any]:
    """The posted action call as a dict, or BodyProblem (status and a message without the body)."""
    encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
    raw = request.body or b""
    if encoding == "deflate":
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(raw, max_bytes + 1)
        except zlib.error:
            raise BodyProblem(400, "the body is not valid deflate data") from None
        if len(raw) > max_bytes or inflater.unconsumed_tail:
            raise BodyProblem(413, f"the inflated body is larger than {max_bytes} bytes")
    elif encoding != "identity":
        raise BodyProblem(415, "only identity and deflate content encodings are accepted")
    try:
        call = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BodyProblem(400, "the body is not JSON") from None
    if not isinstance(call, dict) or not isinstance(call.get("next_action"), str):
        raise BodyProblem(400, "the body must be a JSON object with next_action (an action call)")
    return call


def create_action_app(executor: ActionExecutor, *, token: str, max_request_bytes: int) -> Sanic[Any, Any]:
    if not token:
        raise ConfigurationError("the action server needs ACTION_SERVER_TOKEN")
    app: Sanic[Any, Any] = Sanic("supportbot_actions", configure_logging=False)
    # Sanic refuses a larger body with 413 while reading it; deflate is bounded again above.
    app.config.REQUEST_MAX_SIZE = max_request_bytes
    app.config.KEEP_ALIVE_TIMEOUT = 120  # Rasa keeps its connection to us open between turns

    @app.on_request
    async def authenticate(request: Request) -> HTTPResponse | None:
        if (request.method, request.path) in OPEN_PATHS:
            return None
        if not authorised(request.headers.get("authorization", ""), token):
            return response.json({"error": "missing or wrong action server token"}, status=401)
        return None

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def actions(_: Request) -> HTTPResponse:
        return response.json([item.model_dump() for item in executor.list_actions()])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        try:
            call = read_action_call(request, max_bytes=max_request_bytes)
        except BodyProblem as problem:
            return response.json({"error": str(problem)}, status=problem.status)
        utils.check_version_compatibility(call.get("version"))
        try:
            result = await executor.run(call)
        except ActionExecutionRejection as e:
            # Rasa reads action_name and error from a 400 to reject a form's turn: its protocol.
            return response.json({"error": e.message, "action_name": e.action_name}, status=400)
        except ActionNotFoundException:
            logger.error("no action registered under the name called (conversation %s)", _sender(call))
            return response.json({"error": "no such action"}, status=404)
        except ActionMissingDomainException as e:
            return response.json({"error": "the domain is needed", "action_name": e.action_name}, status=449)
        return response.json(result.model_dump() if result else None)

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        logger.error("an action call failed (%s %s)", request.method, request.path, exc_info=exception)
        status = getattr(exception, "status_code", 500)
        status = status if isinstance(status, int) and 400 <= status < 600 else 500
        text = "the request failed" if status < 500 else "the action failed; see the action server's log"
        return response.json({"error": text}, status=status)

    return app


def _sender(call: dict[str, Any]) -> str:
    tracker = call.get("tracker")
    return str(tracker.get("sender_id", "?"))[:80] if isinstance(tracker, dict) else "?"


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="the assistant's action server (single process)")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument(
        "--host", default=settings.actions_host, help="interface to listen on (default SUPPORTBOT_ACTIONS_HOST)"
    )
    parser.add_argument("--actions", default="actions", help="the package of custom actions")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)

    utils.configure_colored_logging(args.loglevel)
    logging.getLogger(APPLICATION_ROOT_LOGGER_NAME).setLevel(args.loglevel)
    logger.setLevel(args.loglevel)
    try:
        token = settings.actions_token()
    except ConfigurationError as exc:
        parser.error(str(exc))

    executor = ActionExecutor()
    executor.register_package(args.actions)
    if settings.warm_up_models:
        threading.Thread(target=warm_up_models, name="warm-up-models", daemon=True).start()
    app = create_action_app(executor, token=token, max_request_bytes=settings.actions_max_request_bytes)
    app.prepare(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    logger.info("action server listening on %s:%d", args.host, args.port)
    Sanic.serve_single(primary=app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
