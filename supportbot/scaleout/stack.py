"""The scaled stack: PostgreSQL and Redis (``scripts/services.sh``), two Rasa replicas and two
action servers behind nginx, the scheduler (one planner under its database lease) and delivery
workers, the web process. ``make run-scaled`` and the scaled-stack tests start exactly this.

Every process listens on 127.0.0.1. Rasa reads ``endpoints.production.yml`` unchanged; what it
needs (addresses, passwords, the action server's token) comes from the environment this module
builds, never from a command line, except Rasa's own ``--auth-token`` (as ``scripts/run.sh``).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.channels.limits import MAX_REQUEST_BYTES
from supportbot.devstack import (
    ROOT,
    Server,
    base_env,
    free_port,
    rasa_executable,
    start_server,
    wait_for_actions,
    wait_for_rasa,
    wait_until,
)
from supportbot.scaleout.nginx import start_nginx
from supportbot.scaleout.services import Services, create_database, database_exists
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.migrate import upgrade_database

ENDPOINTS = ROOT / "endpoints.production.yml"
ACTIONS_MAX_BODY = 8 * 1024 * 1024
"""nginx's limit for action calls: the action server's own (``SUPPORTBOT_ACTIONS_MAX_REQUEST_BYTES``)."""


@dataclass(frozen=True)
class Ports:
    rasa: int
    """nginx: what clients (REST, widget, scheduler, console) use as the Rasa address."""
    actions: int
    """nginx: the action server address Rasa calls."""
    rasa_replicas: tuple[int, ...]
    actions_replicas: tuple[int, ...]
    web: int

    @classmethod
    def free(cls, replicas: int = 2) -> Ports:
        return cls(
            rasa=free_port(),
            actions=free_port(),
            rasa_replicas=tuple(free_port() for _ in range(replicas)),
            actions_replicas=tuple(free_port() for _ in range(replicas)),
            web=free_port(),
        )

    @classmethod
    def standard(cls) -> Ports:
        """``make run-scaled``: the README's addresses (Rasa 5005, web 8000), replicas next to them."""
        env = os.environ
        rasa, actions = int(env.get("RASA_PORT", 5005)), int(env.get("ACTIONS_PORT", 5055))
        return cls(
            rasa=rasa,
            actions=actions,
            rasa_replicas=(rasa + 1, rasa + 2),
            actions_replicas=(actions + 1, actions + 2),
            web=int(env.get("WEB_PORT", 8000)),
        )


@dataclass
class Secrets:
    api_token: str
    customer_token_secret: str
    action_server_token: str

    @classmethod
    def fresh(cls) -> Secrets:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(32), secrets.token_urlsafe(32))

    @classmethod
    def from_environment(cls) -> Secrets:
        """``var/secrets.env`` as ``scripts/secrets.sh`` wrote it (exported by the run script)."""
        env = os.environ
        return cls(env["RASA_API_TOKEN"], env["CUSTOMER_TOKEN_SECRET"], env["ACTION_SERVER_TOKEN"])


@dataclass
class ScaledStack:
    """The running processes (by name) and how to reach and restart each of them."""

    workdir: Path
    services: Services
    ports: Ports
    model: Path
    secrets: Secrets
    profile_db: str
    tracker_db: str
    servers: dict[str, Server] = field(default_factory=dict)
    supervised: dict[str, tuple[str, ...]] = field(default_factory=dict)
    restarts: Counter[str] = field(default_factory=Counter)
    _watchers: list[threading.Event] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    def replica_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.rasa_replicas[index]}"

    @property
    def database_url(self) -> str:
        return self.services.postgres_url(self.profile_db)

    @property
    def tracker_url(self) -> str:
        """The tracker store as the app env opens it (the console; tests counting events)."""
        return self.services.postgres_url(self.tracker_db)

    def env(self, **extra: str) -> dict[str, str]:
        """Settings every process of the stack gets (each ignores what it does not read)."""
        s = self.services
        return base_env(
            ACTION_SERVER_TOKEN=self.secrets.action_server_token,
            CUSTOMER_TOKEN_SECRET=self.secrets.customer_token_secret,
            RASA_API_TOKEN=self.secrets.api_token,
            SUPPORTBOT_DATABASE_URL=self.database_url,
            SUPPORTBOT_TRACKER_STORE_URL=self.tracker_url,
            SUPPORTBOT_RASA_URL=self.rasa_url,
            # endpoints.production.yml
            SUPPORTBOT_ACTIONS_URL=f"http://127.0.0.1:{self.ports.actions}/webhook",
            TRACKER_DB_HOST=s.pg_host,
            TRACKER_DB_PORT=str(s.pg_port),
            TRACKER_DB_NAME=self.tracker_db,
            TRACKER_DB_USER=s.pg_user,
            TRACKER_DB_PASSWORD=s.pg_password,
            REDIS_HOST=s.redis_host,
            REDIS_PORT=str(s.redis_port),
            REDIS_PASSWORD=s.redis_password,
            SUPPORTBOT_SOCKETIO_REDIS_URL=s.redis_url(2),
            # Rasa's tracker store pool, per replica (PostgreSQL allows 300 connections here).
            SQL_POOL_SIZE="10",
            SQL_MAX_OVERFLOW="20",
            **extra,
        )

    # -- processes -------------------------------------------------------------------------

    def start_rasa(self, index: int, *, wait: bool = True, timeout: float = 1200) -> Server:
        port = self.ports.rasa_replicas[index]
        name = self._fresh_name(f"rasa-{index}")
        server = start_server(
            name,
            [
                *(str(rasa_executable().parent / "python"), "-m", "bot.server", "run", "--enable-api"),
                *("--interface", "127.0.0.1"),  # Rasa's default is every interface; nginx is the way in
                # one argument: a random token may start with "-", which argparse would take for an option
                f"--auth-token={self.secrets.api_token}",
                *("--port", str(port), "--model", str(self.model)),
                *("--endpoints", str(ENDPOINTS), "--credentials", str(ROOT / "credentials.yml")),
            ],
            env=self.env(),
            log_dir=self.workdir,
        )
        self.servers[f"rasa-{index}"] = server
        if wait:
            wait_for_rasa(server, port, self.secrets.api_token, timeout=timeout)
        return server

    def wait_rasa(self, index: int, *, timeout: float = 1200) -> None:
        port = self.ports.rasa_replicas[index]
        wait_for_rasa(self.servers[f"rasa-{index}"], port, self.secrets.api_token, timeout=timeout)

    def start_actions(self, index: int, *, wait: bool = True, timeout: float = 600) -> Server:
        port = self.ports.actions_replicas[index]
        server = start_server(
            self._fresh_name(f"actions-{index}"),
            [sys.executable, "-m", "supportbot.action_server", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env(),
            log_dir=self.workdir,
        )
        self.servers[f"actions-{index}"] = server
        if wait:
            wait_for_actions(server, port, timeout=timeout)
        return server

    def start_nginx(self) -> Server:
        server = start_nginx(
            directory=self.workdir / "nginx",
            rasa_port=self.ports.rasa,
            rasa_replicas=list(self.ports.rasa_replicas),
            actions_port=self.ports.actions,
            actions_replicas=list(self.ports.actions_replicas),
            rasa_max_body=MAX_REQUEST_BYTES,
            actions_max_body=ACTIONS_MAX_BODY,
        )
        self.servers["nginx"] = server
        wait_until(server, _listening(self.ports.rasa), timeout=60)
        return server

    def start_scheduler(self, name: str, *args: str, supervise: bool = False) -> Server:
        """``python -m scheduler ARGS`` (``run``: planner under the lease plus its delivery job;
        ``deliver``: one more delivery worker claiming rows with SKIP LOCKED).

        ``supervise``: started again whenever it exits (``watch``), as systemd's ``Restart=always``
        does in production: ``scheduler deliver`` exits when the database goes away under it (a
        PostgreSQL restart), and its rows wait for the next worker's claim, losing nothing."""
        server = start_server(
            self._fresh_name(name), [sys.executable, "-m", "scheduler", *args], env=self.env(), log_dir=self.workdir
        )
        self.servers[name] = server
        if supervise:
            self.supervised[name] = args
        return server

    def watch(self) -> list[str]:
        """Start again every supervised process that has exited; the names restarted."""
        restarted = []
        for name, args in list(self.supervised.items()):
            if self.servers[name].process.poll() is not None:
                self.servers[name].log_file.close()
                self.start_scheduler(name, *args, supervise=True)
                self.restarts[name] += 1
                restarted.append(name)
        return restarted

    def watching(self, *, every: float = 1.0) -> threading.Event:
        """``watch`` in a background thread until the returned event is set (``stop`` sets it too)."""
        done = threading.Event()
        self._watchers.append(done)

        def loop() -> None:
            while not done.wait(every):
                self.watch()

        threading.Thread(target=loop, name="supervisor", daemon=True).start()
        return done

    def unsupervise(self, name: str) -> None:
        self.supervised.pop(name, None)

    def start_web(self, *, demo: bool) -> Server:
        server = start_server(
            "web",
            [sys.executable, "-m", "supportbot.web", "--host", "127.0.0.1", "--port", str(self.ports.web)],
            env=self.env(SUPPORTBOT_DEMO_MODE="true" if demo else "false", SUPPORTBOT_WEB_PORT=str(self.ports.web)),
            log_dir=self.workdir,
        )
        self.servers["web"] = server
        return server

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to one process (``kill -9`` by default) and reap it."""
        server = self.servers[name]
        if server.process.poll() is None:
            server.process.send_signal(sig)
            server.process.wait(timeout=60)

    def stop(self) -> None:
        for watcher in self._watchers:
            watcher.set()
        self.supervised.clear()
        for name in reversed(list(self.servers)):
            self.servers[name].stop(timeout=30)

    def _fresh_name(self, name: str) -> str:
        """Log file names: a restarted process gets ``name-2.log`` and so on, the old log is kept."""
        if not (self.workdir / f"{name}.log").exists():
            return name
        n = 2
        while (self.workdir / f"{name}-{n}.log").exists():
            n += 1
        return f"{name}-{n}"


def _listening(port: int) -> Callable[[], bool]:
    import socket

    def ready() -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return ready


def prepare_databases(
    services: Services, *, profile_db: str, tracker_db: str, demo: bool, fresh: bool, reference_date: dt.date | None
) -> None:
    """The profile store migrated (with the demo customers if ``demo`` and it is empty) and an
    (empty, if ``fresh``) tracker store database, which Rasa fills with its table."""
    for name in (profile_db, tracker_db):
        if fresh or not database_exists(services, name):
            create_database(services, name, replace=fresh)
    url = services.postgres_url(profile_db)
    upgrade_database(url=url)
    if demo:
        engine = make_engine(url)
        try:
            load_demo_data(session_factory=session_factory(engine), reference_date=reference_date)
        finally:
            engine.dispose()


def start_scaled_stack(
    *,
    services: Services,
    model: Path,
    workdir: Path,
    ports: Ports,
    stack_secrets: Secrets,
    profile_db: str,
    tracker_db: str,
    demo: bool = True,
    fresh: bool = True,
    reference_date: dt.date | None = None,
    replicas: int = 2,
    timeout: float = 1800,
) -> ScaledStack:
    """Databases, action servers, Rasa replicas (started side by side, waited for), nginx.

    Schedulers and the web process are started by the caller (``make run-scaled`` starts them
    all; tests start what they exercise). Stops what it started if any part fails to come up.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    prepare_databases(
        services, profile_db=profile_db, tracker_db=tracker_db, demo=demo, fresh=fresh, reference_date=reference_date
    )
    stack = ScaledStack(workdir, services, ports, model, stack_secrets, profile_db, tracker_db)
    try:
        for index in range(replicas):
            stack.start_actions(index, wait=False)
            stack.start_rasa(index, wait=False)
        stack.start_nginx()
        for index in range(replicas):
            wait_for_actions(stack.servers[f"actions-{index}"], ports.actions_replicas[index], timeout=timeout)
            stack.wait_rasa(index, timeout=timeout)
    except BaseException:
        stack.stop()
        raise
    return stack
