"""The messaging platforms as the tests see them: their APIs faked on 127.0.0.1, their
webhooks signed as the platforms sign them.

``FakePlatformAPIs`` is one HTTP server that answers what Rasa's channels call
(Telegram's Bot API, Slack's Web API, the Messenger Send API, Twilio's Messages API),
under ``/<platform>/...``, and records every call; Rasa is pointed at it with the
``*_API_URL`` variables (``bot.channels.availability.API_URLS``). The answers are the
smallest the platforms' own client libraries accept.

``PlatformUser`` is one user of one platform: ``send`` posts a webhook payload in the
platform's own format, signed with the platform's scheme, and ``forge`` the same without
a valid proof; ``messages`` are the bot's messages to that user as the platform received them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

PLATFORMS = ("telegram", "slack", "facebook", "twilio")


@dataclass(frozen=True)
class Call:
    """One request a channel made to a platform's API."""

    platform: str
    method: str
    """The API method: ``sendMessage``, ``chat.postMessage``, ``me/messages``, ``Messages.json``..."""
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def recipient(self) -> str | None:
        if self.platform == "telegram" and self.method == "sendMessage":
            return str(self.body.get("chat_id"))
        if self.platform == "slack" and self.method == "chat.postMessage":
            return str(self.body.get("channel"))
        if self.platform == "facebook" and self.method == "me/messages" and "message" in self.body:
            return str(self.body["recipient"]["id"])
        if self.platform == "twilio" and self.method == "Messages.json":
            return str(self.body.get("To"))
        return None

    @property
    def text(self) -> str:
        if self.platform == "facebook":
            message = self.body.get("message") or {}
            return str(message.get("text") or message.get("attachment", {}).get("payload", {}).get("text", ""))
        return str(self.body.get("Body" if self.platform == "twilio" else "text", ""))


def _first_values(form: dict[str, list[str]]) -> dict[str, Any]:
    return {key: values[0] for key, values in form.items()}


class FakePlatformAPIs:
    """The four platforms' APIs on one loopback port, recording every call."""

    def __init__(self) -> None:
        calls: list[Call] = []
        lock = threading.Lock()
        ids = itertools.count(1)

        def answer(platform: str, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if platform == "telegram":
                if method == "getMe":
                    bot = {"id": 1, "is_bot": True, "first_name": "Lumen", "username": "lumen_test_bot"}
                    return 200, {"ok": True, "result": bot}
                if method.startswith("send"):
                    chat = {"id": int(body.get("chat_id", 0)), "type": "private"}
                    result = {"message_id": next(ids), "date": int(time.time()), "chat": chat, "text": body.get("text")}
                    return 200, {"ok": True, "result": result}
                return 200, {"ok": True, "result": True}
            if platform == "slack":
                return 200, {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
            if platform == "facebook":
                return 200, {"recipient_id": body.get("recipient", {}).get("id"), "message_id": f"mid.{next(ids)}"}
            sid = f"SM{secrets.token_hex(16)}"
            return 201, {"sid": sid, "to": body.get("To"), "from": body.get("From"), "body": body.get("Body")}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                platform, _, rest = parts.path.lstrip("/").partition("/")
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    body = json.loads(raw or b"{}")
                elif "multipart" in kind:  # aiogram sends files as multipart; we never send files
                    body = {"multipart": True}
                else:
                    body = _first_values(parse_qs(raw.decode(), keep_blank_values=True))
                if platform == "telegram":
                    method = rest.split("/", 1)[1]  # bot<token>/<method>
                elif platform == "slack":
                    method = rest.removeprefix("api/")
                elif platform == "twilio":
                    method = rest.rsplit("/", 1)[-1]
                else:
                    method = rest
                call = Call(
                    platform=platform,
                    method=method,
                    query=_first_values(parse_qs(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body if isinstance(body, dict) else {"json": body},
                )
                call.headers["path"] = parts.path
                with lock:
                    calls.append(call)
                status, payload = answer(platform, method, call.body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._calls, self._lock = calls, lock
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="fake-platforms", daemon=True).start()

    def url(self, platform: str) -> str:
        return f"http://127.0.0.1:{self.port}/{platform}"

    def calls(self, platform: str | None = None, method: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self._calls
                if (platform is None or c.platform == platform) and (method is None or c.method == method)
            ]

    def messages_to(self, platform: str, recipient: str) -> list[Call]:
        return [c for c in self.calls(platform) if c.recipient == recipient]

    def wait_for(self, platform: str, recipient: str, count: int, timeout: float = 120) -> list[Call]:
        """The first ``count`` messages to ``recipient``, once they have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.messages_to(platform, recipient)) < count:
            if time.monotonic() > deadline:
                got = [c.text for c in self.messages_to(platform, recipient)]
                raise AssertionError(f"{platform} got {len(got)} of {count} messages for {recipient}: {got}")
            time.sleep(0.2)
        return self.messages_to(platform, recipient)[:count]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Secrets:
    """What each platform and our server share (fresh for every test stack)."""

    telegram_token: str = field(
        default_factory=lambda: f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)}"
    )
    telegram_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    slack_token: str = field(default_factory=lambda: f"xoxb-{secrets.token_hex(12)}")
    slack_signing_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    facebook_verify: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    facebook_app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    facebook_page_token: str = field(default_factory=lambda: f"EAAG{secrets.token_urlsafe(24)}")
    twilio_sid: str = field(default_factory=lambda: f"AC{secrets.token_hex(16)}")
    twilio_auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    twilio_number: str = "+15550001111"
    public_url: str = "https://support.example.test"
    """Where the platforms believe the server is (behind a proxy, as in production); the
    tests post to its loopback address and sign for this one, as the platforms would."""

    @property
    def twilio_webhook_url(self) -> str:
        return f"{self.public_url}/webhooks/twilio/webhook"

    def environment(self, apis: FakePlatformAPIs) -> dict[str, str]:
        """Every channel switched on (``bot.channels.availability``), talking to ``apis``."""
        return {
            "TELEGRAM_ACCESS_TOKEN": self.telegram_token,
            "TELEGRAM_SECRET_TOKEN": self.telegram_secret,
            "TELEGRAM_WEBHOOK_URL": f"{self.public_url}/webhooks/telegram/webhook",
            "TELEGRAM_API_URL": apis.url("telegram"),
            "SLACK_BOT_TOKEN": self.slack_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_API_URL": f"{apis.url('slack')}/api",
            "FACEBOOK_VERIFY_TOKEN": self.facebook_verify,
            "FACEBOOK_APP_SECRET": self.facebook_app_secret,
            "FACEBOOK_PAGE_ACCESS_TOKEN": self.facebook_page_token,
            "FACEBOOK_API_URL": apis.url("facebook"),
            "TWILIO_ACCOUNT_SID": self.twilio_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_NUMBER": self.twilio_number,
            "TWILIO_WEBHOOK_URL": self.twilio_webhook_url,
            "TWILIO_API_URL": apis.url("twilio"),
        }


def slack_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Slack's ``X-Slack-Signature``: ``v0=`` + HMAC-SHA256(signing secret, ``v0:<ts>:<body>``)."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def hub_signature(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    """Meta's ``X-Hub-Signature(-256)``: ``<algorithm>=`` + HMAC(app secret, raw body)."""
    return f"{algorithm}=" + hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1(auth token, URL + sorted name/value pairs)."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


_counter = itertools.count(1)


@dataclass
class PlatformUser:
    """One user of one platform, talking to the Rasa server at ``rasa_url``."""

    platform: str
    """``telegram``, ``slack``, ``facebook``, ``sms`` or ``whatsapp`` (the last two are Twilio)."""
    rasa_url: str
    keys: Secrets
    apis: FakePlatformAPIs
    api_token: str
    """Rasa's HTTP API token (to see when a turn is over)."""
    user_id: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            n = secrets.randbelow(10**8)
            self.user_id = {
                "telegram": str(800_000_000 + n),
                "slack": f"U{secrets.token_hex(5).upper()}",
                "facebook": str(6_000_000_000_000_000 + n),
                "sms": f"+1555{n:07d}"[:12],
                "whatsapp": f"whatsapp:+4915{n:08d}",
            }[self.platform]

    @property
    def channel(self) -> str:
        """Rasa's channel name (and the name of the platform's API)."""
        return "twilio" if self.platform in ("sms", "whatsapp") else self.platform

    @property
    def conversation_id(self) -> str:
        return self.user_id

    @property
    def reply_address(self) -> str:
        """Where the platform is asked to deliver the bot's answers to this user."""
        return f"D{self.user_id[1:]}" if self.platform == "slack" else self.user_id

    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/{self.channel}/webhook"

    def request(
        self, text: str, *, signed: bool = True, tamper: Callable[[dict[str, str]], None] | None = None
    ) -> httpx.Request:
        """The platform's webhook call for ``text``; ``signed=False`` leaves the proof out, and
        ``tamper`` may change the headers afterwards (a wrong proof, an old timestamp...)."""
        n = next(_counter)
        headers: dict[str, str] = {}
        url = self.webhook()
        if self.platform == "telegram":
            chat = {"id": int(self.user_id), "first_name": "Test", "type": "private"}
            sender = {"id": int(self.user_id), "is_bot": False, "first_name": "Test"}
            update = {
                "update_id": n,
                "message": {"message_id": n, "from": sender, "chat": chat, "date": int(time.time()), "text": text},
            }
            body = json.dumps(update).encode()
            headers["Content-Type"] = "application/json"
            if signed:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.keys.telegram_secret
        elif self.platform == "slack":
            event = {
                "type": "message",
                "channel": self.reply_address,
                "channel_type": "im",
                "user": self.user_id,
                "text": text,
                "ts": f"{time.time():.6f}",
            }
            payload = {
                "token": "verification-token-unused",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{n:08d}",
                "event_time": int(time.time()),
                "authorizations": [{"user_id": "UBOT0001", "is_bot": True}],
            }
            body = json.dumps(payload).encode()
            stamp = int(time.time())
            headers["Content-Type"] = "application/json"
            headers["X-Slack-Request-Timestamp"] = str(stamp)
            if signed:
                headers["X-Slack-Signature"] = slack_signature(self.keys.slack_signing_secret, stamp, body)
        elif self.platform == "facebook":
            ms = int(time.time() * 1000)
            messaging: dict[str, Any] = {
                "sender": {"id": self.user_id},
                "recipient": {"id": "PAGE0001"},
                "timestamp": ms,
                "message": {"mid": f"m_{n}", "text": text},
            }
            body = json.dumps(
                {"object": "page", "entry": [{"id": "PAGE0001", "time": ms, "messaging": [messaging]}]}
            ).encode()
            headers["Content-Type"] = "application/json"
            if signed:  # Meta sends both; ours reads only the SHA-256 one
                headers["X-Hub-Signature"] = hub_signature(self.keys.facebook_app_secret, body, "sha1")
                headers["X-Hub-Signature-256"] = hub_signature(self.keys.facebook_app_secret, body)
        else:
            to = f"whatsapp:{self.keys.twilio_number}" if self.platform == "whatsapp" else self.keys.twilio_number
            params = {
                "MessageSid": f"SM{secrets.token_hex(16)}",
                "AccountSid": self.keys.twilio_sid,
                "From": self.user_id,
                "To": to,
                "Body": text,
                "NumMedia": "0",
            }
            body = urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if signed:
                headers["X-Twilio-Signature"] = twilio_signature(
                    self.keys.twilio_auth_token, self.keys.twilio_webhook_url, params
                )
        if tamper is not None:
            tamper(headers)
        return httpx.Request("POST", url, content=body, headers=headers)

    def post(self, request: httpx.Request) -> httpx.Response:
        with httpx.Client(timeout=180) as client:
            return client.send(request)

    def send(self, text: str) -> httpx.Response:
        response = self.post(self.request(text))
        assert response.status_code < 300, (self.platform, response.status_code, response.text)
        return response

    def messages(self) -> list[Call]:
        return self.apis.messages_to(self.channel, self.reply_address)

    def wait_for(self, count: int, *, address: str | None = None) -> list[Call]:
        """The first ``count`` bot messages to this user (``address``: another delivery address)."""
        return self.apis.wait_for(self.channel, address or self.reply_address, count)

    def tracker(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.rasa_url}/conversations/{quote(self.conversation_id, safe=':@+')}/tracker",
            params={"token": self.api_token, "include_events": "ALL"},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())

    def say(self, text: str, *, timeout: float = 120) -> list[Call]:
        """Send ``text`` and return the bot's answer: the messages the platform got for it.

        The answer is complete when Rasa is listening again after this message (Slack's
        channel answers the webhook first and handles the message afterwards)."""
        before, since = len(self.messages()), time.time()
        self.send(text)
        deadline = time.monotonic() + timeout
        while not self._answered(text, since):
            if time.monotonic() > deadline:
                raise AssertionError(f"no complete answer to {text!r} on {self.platform} after {timeout}s")
            time.sleep(0.2)
        return self.messages()[before:]

    def _answered(self, text: str, since: float) -> bool:
        events = self.tracker()["events"]
        users = [i for i, e in enumerate(events) if e["event"] == "user" and e.get("text") == text]
        return (
            bool(users)
            and events[users[-1]]["timestamp"] >= since
            and (
                events[-1]["event"] == "action"
                and events[-1]["name"] == "action_listen"
                and len(events) > users[-1] + 1
            )
        )


def buttons(call: Call) -> list[tuple[str, str]]:
    """(title, payload) of the buttons a message carries, read from the platform's own format."""
    if call.platform == "telegram":
        markup = json.loads(call.body.get("reply_markup") or "{}")
        return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]
    if call.platform == "slack":
        blocks = call.body.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return [
            (e["text"]["text"], e["value"]) for block in blocks if block["type"] == "actions" for e in block["elements"]
        ]
    if call.platform == "facebook":
        payload = (call.body.get("message") or {}).get("attachment", {}).get("payload", {})
        return [(b["title"], b["payload"]) for b in payload.get("buttons", [])]
    return []
