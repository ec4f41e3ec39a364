"""StackFAQ (Karan & Šnajder 2018) as help-centre articles: one article per thread.

125 threads from StackExchange "Web Applications" (question + top answers), each with
rephrasings of its information need written by annotators; the rephrasings are the
queries and a query's one relevant article is its own thread. Lone characters ("*") are
noise in the file and are dropped (1,249 queries remain), as its SOURCE.txt says.

The threads go through the help centre's own code path: ``Article`` → ``build_index``
(passages, embeddings, BM25) → ``search``. Whole-thread articles have the question as
title; body-only articles are searched without it (``include_titles=False``).
"""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from supportbot.helpcentre.articles import Article

UPDATED = dt.date(2018, 1, 1)


@dataclass(frozen=True)
class Query:
    text: str
    slug: str


def stackfaq_file() -> Path:
    """``$SUPPORTBOT_BENCH_DATA/stackfaq``, else ``shared/benchdata/stackfaq`` beside the checkout
    or beside any folder above it (worktrees live one level deeper than the main checkout)."""
    env = os.environ.get("SUPPORTBOT_BENCH_DATA")
    here = Path(__file__).resolve().parent.parent
    candidates = [Path(env)] if env else []
    candidates += [parent / "shared" / "benchdata" for parent in here.parents]
    for folder in candidates:
        path = folder / "stackfaq" / "stackExchange-FAQ.xml"
        if path.is_file():
            return path
    raise SystemExit("StackFAQ not found: set SUPPORTBOT_BENCH_DATA to the folder holding stackfaq/")


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def load_stackfaq(path: Path) -> tuple[list[Article], list[Query]]:
    root = ET.parse(path).getroot()
    articles: list[Article] = []
    queries: list[Query] = []
    for number, pair in enumerate(root.findall("qapair"), start=1):
        slug = f"thread-{number:03d}"
        answers = [_clean(a.text) for a in pair.findall("answer") if _clean(a.text)]
        articles.append(
            Article(
                slug=slug,
                title=_clean(pair.findtext("question")),
                section="StackFAQ",
                tags=(),
                audience="everyone",
                updated=UPDATED,
                body="\n\n".join(answers),
            )
        )
        for rephrasing in pair.findall("rephr"):
            text = _clean(rephrasing.text)
            if len(text) > 1:
                queries.append(Query(text=text, slug=slug))
    return articles, queries
