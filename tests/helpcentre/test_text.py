"""Passages and BM25: what the index is made of."""

from __future__ import annotations

from supportbot.helpcentre.chunking import inline_plain, passages
from supportbot.helpcentre.lexical import Bm25, stem, terms

ARTICLE = """Intro sentence about **delivery** and [tracking](https://x.example).

| Destination | Standard | Express |
|---|---|---|
| United States | 3–5 days | 1–2 days |
| Canada | 5–8 days | 2–3 days |

## Track an order

1. Open **Orders**.
2. Select the order and `Track`.
   It opens the carrier's page.
"""


def test_markdown_becomes_plain_passages_under_their_headings() -> None:
    found = passages(ARTICLE)
    assert [p.heading for p in found] == ["", "Track an order"]
    opening = found[0].text.splitlines()
    assert opening[0] == "Intro sentence about delivery and tracking."
    assert opening[1] == "Destination: United States, Standard: 3–5 days, Express: 1–2 days"
    assert opening[2] == "Destination: Canada, Standard: 5–8 days, Express: 2–3 days"
    assert found[1].text.splitlines() == [
        "1. Open Orders.",
        "2. Select the order and Track. It opens the carrier's page.",
    ]


def test_long_sections_are_cut_into_overlapping_passages_of_bounded_size() -> None:
    steps = "\n".join(f"{i}. Step number {i} does one more thing in the settings." for i in range(1, 30))
    found = passages(f"## Many steps\n\n{steps}\n", max_words=40)
    assert len(found) > 3
    assert all(len(p.text.split()) <= 40 for p in found)
    assert found[1].text.splitlines()[0] == found[0].text.splitlines()[-1]  # one step of context carried over
    assert "29. Step number 29" in found[-1].text


def test_one_long_paragraph_is_split_by_sentences_then_words() -> None:
    text = " ".join(f"Sentence {i} has exactly seven words here." for i in range(40))
    found = passages(text, max_words=30)
    assert all(len(p.text.split()) <= 30 for p in found)
    assert " ".join(p.text for p in found).count("Sentence 39") >= 1


def test_inline_marks_are_removed() -> None:
    assert inline_plain("**Bold**, *it*, `code` and [a link](http://x)") == "Bold, it, code and a link"


def test_light_stemming_joins_word_forms() -> None:
    assert {stem(w) for w in ("export", "exports", "exporting", "exported")} == {"export"}
    assert stem("shipping") == stem("ships") == "ship"
    assert stem("taxes") == "tax" and stem("countries") == "country"
    assert stem("status") == "status" and stem("installing") == "install"
    assert terms("How do I export my notes?") == ["export", "note"]


def test_bm25_ranks_the_document_with_the_rare_words_first() -> None:
    index = Bm25.fit(["export notes to pdf", "ship orders to canada", "notes about notes and more notes"])
    assert index.scores("do you ship to Canada").argmax() == 1
    assert index.scores("exporting my notes").argmax() == 0
    assert not index.scores("bitcoin").any()
    again = Bm25.from_arrays(index.to_arrays())
    assert (again.scores("exporting my notes") == index.scores("exporting my notes")).all()
