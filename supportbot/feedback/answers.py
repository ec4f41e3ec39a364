"""Reading customers' open-ended feedback answers in conversation. Pure functions, no models.

Three questions the feedback conversation asks of a typed answer:

- ``content(text)``: the feedback itself, without a lead-in such as "I have a
  suggestion:" or "feedback -". "I have a suggestion" alone has no content yet, so
  the assistant asks what it is; "your app keeps logging me out" is the content.
- ``is_vague(text)``: an answer too thin to act on ("it's fine", "better", "idk",
  "more stuff"). The assistant asks once for more; a second thin answer is kept as
  it is, because asking twice is nagging.
- ``declines(text)``: "nothing", "no", "all good", "not really": there is nothing
  to record, which is a fine answer, not a vague one.
"""

from __future__ import annotations

import re

LEAD_INS = (
    "i have a suggestion",
    "i've got a suggestion",
    "ive got a suggestion",
    "i have some feedback",
    "i have feedback",
    "i've got some feedback",
    "i'd like to give feedback",
    "i would like to give feedback",
    "i want to give feedback",
    "i want to give some feedback",
    "i'd like to give some feedback",
    "i'd like to leave feedback",
    "i want to leave feedback",
    "can i give feedback",
    "can i give you feedback",
    "can i leave feedback",
    "can i leave some feedback",
    "can i make a suggestion",
    "i'd like to make a suggestion",
    "i want to make a suggestion",
    "i have an idea",
    "i've got an idea",
    "i have a complaint",
    "i want to complain",
    "i'd like to complain",
    "here's some feedback",
    "here is some feedback",
    "quick feedback",
    "some feedback",
    "a suggestion",
    "suggestion",
    "feedback",
    "complaint",
    "idea",
)
"""Longest first matters only within a shared prefix; ``_LEAD_IN`` sorts them anyway."""

_LEAD_IN = re.compile(
    r"^\s*(?:(?:hi|hey|hello|so|ok|okay|well|um|uh)[\s,!.]+)*(?:"
    + "|".join(re.escape(p) for p in sorted(LEAD_INS, key=len, reverse=True))
    + r")(?:\s+(?:for you|about (?:the|your) (?:app|product|service)))?\s*(?:[:\-–—,.!?]+\s*|\s+|$)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9']+")

VAGUE_WORDS = frozenset(
    [
        "it",
        "its",
        "it's",
        "is",
        "was",
        "be",
        "was",
        "were",
        "just",
        "really",
        "very",
        "quite",
        "pretty",
        "kind",
        "of",
        "sort",
        "a",
        "an",
        "the",
        "good",
        "fine",
        "ok",
        "okay",
        "great",
        "nice",
        "bad",
        "better",
        "worse",
        "more",
        "less",
        "everything",
        "anything",
        "something",
        "stuff",
        "things",
        "thing",
        "overall",
        "generally",
        "general",
        "all",
        "in",
        "idk",
        "dunno",
        "know",
        "not",
        "sure",
        "maybe",
        "improve",
        "improvements",
        "improvement",
        "faster",
        "easier",
        "simpler",
        "cheaper",
        "service",
        "app",
        "product",
        "experience",
        "could",
        "can",
        "would",
        "should",
        "do",
        "make",
        "you",
        "your",
        "guys",
        "support",
        "work",
        "works",
        "working",
    ]
)
DECLINE_ANSWERS = frozenset(
    {
        "no",
        "nope",
        "nah",
        "nothing",
        "nothing really",
        "nothing at all",
        "no nothing",
        "not really",
        "none",
        "all good",
        "its all good",
        "it's all good",
        "nothing thanks",
        "nothing thank you",
        "no thanks",
        "no thank you",
        "nothing to add",
        "nothing else",
        "n/a",
        "na",
    }
)
MIN_WORDS = 3


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split()).strip(" .!?,;:")


def content(text: str) -> str:
    """The feedback without its lead-in; empty when the message was only a lead-in."""
    stripped = text.strip()
    match = _LEAD_IN.match(stripped)
    if match is None:
        return stripped
    return stripped[match.end() :].strip()


def declines(text: str) -> bool:
    """An answer saying there is nothing to add."""
    normal = _normal(text)
    return normal in DECLINE_ANSWERS or normal.rstrip(" .!,") in DECLINE_ANSWERS


def is_vague(text: str) -> bool:
    """Too thin to act on: fewer than ``MIN_WORDS`` words, or only generic words."""
    words = _WORD.findall(_normal(text))
    if len(words) < MIN_WORDS:
        return True
    return all(word in VAGUE_WORDS for word in words)
