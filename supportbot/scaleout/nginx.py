"""nginx (Debian's package) in front of the Rasa replicas and the action servers, on loopback.

Two listeners, both on 127.0.0.1:

- the Rasa address clients use (REST, the HTTP API, the widget's socket.io): round robin over the
  replicas; a replica that refuses connections (killed, restarting) is skipped for 10 s and the
  request goes to the next one. A POST already sent to a replica that dies is *not* resent by
  nginx (it is not idempotent): the client gets 502 and decides (docs/DEPLOYMENT.md).
- the action server address Rasa calls (``SUPPORTBOT_ACTIONS_URL`` in endpoints.production.yml):
  round robin over the action servers, which still check ``ACTION_SERVER_TOKEN`` themselves.

What socket.io needs: a websocket is one TCP connection, so it stays on the replica it reached
(round robin among new websockets). The long-polling fallback is many requests that must reach
the replica holding the session, so polling requests, and the websocket upgrade of a polling
session, go by the client's address (``hash $remote_addr consistent``). The widget opens a
websocket first (widget/src/widget.js), so polling is only the fallback. Rooms themselves are
shared through Redis (``bot.channels.socketio.client_manager_from_environment``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from supportbot.devstack import Server, start_server

WEBSOCKET_HOURS = 1
"""An idle websocket is closed after this long; the widget reconnects by itself."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed: run scripts/services.sh install (Debian's nginx package)")
    return found


def render_config(
    *,
    prefix: Path,
    rasa_port: int,
    rasa_replicas: list[int],
    actions_port: int,
    actions_replicas: list[int],
    rasa_max_body: int,
    actions_max_body: int,
) -> str:
    """The whole nginx.conf (foreground, its files under ``prefix``)."""
    as_root = os.geteuid() == 0
    rasa = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in rasa_replicas)
    sticky = "\n".join(f"    server 127.0.0.1:{p};" for p in rasa_replicas)
    actions = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in actions_replicas)
    tmp = prefix / "tmp"
    return f"""# Written by supportbot.scaleout.nginx for this run; not edited by hand.
daemon off;
{"user www-data;" if as_root else "# workers run as the user who started nginx"}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}

http {{
  # Which replica answered each request (tests count them; buffered, so cheap under load).
  log_format upstream '$upstream_addr $status $request_method $uri';
  access_log {prefix}/access.log upstream buffer=64k flush=1s;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_body_buffer_size 1m;
  proxy_http_version 1.1;
  proxy_set_header Host $host;
  proxy_set_header X-Forwarded-For $remote_addr;

  map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
  # A new websocket may go to any replica; polling (and upgrading a polling session) must stick.
  map "$arg_transport:$arg_sid" $socket_pool {{ "~^websocket:$" rasa; default rasa_sticky; }}

  # No keepalive to the upstreams, on purpose: nginx resends a request whose *cached* upstream
  # connection fails, even a POST, and a replica killed after it handled a message but before it
  # answered would see the message handled twice. A fresh loopback connection per request is cheap.
  upstream rasa {{
{rasa}
  }}
  upstream rasa_sticky {{
    hash $remote_addr consistent;
{sticky}
  }}
  upstream actions {{
{actions}
  }}

  server {{
    listen 127.0.0.1:{rasa_port};
    client_max_body_size {rasa_max_body};
    location /socket.io/ {{
      proxy_pass http://$socket_pool;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout {WEBSOCKET_HOURS}h;
      proxy_send_timeout {WEBSOCKET_HOURS}h;
      proxy_buffering off;
    }}
    location / {{
      proxy_pass http://rasa;
      proxy_read_timeout 130s;
    }}
  }}

  server {{
    listen 127.0.0.1:{actions_port};
    client_max_body_size {actions_max_body};
    location / {{
      proxy_pass http://actions;
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


def start_nginx(
    *,
    directory: Path,
    rasa_port: int,
    rasa_replicas: list[int],
    actions_port: int,
    actions_replicas: list[int],
    rasa_max_body: int,
    actions_max_body: int,
) -> Server:
    """Write the configuration into ``directory`` and start nginx in the foreground (its master
    is the returned process: stopping it stops the workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory / "tmp" / sub, "www-data", "www-data")
    conf = directory / "nginx.conf"
    conf.write_text(
        render_config(
            prefix=directory,
            rasa_port=rasa_port,
            rasa_replicas=rasa_replicas,
            actions_port=actions_port,
            actions_replicas=actions_replicas,
            rasa_max_body=rasa_max_body,
            actions_max_body=actions_max_body,
        )
    )
    command = [nginx_binary(), "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
    return start_server("nginx", command, env=dict(os.environ), log_dir=directory)
