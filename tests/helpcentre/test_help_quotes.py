"""A how-to question that lands in a request flow also gets the help centre's answer
(``actions.help_quotes``): real flow actions, real Trackers and dispatcher, a real SQLite store
and the real embedding model over copies of real articles."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.cancellation import ActionOfferRetention
from actions.help_quotes import LEAD_IN
from actions.loyalty import ActionLoyalty
from actions.plans import ActionPlanOptions
from actions.profile import ActionShowRenewal
from actions.profile_form import ActionAskUpdateValue
from actions.support import ActionReportProblem
from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre import config, service
from supportbot.helpcentre.index import reindex
from supportbot.helpcentre.models import HelpAnswer
from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.models import Subscription, SupportInteraction
from tests.actions.test_dialogue_actions import DOMAIN, Chat, _validate, answer
from tests.factories import add_customer, prepared_store
from tests.helpcentre.conftest import CONTENT, HANDFUL

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning",  # torch / transformers / spaCy import noise; not our code
    "ignore::FutureWarning",
    "ignore::UserWarning",
)

ARTICLES = (
    *HANDFUL,
    "plans-and-billing/cancel-subscription.md",
    "plans-and-billing/plans-and-prices.md",
    "plans-and-billing/renewal-and-auto-renew.md",
    "lumen-pen/pair-lumen-pen.md",
    "lumen-pen/charge-lumen-pen.md",
    "loyalty/earn-points.md",
    "using-lumen/sync-troubleshooting.md",
    "privacy-and-security/reset-password.md",
)
BASE = "https://lumen.example/help/articles/"


@pytest.fixture(scope="module")
def quote_index(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("quotes")
    for name in ARTICLES:
        target = root / "content" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONTENT / name, target)
    index = root / "index.npz"
    reindex(content_dir=root / "content", index_path=index, embedder=embedder)
    return root / "content", index


@pytest.fixture
def quotes(
    quote_index: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embedder: SentenceTransformerEmbedder,
) -> Iterator[Path]:
    """The action server's help centre on these articles (through the environment), as in production."""
    content, built = quote_index
    index = tmp_path / "index.npz"
    shutil.copyfile(built, index)
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_CONTENT_DIR", str(content))
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_INDEX_PATH", str(index))
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_PUBLIC_BASE_URL", "https://lumen.example")
    config.get_helpcentre_settings.cache_clear()
    service.get_retriever.cache_clear()
    service.get_retriever().embedder = embedder
    yield index
    config.get_helpcentre_settings.cache_clear()
    service.get_retriever.cache_clear()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400)
    return sessions


def tracker(sender_id: str, text: str, *, channel: str = "rest", slots: dict[str, Any] | None = None) -> Tracker:
    parse = {"intent": {"name": "cancel_subscription", "confidence": 0.9}, "entities": [], "text": text}
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=parse,
        events=[
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "input_channel": channel, "parse_data": parse, "metadata": {}},
        ],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action: Any, t: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, t, DOMAIN)
    return dispatcher.messages


def rows(store: sessionmaker[Session]) -> list[HelpAnswer]:
    with store() as session:
        return list(session.scalars(select(HelpAnswer).order_by(HelpAnswer.id)))


def subscription(store: sessionmaker[Session]) -> Subscription:
    with store() as session:
        return session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()


async def test_how_do_i_cancel_gets_the_article_then_the_offer_and_nothing_changes_without_a_yes(
    quotes: Path, store: sessionmaker[Session]
) -> None:
    chat = Chat()
    await _validate(chat, "how do I cancel my subscription", "cancel_subscription")
    messages = await chat.run(ActionOfferRetention())
    quote, offer = messages
    assert quote["text"].startswith(LEAD_IN)
    assert f"More in \u201cCancel your subscription\u201d: {BASE}cancel-subscription" in quote["text"]
    assert quote["buttons"] == []  # REST: the link is in the text; no account step: this is the account step
    assert "For your own account" not in quote["text"]  # nor its sentence, which would dangle (make run)
    assert [b["title"] for b in offer["buttons"]] == ["Keep it with 20% off", "Switch to Plus", "No, cancel"]
    assert subscription(store).status == "active"
    [row] = rows(store)
    assert (row.outcome, row.article_slug, row.customer_id) == ("answered", "cancel-subscription", "C1")

    confirm = await answer(chat, "No, cancel", "deny")  # the offer's buttons still answer it
    assert "Just to confirm: cancel your Pro plan?" in confirm[0]["text"]
    assert LEAD_IN not in confirm[0]["text"] and subscription(store).status == "active"
    done = await answer(chat, "yes", "affirm")
    assert done[0]["response"] == "utter_cancelled"
    with store() as session:
        kinds = [r.kind for r in session.scalars(select(AccountChangeRequest).order_by(AccountChangeRequest.id))]
    assert kinds == ["retention_offer", "cancel"]


async def test_a_request_to_cancel_gets_the_flow_alone(quotes: Path, store: sessionmaker[Session]) -> None:
    """ "Cancel my subscription" asks for the thing, not how: no article before the offer."""
    messages = await run(ActionOfferRetention(), tracker("cust:C1:web", "cancel my subscription"))
    assert len(messages) == 1 and "Keep it with 20% off" in str(messages[0]["buttons"])
    assert rows(store) == []


async def test_a_visitor_gets_the_article_and_the_sign_in_answer(quotes: Path, store: sessionmaker[Session]) -> None:
    messages = await run(ActionOfferRetention(), tracker("anon:rest:v1", "how do I cancel my subscription"))
    assert [m.get("response") for m in messages] == [None, "utter_anon_cancel"]
    assert f"{BASE}cancel-subscription" in messages[0]["text"]
    [row] = rows(store)
    assert row.customer_id is None and row.article_slug == "cancel-subscription"


async def test_the_widget_gets_a_link_button_on_the_quote_and_the_flow_keeps_its_own(
    quotes: Path, store: sessionmaker[Session]
) -> None:
    messages = await run(
        ActionPlanOptions(), tracker("cust:C1:web", "how much does each plan cost", channel="socketio")
    )
    quote, options = messages
    assert quote["buttons"] == [{"title": "Open the article", "type": "web_url", "url": f"{BASE}plans-and-prices"}]
    assert options["buttons"] and all(b["payload"].startswith("/change_plan") for b in options["buttons"])


async def test_a_problem_report_files_the_report_and_links_the_troubleshooting_article(
    quotes: Path, store: sessionmaker[Session]
) -> None:
    slots = {"problem_description": "my lumen pen won't pair with my tablet over bluetooth"}
    messages = await run(ActionReportProblem(), tracker("cust:C1:web", slots["problem_description"], slots=slots))
    quote, filed = messages
    assert f"{BASE}pair-lumen-pen" in quote["text"]
    assert "I've logged it as P-" in filed["text"]
    assert [b["payload"] for b in filed["buttons"]] == ["/human_handoff", "/deny"]
    with store() as session:
        reports = session.scalars(select(SupportInteraction).where(SupportInteraction.kind == "problem_report")).all()
    assert len(reports) == 1


async def test_an_account_question_gets_the_profile_answer_alone(quotes: Path, store: sessionmaker[Session]) -> None:
    messages = await run(ActionShowRenewal(), tracker("cust:C1:web", "when does my plan renew"))
    assert [m.get("response") for m in messages] == ["utter_renewal_info"]
    assert rows(store) == []


async def test_nothing_is_quoted_when_the_help_centre_is_not_sure(quotes: Path, store: sessionmaker[Session]) -> None:
    messages = await run(ActionLoyalty(), tracker("anon:rest:v2", "can I trade my points for a goat"))
    assert [m.get("response") for m in messages] == ["utter_anon_loyalty"]
    assert rows(store) == []


async def test_an_article_just_given_is_not_repeated(quotes: Path, store: sessionmaker[Session]) -> None:
    question = "how do I cancel my subscription"
    first = await run(ActionOfferRetention(), tracker("anon:rest:v3", question))
    again = await run(ActionOfferRetention(), tracker("anon:rest:v3", question))
    assert len(first) == 2 and [m.get("response") for m in again] == ["utter_anon_cancel"]


async def test_without_an_index_the_flow_goes_on_alone(quotes: Path, store: sessionmaker[Session]) -> None:
    quotes.unlink()
    messages = await run(ActionOfferRetention(), tracker("anon:rest:v4", "how do I cancel my subscription"))
    assert [m.get("response") for m in messages] == ["utter_anon_cancel"]


async def test_a_form_opened_by_a_how_to_question_quotes_the_article_before_its_first_question(
    quotes: Path, store: sessionmaker[Session]
) -> None:
    t = tracker("cust:C1:web", "how do I change the email address on my account", slots={"update_field": "contact"})
    t.latest_message["intent"] = {"name": "update_contact_details", "confidence": 0.9}
    messages = await run(ActionAskUpdateValue(), t)
    assert f"{BASE}reset-password" in messages[0]["text"]
    assert [m.get("response") for m in messages] == [None, "utter_ask_update_value"]
    t.latest_message.update(text="new.address@example.com", intent={"name": "inform", "confidence": 0.9})
    again = await run(ActionAskUpdateValue(), t)  # asked again after a value it could not read: no quote
    assert [m.get("response") for m in again] == ["utter_ask_update_value"]
