"""The switchable proxy the outage test relies on: on, off (refused), on again on the same port."""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest

from supportbot.devstack import SwitchableProxy


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_proxy_forwards_refuses_when_off_and_comes_back_on_the_same_port() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with SwitchableProxy(server.server_address[1]) as proxy:
            url = f"http://127.0.0.1:{proxy.port}/"
            for _ in range(2):
                assert httpx.get(url, timeout=5).text == "hello"
                proxy.switch_off()
                with pytest.raises(httpx.ConnectError):
                    httpx.get(url, timeout=5)
                proxy.switch_on()
            assert httpx.get(url, timeout=5).text == "hello"
    finally:
        server.shutdown()
        server.server_close()
