"""Reading a reply to a form's question: leaving, correcting, describing. Pure functions, no models.

- ``is_leave(text)``: "stop", "cancel that", "never mind", "quit": the customer wants out of
  whatever the assistant is asking, whatever the classifier makes of it (on its own, "stop"
  could also mean "stop these messages").
- ``strip_correction(text)``: "sorry, I meant 15 March" → "15 March".
- ``problem_description(text)``: the description in "the app crashes when I open a note";
  None for "something is broken" or "I have a problem", which say only that there is one.
"""

from __future__ import annotations

import re

LEAVE_PHRASES = frozenset(
    {
        "stop",
        "stop it",
        "stop that",
        "stop this",
        "stop asking",
        "quit",
        "exit",
        "cancel",
        "cancel that",
        "cancel it",
        "cancel this",
        "never mind",
        "nevermind",
        "nvm",
        "forget it",
        "forget about it",
        "forget that",
        "leave it",
        "drop it",
        "abort",
        "skip it",
        "not now",
        "no stop",
        "i changed my mind",
    }
)
_PUNCT = re.compile(r"[^\w\s']")
_CORRECTION_LEAD = re.compile(
    r"^(?:(?:sorry|oops|oh|no|nope|wait|actually|correction|i meant|i mean|meant|make that|make it|"
    r"it'?s|it should be|should be|rather|i said)\b[\s,:;.!-]*)+",
    re.IGNORECASE,
)

GENERIC_PROBLEM_WORDS = frozenset(
    {
        "i",
        "i'm",
        "im",
        "ive",
        "i've",
        "have",
        "has",
        "had",
        "a",
        "an",
        "the",
        "my",
        "me",
        "problem",
        "problems",
        "issue",
        "issues",
        "bug",
        "bugs",
        "found",
        "something",
        "something's",
        "somethings",
        "is",
        "isn't",
        "isnt",
        "it",
        "it's",
        "its",
        "there",
        "there's",
        "theres",
        "error",
        "errors",
        "help",
        "need",
        "got",
        "report",
        "reporting",
        "to",
        "want",
        "wanna",
        "having",
        "some",
        "trouble",
        "not",
        "working",
        "work",
        "works",
        "doesn't",
        "doesnt",
        "app",
        "account",
        "device",
        "thing",
        "things",
        "stuff",
        "please",
        "pls",
        "hi",
        "hello",
        "hey",
        "can",
        "you",
        "with",
        "wrong",
        "broken",
        "seems",
        "seem",
        "be",
        "been",
        "going",
        "on",
        "here",
        "again",
        "still",
        "just",
        "really",
        "very",
        "quite",
        "so",
        "bit",
        "lot",
        "this",
        "that",
        "one",
        "thats",
        "that's",
        "about",
        "of",
        "for",
        "in",
    }
)
"""Words that say there is a problem without saying what it is."""
_WORD = re.compile(r"[a-z0-9']+")


def normal(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower().replace("’", "'")).split())


def is_leave(text: str) -> bool:
    return normal(text) in LEAVE_PHRASES


def strip_correction(text: str) -> str:
    """The new value in a correction, without its apology or lead-in."""
    return _CORRECTION_LEAD.sub("", text.strip()).strip()


def problem_description(text: str) -> str | None:
    """The text, if it describes a problem; None if it only says there is one."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    if not words or all(word in GENERIC_PROBLEM_WORDS for word in words):
        return None
    return text.strip()
