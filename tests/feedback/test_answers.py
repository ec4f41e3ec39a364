"""Reading open-ended feedback answers: lead-ins, vague answers, declines."""

from __future__ import annotations

import pytest

from supportbot.feedback.answers import content, declines, is_vague


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have a suggestion", ""),
        ("i have a suggestion: let me export my notes as PDF", "let me export my notes as PDF"),
        ("Hi, I'd like to give feedback - the new editor is slow", "the new editor is slow"),
        ("feedback: dark mode please", "dark mode please"),
        ("your app keeps logging me out", "your app keeps logging me out"),
        ("can i leave feedback?", ""),
        ("Suggestion for you: sync more often", "sync more often"),
        ("ideally the sync would be faster", "ideally the sync would be faster"),
    ],
)
def test_content_drops_only_the_lead_in(text: str, expected: str) -> None:
    assert content(text) == expected


@pytest.mark.parametrize(
    "text", ["it's fine", "better", "idk", "more stuff", "good", "make it better", "just improve the app", "ok"]
)
def test_thin_answers_are_vague(text: str) -> None:
    assert is_vague(text)


@pytest.mark.parametrize(
    "text",
    [
        "the app logs me out every day",
        "let me export notes as PDF",
        "sync between phone and laptop is slow",
        "login is broken",
    ],
)
def test_answers_with_substance_are_not_vague(text: str) -> None:
    assert not is_vague(text)


@pytest.mark.parametrize("text", ["nothing", "No.", "nothing really", "all good!", "Nope", "not really"])
def test_nothing_to_add_is_a_decline(text: str) -> None:
    assert declines(text)


@pytest.mark.parametrize("text", ["nothing works on my phone", "no dark mode is a problem", "fine"])
def test_a_real_answer_is_not_a_decline(text: str) -> None:
    assert not declines(text)
