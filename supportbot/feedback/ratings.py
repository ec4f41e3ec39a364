"""Typed ratings → numbers, and numbers → segments. Pure functions, no models.

Customers on channels without buttons type their rating: "4", "four", "4/5", "pretty good",
"10 out of 10", "nine", "⭐⭐⭐⭐". A wrong guess is worse than asking again, so anything
ambiguous ("3 or 4", "8.5", "7" on a 1–5 scale, "not sure") gives ``None`` and the
conversation re-asks or lets the customer skip.

Segments follow the usual conventions: NPS 0–6 detractor, 7–8 passive, 9–10 promoter;
CSAT 1–2 detractor (dissatisfied), 3 passive, 4–5 promoter (satisfied). A detractor is
offered a follow-up by a person; a promoter may be invited to the advisory/beta programme.
"""

from __future__ import annotations

import re
from typing import Literal

Scale = Literal["csat", "nps"]
Segment = Literal["detractor", "passive", "promoter"]

SCALE_RANGE: dict[Scale, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}

NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

# Longest phrases first so "not good" wins over "good" and "very good" over "good".
CSAT_PHRASES: tuple[tuple[str, int], ...] = (
    ("not good at all", 1),
    ("could not be worse", 1),
    ("couldn't be worse", 1),
    ("could not be better", 5),
    ("couldn't be better", 5),
    ("not very good", 2),
    ("not so good", 2),
    ("not great", 3),
    ("not good", 2),
    ("not bad", 3),
    ("very bad", 1),
    ("really bad", 1),
    ("very poor", 1),
    ("pretty bad", 2),
    ("pretty good", 4),
    ("quite good", 4),
    ("really good", 5),
    ("very good", 5),
    ("so so", 3),
    ("so-so", 3),
    ("loved it", 5),
    ("love it", 5),
    ("terrible", 1),
    ("awful", 1),
    ("horrible", 1),
    ("useless", 1),
    ("worst", 1),
    ("bad", 2),
    ("poor", 2),
    ("disappointing", 2),
    ("meh", 3),
    ("okay", 3),
    ("ok", 3),
    ("fine", 3),
    ("average", 3),
    ("alright", 3),
    ("decent", 3),
    ("good", 4),
    ("helpful", 4),
    ("great", 5),
    ("excellent", 5),
    ("perfect", 5),
    ("amazing", 5),
    ("awesome", 5),
    ("fantastic", 5),
    ("brilliant", 5),
    ("superb", 5),
)
NPS_PHRASES: tuple[tuple[str, int], ...] = (
    ("definitely not", 0),
    ("absolutely not", 0),
    ("not at all likely", 0),
    ("not likely at all", 0),
    ("not at all", 0),
    ("never", 0),
    ("extremely likely", 10),
    ("definitely", 10),
    ("absolutely", 10),
)
SKIP_PHRASES = (
    "skip",
    "no thanks",
    "no thank you",
    "not now",
    "rather not",
    "prefer not",
    "don't want to",
    "dont want to",
    "maybe later",
    "pass",
)

_OUT_OF = re.compile(r"(\d+|[a-z]+)\s*(?:/|out of|of)\s*(\d+|[a-z]+)")
_NUMBER = re.compile(r"(?<![\d.,-])\d+(?:[.,]\d+)?(?![\d.,-])")
_STAR = "⭐"


def _to_int(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def _normalise(text: str) -> str:
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text.lower().replace("’", "'"))
    return re.sub(r"\s+", " ", text).strip(" .!?")


def _in_range(value: int, scale: Scale) -> int | None:
    low, high = SCALE_RANGE[scale]
    return value if low <= value <= high else None


def _from_fraction(numerator: int, denominator: int, scale: Scale) -> int | None:
    """ "4/5" on a 1–5 question is 4; "8/10" on a 1–5 question is rescaled to 4."""
    low, high = SCALE_RANGE[scale]
    if denominator <= 0 or numerator > denominator or denominator not in (5, 10):
        return None
    if denominator == high:
        return _in_range(numerator, scale)
    return max(low, min(high, round(numerator / denominator * high)))


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z']){re.escape(phrase)}(?![a-z'])", text) is not None


def _from_phrases(text: str, phrases: tuple[tuple[str, int], ...]) -> int | None:
    """The value of the longest matching phrase, removing it before looking for shorter ones.

    Two different values found ("good but slow, bad app") is unclear and gives ``None``.
    """
    found: set[int] = set()
    for phrase, value in sorted(phrases, key=lambda p: -len(p[0])):
        if _has_phrase(text, phrase):
            found.add(value)
            text = re.sub(rf"(?<![a-z']){re.escape(phrase)}(?![a-z'])", " ", text)
    return found.pop() if len(found) == 1 else None


def parse_rating(text: str, *, scale: Scale) -> int | None:
    """The rating a customer typed, on ``scale`` (CSAT 1–5, NPS 0–10), or ``None`` when unclear."""
    if not text or not text.strip():
        return None
    stars = text.count(_STAR)
    if stars:
        return _in_range(stars, "csat") if scale == "csat" else None
    normal = _normalise(text)
    fraction = _OUT_OF.search(normal)
    if fraction:
        numerator, denominator = _to_int(fraction.group(1)), _to_int(fraction.group(2))
        if numerator is not None and denominator is not None:
            return _from_fraction(numerator, denominator, scale)
    numbers = _NUMBER.findall(normal)
    words = [NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", normal) if w in NUMBER_WORDS]
    if any(not n.isdigit() for n in numbers):
        return None  # "8.5" or "3,5": refuse to round on the customer's behalf
    values = {int(n) for n in numbers} | set(words)
    if len(values) > 1:
        return None
    if len(values) == 1:
        return _in_range(values.pop(), scale)
    return _from_phrases(normal, CSAT_PHRASES if scale == "csat" else NPS_PHRASES)


def parse_csat(text: str) -> int | None:
    """CSAT 1–5 from typed text; ``None`` when unclear."""
    return parse_rating(text, scale="csat")


def parse_nps(text: str) -> int | None:
    """NPS 0–10 from typed text; ``None`` when unclear."""
    return parse_rating(text, scale="nps")


def is_skip(text: str) -> bool:
    """The customer declines to answer; skipping is always allowed and never re-asked."""
    normal = _normalise(text)
    return any(_has_phrase(normal, phrase) for phrase in SKIP_PHRASES)


def segment(*, scale: Scale, rating: int) -> Segment:
    """Detractor / passive / promoter for a rating on ``scale``; raises on an out-of-range rating."""
    if _in_range(rating, scale) is None:
        raise ValueError(f"{rating} is not a valid {scale} rating")
    if scale == "nps":
        return "detractor" if rating <= 6 else "passive" if rating <= 8 else "promoter"
    return "detractor" if rating <= 2 else "passive" if rating == 3 else "promoter"
