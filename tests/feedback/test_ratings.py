"""Typed ratings: what customers actually type, and what must stay ``None``."""

from __future__ import annotations

import pytest

from supportbot.feedback.ratings import is_skip, parse_csat, parse_nps, segment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4),
        (" 5 ", 5),
        ("four", 4),
        ("Four!", 4),
        ("4/5", 4),
        ("4 / 5", 4),
        ("4 out of 5", 4),
        ("8/10", 4),
        ("I'd give it a 3", 3),
        ("3 stars", 3),
        ("⭐⭐⭐⭐", 4),
        ("pretty good", 4),
        ("Pretty good, thanks", 4),
        ("good", 4),
        ("very good", 5),
        ("excellent", 5),
        ("terrible", 1),
        ("awful!!", 1),
        ("bad", 2),
        ("not good", 2),
        ("not bad", 3),
        ("ok", 3),
        ("so-so", 3),
        ("meh", 3),
        ("couldn't be better", 5),
    ],
)
def test_csat_from_typed_text(text: str, expected: int) -> None:
    assert parse_csat(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "7", "0", "3 or 4", "between 2 and 3", "3.5", "not sure", "what?", "good but the app is bad", "10/10 "],
)
def test_csat_unclear_is_none(text: str) -> None:
    # "10/10" is a clear NPS, but 10 of 10 on a 1–5 question rescales: it must be 5, not None.
    if text.strip() == "10/10":
        assert parse_csat(text) == 5
    else:
        assert parse_csat(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9", 9),
        ("nine", 9),
        ("10 out of 10", 10),
        ("10/10", 10),
        ("ten", 10),
        ("0", 0),
        ("zero", 0),
        ("a solid 7", 7),
        ("5/5", 10),
        ("definitely", 10),
        ("definitely not", 0),
        ("never", 0),
    ],
)
def test_nps_from_typed_text(text: str, expected: int) -> None:
    assert parse_nps(text) == expected


@pytest.mark.parametrize("text", ["11", "-1", "8.5", "7 or 8", "7-8", "pretty good", "maybe", "12/10"])
def test_nps_unclear_is_none(text: str) -> None:
    assert parse_nps(text) is None


@pytest.mark.parametrize("text", ["skip", "No thanks", "not now", "I'd rather not", "maybe later"])
def test_skip(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", ["4", "pretty good", "passable", "never"])
def test_not_skip(text: str) -> None:
    assert not is_skip(text)


@pytest.mark.parametrize(
    ("scale", "rating", "expected"),
    [
        ("nps", 0, "detractor"),
        ("nps", 6, "detractor"),
        ("nps", 7, "passive"),
        ("nps", 8, "passive"),
        ("nps", 9, "promoter"),
        ("nps", 10, "promoter"),
        ("csat", 1, "detractor"),
        ("csat", 2, "detractor"),
        ("csat", 3, "passive"),
        ("csat", 4, "promoter"),
        ("csat", 5, "promoter"),
    ],
)
def test_segments(scale: str, rating: int, expected: str) -> None:
    assert segment(scale=scale, rating=rating) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("scale", "rating"), [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6)])
def test_segment_refuses_out_of_range(scale: str, rating: int) -> None:
    with pytest.raises(ValueError):
        segment(scale=scale, rating=rating)  # type: ignore[arg-type]
