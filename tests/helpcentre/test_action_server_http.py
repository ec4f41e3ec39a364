"""The real action server (``supportbot.action_server``, as ``make run`` starts it) answering
``action_answer_help`` over its HTTP webhook, for a verified customer and an anonymous visitor;
an article edited and re-indexed while it runs changes its next answer, with no restart and no
``rasa train``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportbot.devstack import Server, base_env, free_port, start_actions, wait_for_actions, wait_until
from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre.index import reindex
from tests.factories import add_customer, prepared_store
from tests.helpcentre.conftest import HelpFolder

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning"),
]


WARMED = "help-centre index and embedding model loaded"


@dataclass
class Running:
    server: Server
    url: str
    folder: HelpFolder
    token: str
    """ACTION_SERVER_TOKEN: what Rasa sends (the action server answers nobody else)."""


@pytest.fixture
def action_server(help_folder: HelpFolder, tmp_path: Path) -> Iterator[Running]:
    sessions = prepared_store(tmp_path / "profile.db")
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro")
    sessions.kw["bind"].dispose()
    port = free_port()
    env = base_env(
        SUPPORTBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'profile.db'}",
        SUPPORTBOT_HELPCENTRE_CONTENT_DIR=str(help_folder.content),
        SUPPORTBOT_HELPCENTRE_INDEX_PATH=str(help_folder.index),
        SUPPORTBOT_HELPCENTRE_PUBLIC_BASE_URL="https://lumen.example",
    )
    server = start_actions(port=port, env=env, log_dir=tmp_path)
    try:
        wait_for_actions(server, port)
        # The models load in a start-up thread (as with `make run`); on this shared two-core
        # machine that can take longer than Sanic's 60 s response timeout for the first call.
        wait_until(server, lambda: WARMED in server.log_tail(400), timeout=600)
        yield Running(server, f"http://127.0.0.1:{port}/webhook", help_folder, env["ACTION_SERVER_TOKEN"])
    finally:
        server.stop()


def call(running: Running, sender_id: str, text: str) -> list[dict[str, Any]]:
    parse = {"intent": {"name": "ask_help_article", "confidence": 0.9}, "entities": [], "text": text}
    tracker = {
        "sender_id": sender_id,
        "slots": {},
        "latest_message": parse,
        "events": [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "input_channel": "rest", "parse_data": parse, "metadata": {}},
        ],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    body = {
        "next_action": "action_answer_help",
        "sender_id": sender_id,
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }
    headers = {"Authorization": f"Bearer {running.token}"}
    response = httpx.post(running.url, json=body, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    responses: list[dict[str, Any]] = response.json()["responses"]
    return responses


def test_the_action_server_answers_with_links_and_picks_up_a_reindex_without_restarting(
    action_server: Running, embedder: SentenceTransformerEmbedder
) -> None:
    for sender in ("cust:C1:rest-1", "anon:rest-2"):
        [answer] = call(action_server, sender, "do you ship to canada")
        assert "https://lumen.example/help/articles/shipping-countries" in answer["text"]
        assert "Canada" in answer["text"]
    [unsure] = call(action_server, "anon:rest-3", "what's the weather in paris tomorrow")
    assert "not sure" in unsure["text"] and unsure["buttons"][0]["payload"] == "/human_handoff"

    path = action_server.folder.content / "orders-and-shipping" / "shipping-countries.md"
    path.write_text(path.read_text().replace("Canada", "Canada (from the Toronto warehouse)"))
    reindex(content_dir=action_server.folder.content, index_path=action_server.folder.index, embedder=embedder)
    [fresh] = call(action_server, "anon:rest-4", "do you ship to canada")
    assert "Canada (from the Toronto warehouse)" in fresh["text"]
