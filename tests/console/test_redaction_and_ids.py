"""What an agent can learn, how conversation ids are read and linked, and that a GET never reveals
(security review, issue 14: findings 7, 10, 11 and 16), over real HTTP against real SQLite stores."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from supportbot.store.console_models import AuditEntry, ConversationTag
from tests.console.builders import LINK_CODE, ODD_CONVERSATION, PHONE_CONVERSATION
from tests.console.conftest import Console, csrf_token, listed, transcript_path

PHONE_DIGITS = "4915112345678"


def test_an_agent_cannot_recover_a_masked_phone_number_or_name_by_searching(
    console: Console, agent: TestClient, lead: TestClient
) -> None:
    """Maya wrote "call me on +1 212 555 0147" on Telegram; an agent sees [PHONE], and searching
    for the digits (one more at a time, as the reviewer did) must not tell them which they are."""
    assert "555 0147" not in agent.get(transcript_path(console, "tg-99812")).text
    for prefix in ("+1 212", "212 555", "555 0147", "0147"):
        assert listed(agent, q=prefix) == [], prefix
    for digit in "0123456789":
        assert listed(agent, q=f"555 014{digit}") == [], digit
    assert listed(agent, q="Maya") == []  # the bot greets her by name; agents see [NAME]
    assert listed(agent, q="about order") == ["tg-[NUMBER]"]  # the words around it are still found
    assert listed(lead, q="555 0147") == ["tg-99812"]  # roles that may reveal search the real text
    assert listed(lead, q="Maya") == ["cust:C100001:web"]


def test_phone_numbers_as_conversation_ids_and_link_codes_are_masked_for_agents(
    masked: Console, agent: TestClient, lead: TestClient
) -> None:
    awkward = masked
    conversations = agent.get("/console/conversations").text
    assert PHONE_DIGITS not in conversations and "whatsapp:[PHONE]" in conversations
    transcript = agent.get(transcript_path(awkward, PHONE_CONVERSATION)).text
    assert PHONE_DIGITS not in transcript and LINK_CODE not in transcript
    assert "whatsapp:[PHONE]" in transcript and "LINK [LINK CODE]" in transcript
    maya_app = agent.get(transcript_path(awkward, "cust:C100001:app")).text
    assert LINK_CODE not in maya_app and "Here is your link code: [LINK CODE]." in maya_app
    assert listed(agent, q="7KQ4") == [] and listed(agent, q=PHONE_DIGITS) == []
    # A lead (who may reveal) sees the conversation ids, but link codes only after revealing.
    assert PHONE_CONVERSATION in listed(lead)
    lead_view = lead.get(transcript_path(awkward, "cust:C100001:app")).text
    assert LINK_CODE not in lead_view
    revealed = lead.post(
        transcript_path(awkward, "cust:C100001:app") + "/reveal", data={"csrf_token": csrf_token(lead_view)}
    )
    assert f"Here is your link code: {LINK_CODE}." in revealed.text


def test_a_cust_conversation_belongs_to_the_customer_the_shared_parser_names(
    masked: Console, lead: TestClient, admin: TestClient
) -> None:
    awkward = masked
    """``cust:C77:b`` is C77's; ``cust:C77:b:x`` is not (the actions would not give it C77's data)."""
    assert listed(lead, customer="C77") == ["cust:C77:b"]
    assert "cust:C77:b:x" not in listed(lead, verified="yes")
    assert "cust:C77:b:x" in listed(lead, verified="no")
    page = lead.get("/console/customers/C77").text
    assert ">cust:C77:b<" in page and "cust:C77:b:x" not in page
    odd = lead.get(transcript_path(awkward, "cust:C77:b:x")).text
    assert "anonymous (not verified)" in odd
    token = csrf_token(admin.get("/console/customers/C77").text)
    admin.post("/console/customers/C77/forget", data={"confirm": "C77", "csrf_token": token})
    with awkward.tracker.connect() as connection:
        left = {
            s
            for (s,) in connection.execute(
                text("SELECT DISTINCT sender_id FROM events WHERE sender_id LIKE 'cust:C77%'")
            )
        }
    assert left == {"cust:C77:b:x"}  # forgetting C77 deleted C77's conversation and nobody else's


def test_a_conversation_id_with_slashes_and_url_characters_works_everywhere(
    awkward: Console, lead: TestClient, agent: TestClient
) -> None:
    """The callback channel accepts any sender id; one with ``/`` made the list answer 500 for all staff."""
    assert ODD_CONVERSATION in listed(lead)
    assert len(listed(agent)) == len(listed(lead))
    found = lead.get("/console/transcripts", params={"id": ODD_CONVERSATION})
    assert found.status_code == 200 and "where is my parcel" in found.text
    assert "Conversation partner/acme/user #42?x=%2F&amp;y" in found.text
    response = lead.post(str(found.url) + "/tags", data={"tag": "partner", "csrf_token": csrf_token(found.text)})
    assert response.status_code == 200 and '<span class="badge">partner</span>' in response.text
    with awkward.sessions() as session:
        assert session.scalars(select(ConversationTag.conversation_id)).all() == [ODD_CONVERSATION]
    assert listed(lead, tag="partner") == [ODD_CONVERSATION]


def test_a_get_with_reveal_in_the_query_neither_reveals_nor_audits(console: Console, lead: TestClient) -> None:
    """Revealing is a CSRF-protected POST; the old ``?reveal=1`` links do nothing (in either URL shape)."""
    for path in (
        "/console/customers/C100001?reveal=1",
        "/console/transcripts/cust:C100001:web?reveal=1",
        transcript_path(console, "cust:C100001:web") + "?reveal=1",
        "/console/conversations/export.json?reveal=1&customer=C100001",
        "/console/customers/C100001/export.json?reveal=1",
    ):
        response = lead.get(path)
        assert response.status_code in (200, 404, 405, 422), path
        assert "Patel" not in response.text and "Hi Maya" not in response.text, path
    with console.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action != "sign_in")) == 0
    page = lead.get(transcript_path(console, "cust:C100001:web")).text
    forged = lead.post(transcript_path(console, "cust:C100001:web") + "/reveal", data={"csrf_token": "x" * 43})
    assert forged.status_code == 403 and "Hi Maya" not in forged.text
    revealed = lead.post(
        transcript_path(console, "cust:C100001:web") + "/reveal", data={"csrf_token": csrf_token(page)}
    )
    assert revealed.status_code == 200 and "Hi Maya" in revealed.text
    customer = lead.post("/console/customers/C100001/reveal", data={"csrf_token": csrf_token(page)})
    assert customer.status_code == 200 and "Patel" in customer.text
    with console.sessions() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action != "sign_in")).all()
    assert sorted(actions) == ["reveal_customer", "reveal_transcript"]
