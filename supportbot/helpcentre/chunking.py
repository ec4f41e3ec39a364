"""Cutting an article into passages: the pieces retrieval scores and answers quote.

Retrieval works on passages, not whole articles: a customer's question matches one
section ("Export one note as PDF"), and a sentence model reads only the first 256 word
pieces of a text, so a whole article's embedding blurs or drops most of it. Measured on
StackFAQ (docs/BENCHMARKS.md): passages beat one vector per article.

The Markdown is reduced to plain text first (the passages are also what customers read
in the chat): emphasis and code marks removed, links to their words, each table row to
"header: cell, header: cell" so a row still says what its numbers are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_WORDS = 90
"""Passages are packed up to about this many words (MiniLM reads ~256 word pieces)."""

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Passage:
    heading: str
    """The section heading the passage sits under ('' for the article's opening)."""
    text: str
    """Plain text, lines kept (steps and list items stay one per line)."""


def inline_plain(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return text.strip()


def _cells(line: str) -> list[str]:
    return [inline_plain(c) for c in line.strip().strip("|").split("|")]


def _blocks(markdown: str) -> Iterator[tuple[str, list[str]]]:
    """(heading, units) per section; a unit is a paragraph, a list item or a table row, as plain text."""
    heading = ""
    units: list[str] = []
    paragraph: list[str] = []
    header: list[str] | None = None

    def flush_paragraph() -> None:
        if paragraph:
            units.append(inline_plain(" ".join(paragraph)))
            paragraph.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        heading_match = _HEADING.match(line)
        if heading_match:
            flush_paragraph()
            if units:
                yield heading, units
            heading, units, header = inline_plain(heading_match.group(2)), [], None
            continue
        if line.lstrip().startswith("|"):
            flush_paragraph()
            if _TABLE_RULE.match(line):
                continue
            cells = _cells(line)
            if header is None:
                header = cells
            else:
                units.append(", ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c))
            continue
        header = None
        if not line.strip():
            flush_paragraph()
        elif _LIST_ITEM.match(line):
            flush_paragraph()
            number = re.match(r"^\s*(\d+)[.)]", line)
            item = inline_plain(_LIST_ITEM.sub("", line, count=1))
            units.append(f"{number.group(1)}. {item}" if number else f"- {item}")
        elif paragraph or not (units and raw.startswith("   ")):
            paragraph.append(line.strip())
        else:  # an indented continuation of the previous list item
            units[-1] = f"{units[-1]} {inline_plain(line)}"
    flush_paragraph()
    if units:
        yield heading, units


def _split_long(unit: str, max_words: int) -> list[str]:
    """A unit longer than a passage: by sentences, then by word windows (with overlap) if need be."""
    if len(unit.split()) <= max_words:
        return [unit]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(unit):
        words = sentence.split()
        if len(words) <= max_words:
            pieces.append(sentence)
            continue
        step = max_words * 2 // 3
        for start in range(0, max(1, len(words) - max_words + step), step):
            pieces.append(" ".join(words[start : start + max_words]))
    return pieces


def _pack(units: list[str], max_words: int) -> list[str]:
    """Consecutive units into passages of at most ``max_words``; a passage that had to be
    cut repeats its last unit at the start of the next one, so no step loses its context."""
    pieces = [piece for unit in units for piece in _split_long(unit, max_words)]
    passages: list[list[str]] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        words = len(piece.split())
        if current and size + words > max_words:
            passages.append(current)
            overlap = current[-1] if len(current) > 1 and len(current[-1].split()) + words <= max_words else None
            current, size = ([overlap], len(overlap.split())) if overlap else ([], 0)
        current.append(piece)
        size += words
    if current:
        passages.append(current)
    return ["\n".join(p) for p in passages]


def passages(markdown: str, *, max_words: int = MAX_WORDS) -> list[Passage]:
    out: list[Passage] = []
    for heading, units in _blocks(markdown):
        out.extend(Passage(heading=heading, text=text) for text in _pack(units, max_words))
    return out
