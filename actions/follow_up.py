"""A short follow-up question about what was just discussed: "can I return it?" after an order.

The help centre is asked with the customer's own words. A follow-up that points back with a
pronoun ("can I return it?", "how long does that take?") names nothing the index can match, so
retrieval is rightly unsure. A person reads "it" as the order just shown; this module does the
same, narrowly: when the question is short, has such a pronoun, and the assistant's last answer
was about one thing (an order, the plan, the points, a help article), the pronoun is replaced by
that thing and the help centre is asked again. Only when the first reading was not sure, and
only the help centre's own threshold decides whether the second one is answered. In the middle
of a form the thing is what the form asks for ("why do you need that?" while asked for a birthday).
A short reply with no pronoun right after an article ("I'm a student" after "Can I get a
discount?") is asked again with the article's title beside it.
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker

from supportbot.formatting import PROFILE_FIELD_NAMES

TOPIC_OF_ACTION = {
    "action_order_status": "my order",
    "action_recent_orders": "my order",
    "action_show_plan": "my plan",
    "action_plan_options": "my plan",
    "action_change_plan": "my plan",
    "action_show_renewal": "my plan's renewal",
    "action_renew_now": "my plan's renewal",
    "action_loyalty": "my loyalty points",
    "action_redeem_points": "my loyalty points",
    "action_referral_code": "my referral code",
    "action_delete_account": "deleting my account",
}
"""What the assistant's last answer was about, by the action that gave it."""
MAX_WORDS = 10
MAX_SITUATION_WORDS = 6
_PRONOUN = re.compile(r"\b(it|that|this|them|those|these)\b", re.IGNORECASE)
_ARTICLE = re.compile(r"More in \u201c(?P<title>[^\u201d]+)\u201d")
_IGNORED = frozenset({"action_listen", "action_validate_slot_mappings", "action_session_start"})


def last_topic(tracker: Tracker) -> str | None:
    """The thing the assistant's previous turn was about, if it was about one."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return None
    turn = events[users[-2] + 1 : users[-1]]
    for event in reversed(turn):
        if event.get("event") == "bot" and (match := _ARTICLE.search(str(event.get("text") or ""))):
            return f"“{match.group('title')}”"
    for event in reversed(turn):
        name = str(event.get("name") or "")
        if event.get("event") == "action" and name not in _IGNORED:
            return TOPIC_OF_ACTION.get(name)
    return None


FORM_TOPICS = {"profile_update_form": ("update_field", "my {}")}
"""In the middle of a form, "it" is what the form asks for: "why do you need that?" → "my birthday"."""


def form_topic(tracker: Tracker) -> str | None:
    form = str((tracker.active_loop or {}).get("name") or "")
    if form not in FORM_TOPICS:
        return None
    slot, wording = FORM_TOPICS[form]
    field = tracker.get_slot(slot)
    return wording.format(PROFILE_FIELD_NAMES.get(str(field), "details")) if field else None


def points_back(question: str) -> bool:
    """A short question that points back at what was just discussed: "how do I fix it?"."""
    return len(question.split()) <= MAX_WORDS and _PRONOUN.search(question) is not None


def with_topic(question: str, tracker: Tracker) -> str | None:
    """``question`` with its pronoun replaced by the form's or the last topic, or None when it has
    none to replace."""
    if len(question.split()) > MAX_WORDS:
        return None
    topic = form_topic(tracker) or last_topic(tracker)
    if topic is None:
        return None
    if _PRONOUN.search(question):
        return _PRONOUN.sub(topic, question, count=1)
    if topic.startswith("“") and len(question.split()) <= MAX_SITUATION_WORDS:
        # "I'm a student" right after "Can I get a discount?": the customer's situation, in that article's terms
        return f"{question}: {topic}"
    return None
