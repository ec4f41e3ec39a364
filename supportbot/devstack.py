"""A local stack of real processes (Rasa server, action server, ...) for tests, benchmarks and load runs.

One place knows how to start Rasa from the Rasa environment with a temporary
endpoints file, how to start the action server from this environment, and how
to wait until each answers; every caller (the end-to-end tests, the outreach
and latency benchmarks, the browser tests) uses it, so they all run the same
stack. Production start-up is scripts/run.sh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from bot.channels.availability import REQUIRED
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.migrate import upgrade_database

ROOT = Path(__file__).resolve().parents[1]
RASA_ENV_BIN = Path(os.environ.get("RASA_ENV_BIN", ROOT / ".venvs" / "rasa" / "bin"))


def rasa_executable() -> Path:
    exe = RASA_ENV_BIN / "rasa"
    if not exe.exists():
        raise RuntimeError(
            f"the rasa environment is missing ({exe}); run `make envs` (or `make test`, which creates it)"
        )
    return exe


def newest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained model in models/: run `make train` first")
    return models[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: BinaryIO

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` (a loaded machine must not hang a run over it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self.log_file.close()


def start_server(name: str, args: list[str], *, env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> Server:
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(name, process, log_path, log)


def wait_until(server: Server, ready: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} not ready after {timeout}s:\n{server.log_tail()}")


class PreloadedWorkers:
    """Worker processes forked from one that has already imported ``modules``.

    For fault tests that start a worker and SIGKILL it again and again: a fresh interpreter
    spends seconds importing SQLAlchemy, pydantic and httpx before it does anything (minutes on
    a loaded machine), a fork from a preloaded parent spends milliseconds. Each worker is still
    its own OS process running the command's real ``main``; only the imports are shared.
    """

    def __init__(self, modules: list[str]) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__, *modules])

    def start(
        self, entry: str, argv: list[str], *, env: dict[str, str], log_path: Path
    ) -> multiprocessing.process.BaseProcess:
        """Run ``entry`` ("package.module:function", called with ``argv``) in a new worker with
        exactly ``env`` as its environment, stdout and stderr appended to ``log_path``."""
        process = self._context.Process(target=_run_logged, args=(entry, argv, env, str(log_path)), daemon=True)
        process.start()
        return process


def _run_logged(entry: str, argv: list[str], env: dict[str, str], log_path: str) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.clear()
    os.environ.update(env)
    module, function = entry.split(":")
    sys.exit(getattr(importlib.import_module(module), function)(argv))


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without our settings, plus ``extra``: each stack states its own."""
    channel_variables = {name for names in REQUIRED.values() for name in names.values()}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUPPORTBOT_", "CUSTOMER_TOKEN", "RASA_API", "ACTION_SERVER"))
        and k not in channel_variables
    }
    env.update(
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
        ACTION_SERVER_TOKEN=secrets.token_urlsafe(32),
    )
    env.update(extra)
    return env


def write_endpoints(directory: Path, *, tracker_db: Path, actions_url: str = "") -> Path:
    """An endpoints.yml with a SQLite tracker store (and the action server, when there is one,
    called with ``$ACTION_SERVER_TOKEN`` as endpoints.yml does)."""
    path = directory / "endpoints.yml"
    action = (
        f'action_endpoint:\n  url: "{actions_url}"\n  headers:\n    Authorization: Bearer ${{ACTION_SERVER_TOKEN}}\n'
        if actions_url
        else ""
    )
    path.write_text(f'{action}tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{tracker_db}"\n')
    return path


def start_actions(*, port: int, env: dict[str, str], log_dir: Path, name: str = "actions") -> Server:
    """The action server (this environment), not yet waited for: see :func:`wait_for_actions`.

    As scripts/run.sh starts it: the feedback models load in the background at start-up.
    """
    return start_server(
        name,
        [sys.executable, "-m", "supportbot.action_server", "--host", "127.0.0.1", "--port", str(port)],
        env={"SUPPORTBOT_WARM_UP_MODELS": "1", **env},
        log_dir=log_dir,
    )


HELP_INDEX_PATH = "SUPPORTBOT_HELPCENTRE_INDEX_PATH"
HELP_CONTENT_DIR = "SUPPORTBOT_HELPCENTRE_CONTENT_DIR"


def start_help_reindex(*, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """``python -m supportbot.helpcentre reindex`` with the stack's settings (its index file and
    folder), as an admin runs it; not yet waited for: see :func:`wait_for_help_reindex`."""
    with (log_dir / "helpcentre-reindex.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "supportbot.helpcentre", "reindex"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for_help_reindex(process: subprocess.Popen[bytes], *, log_dir: Path, timeout: float = 600) -> None:
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if returncode != 0:
        log = (log_dir / "helpcentre-reindex.log").read_text(errors="replace")
        raise RuntimeError(f"help centre re-index failed (exit {returncode}):\n{log[-3000:]}")


def wait_for_actions(server: Server, port: int, *, timeout: float = 300) -> None:
    wait_until(server, http_ok(f"http://127.0.0.1:{port}/health"), timeout=timeout)


def start_rasa(
    *,
    model: Path,
    port: int,
    token: str,
    endpoints: Path,
    env: dict[str, str],
    log_dir: Path,
    name: str = "rasa",
    credentials: Path = ROOT / "credentials.yml",
    plain: bool = False,
) -> Server:
    """``rasa run`` with the HTTP API on (token-protected), not yet waited for: see :func:`wait_for_rasa`.

    Started as ``python -m bot.server`` (``rasa`` with the fix for its hot path, bot/server.py),
    as scripts/run.sh does; ``plain`` starts Rasa's own ``rasa`` command instead (benchmarks'
    reference runs).
    """
    command = [str(rasa_executable())] if plain else [str(rasa_executable().parent / "python"), "-m", "bot.server"]
    return start_server(
        name,
        [
            *command,
            "run",
            "--enable-api",
            f"--auth-token={token}",  # one argument: a random token may start with "-"
            "--port",
            str(port),
            "--model",
            str(model),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(credentials),
        ],
        env=env,
        log_dir=log_dir,
    )


def wait_for_rasa(server: Server, port: int, token: str, *, timeout: float = 600) -> None:
    """Until the model is loaded and the API answers; stops the server if it never does."""
    try:
        wait_until(server, http_ok(f"http://127.0.0.1:{port}/status?token={token}"), timeout=timeout)
    except BaseException:
        server.stop()
        raise


@dataclass
class DemoStack:
    """A running demo stack: a fresh profile store with the demo data, the action server and
    ``rasa run`` on one model, all on 127.0.0.1 (see :func:`start_demo_stack`)."""

    rasa_url: str
    actions_url: str
    api_token: str
    """Rasa's HTTP API token."""
    secret: str
    """The customer-token secret: tokens minted with it are verified customers."""
    actions_token: str
    """``ACTION_SERVER_TOKEN``: what Rasa sends the action server on every call."""
    database_url: str
    tracker_db: Path
    servers: list[Server]
    """The action server first, then Rasa."""
    actions_env: dict[str, str]
    workdir: Path
    help_index: Path | None = None
    """The help-centre index the action server answers from (built by :func:`start_demo_stack`
    into ``workdir`` unless ``extra_env`` named one)."""

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def stop_actions(self) -> None:
        """Stop the action server (outage tests); Rasa keeps running and keeps calling its address."""
        self.servers[0].stop()

    def start_actions(self, *, timeout: float = 300) -> None:
        """Start the action server again on the same port, with the same settings, and wait for it."""
        port = int(self.actions_url.rsplit(":", 1)[1])
        restarts = sum(1 for path in self.workdir.glob("actions-restart-*.log"))
        server = start_actions(
            port=port, env=self.actions_env, log_dir=self.workdir, name=f"actions-restart-{restarts + 1}"
        )
        self.servers[0] = server
        wait_for_actions(server, port, timeout=timeout)


def start_demo_stack(
    *,
    model: Path,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    reference_date: dt.date | None = None,
    timeout: float = 1200,
    plain_rasa: bool = False,
) -> DemoStack:
    """Profile DB (migrated, demo data) + action server + Rasa in ``workdir``, waited for.

    The end-to-end tests and the latency benchmark both start exactly this, so a benchmark
    figure is a figure of the stack the tests check. Fresh secrets every time; ``extra_env``
    adds settings for both servers (a callback gateway, say); ``plain_rasa`` serves with Rasa's
    own ``rasa`` command instead of ``bot.server``. Stops what it started if any part fails to
    come up.

    The help centre's index is built into ``workdir`` with the re-index command (from
    ``helpcentre/``, or the folder ``extra_env`` names as ``SUPPORTBOT_HELPCENTRE_CONTENT_DIR``)
    while Rasa loads, before the action server starts; an index path in ``extra_env`` is used
    as it is, not built.
    """
    db_url = f"sqlite:///{workdir / 'profile.db'}"
    upgrade_database(url=db_url)
    engine = make_engine(db_url)
    try:
        load_demo_data(session_factory=session_factory(engine), reference_date=reference_date)
    finally:
        engine.dispose()
    rasa_port, actions_port = free_port(), free_port()
    tracker_db = workdir / "tracker.db"
    endpoints = write_endpoints(workdir, tracker_db=tracker_db, actions_url=f"http://127.0.0.1:{actions_port}/webhook")
    secret, api_token = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    help_settings = {} if HELP_INDEX_PATH in (extra_env or {}) else {HELP_INDEX_PATH: str(workdir / "helpcentre.npz")}
    env = base_env(CUSTOMER_TOKEN_SECRET=secret, SUPPORTBOT_DATABASE_URL=db_url, **help_settings, **(extra_env or {}))
    reindex = start_help_reindex(env=env, log_dir=workdir) if help_settings else None
    rasa = start_rasa(
        model=model,
        port=rasa_port,
        token=api_token,
        endpoints=endpoints,
        env=env,
        log_dir=workdir,
        plain=plain_rasa,
    )
    try:
        if reindex is not None:
            wait_for_help_reindex(reindex, log_dir=workdir, timeout=timeout)
    except BaseException:
        rasa.stop()
        raise
    servers = [start_actions(port=actions_port, env=env, log_dir=workdir), rasa]
    try:
        wait_for_actions(servers[0], actions_port, timeout=timeout)
        wait_for_rasa(servers[1], rasa_port, api_token, timeout=timeout)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return DemoStack(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        api_token=api_token,
        secret=secret,
        actions_token=env["ACTION_SERVER_TOKEN"],
        database_url=db_url,
        tracker_db=tracker_db,
        servers=servers,
        actions_env=env,
        workdir=workdir,
        help_index=Path(env[HELP_INDEX_PATH]) if env.get(HELP_INDEX_PATH) else None,
    )


class SwitchableProxy:
    """A loopback TCP forwarder that can be switched off, for outage tests.

    Off, its port refuses connections and every connection through it is cut, as if
    the server behind it had died: a request in flight may have been processed by the
    server with its answer lost, which is exactly the case exactly-once delivery must
    survive. On again, it listens on the same port.

    ``hold(direction)`` is a link that silently loses what one side sends while both sides
    still believe it is up: ``"to_server"`` (a message sent into it never arrives) or
    ``"to_client"`` (it arrives and is handled, the answer and the acknowledgement never come
    back). What is dropped is gone; a held connection is then cut with ``switch_off``.
    """

    def __init__(self, target_port: int, *, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._held: set[str] = set()

    def hold(self, direction: str) -> None:
        if direction not in ("to_server", "to_client"):
            raise ValueError(f"direction must be to_server or to_client, not {direction!r}")
        self._held.add(direction)

    def __enter__(self) -> SwitchableProxy:
        self.switch_on()
        return self

    def __exit__(self, *exc: object) -> None:
        self.switch_off()

    def switch_on(self) -> None:
        self._held.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def switch_off(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            # shutdown first: it wakes the thread blocked in accept(), which otherwise keeps
            # the listening socket alive (and its port taken) after close().
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # switched off
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections.update((client, upstream))
            for source, sink, direction in ((client, upstream, "to_server"), (upstream, client, "to_client")):
                threading.Thread(target=self._pipe, args=(source, sink, direction), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        try:
            while chunk := source.recv(65536):
                if direction not in self._held:
                    sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(sink)
            source.close()  # each pipe closes the socket it reads; the other pipe closes the other


class RecordingGateway:
    """A stand-in messaging gateway on 127.0.0.1: what Rasa's callback channel POSTs to.

    Records every JSON body with its ``Authorization`` header; ``wait_for`` waits until
    messages for a recipient arrive. Started by the test stack, which points
    ``CALLBACK_URL`` here.
    """

    def __init__(self) -> None:
        import http.server
        import json

        received: list[tuple[str, dict[str, object]]] = []
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {"unparsable": True}
                with lock:
                    received.append((self.headers.get("Authorization", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._received, self._lock = received, lock
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/messages"
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def received(self, recipient: str) -> list[tuple[str, dict[str, object]]]:
        """(Authorization header, body) of every message sent to ``recipient``, oldest first."""
        with self._lock:
            return [(auth, body) for auth, body in self._received if body.get("recipient_id") == recipient]

    def wait_for(self, recipient: str, count: int, timeout: float = 120) -> list[dict[str, object]]:
        """The bodies of the first ``count`` messages to ``recipient``, once they have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.received(recipient)) < count:
            if time.monotonic() > deadline:
                got = [body for _, body in self.received(recipient)]
                raise AssertionError(f"the gateway got {len(got)} of {count} messages for {recipient}: {got}")
            time.sleep(0.2)
        return [body for _, body in self.received(recipient)][:count]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
