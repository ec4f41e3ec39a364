"""The search index: built from the articles, stored as one ``.npz`` file, loaded by the action server.

What the file holds (plain arrays and one JSON document, read with ``allow_pickle=False``):
the embedding model's name, the content hash of the articles it was built from, the
articles' front matter, every passage with its article, the passages' and articles'
unit-length embeddings, and the BM25 weights. Loading refuses a file built with another
embedding model, because vectors of two models are not comparable.

Writes are atomic (a temporary file renamed over the old one), so a reader never sees a
half-written index and the action server can reload whenever the file changes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from supportbot.errors import SupportBotError
from supportbot.feedback.embedding import Embedder
from supportbot.helpcentre.articles import Article, content_hash
from supportbot.helpcentre.chunking import MAX_WORDS, passages
from supportbot.helpcentre.lexical import Bm25

if TYPE_CHECKING:
    from numpy.typing import NDArray

FORMAT_VERSION = 2


class HelpIndexError(SupportBotError):
    """The index file is missing, unreadable, or does not fit the assistant's settings."""


class IndexMismatchError(HelpIndexError):
    """The index was built with another embedding model (or an older format): re-index."""


@dataclass(frozen=True)
class IndexedPassage:
    article: int
    heading: str
    text: str
    is_title: bool = False
    """The article's title (and tags) as a passage of its own: found, but never quoted."""


@dataclass
class HelpIndex:
    model: str
    content_hash: str
    folder_hash: str
    built_at: str
    articles: list[Article]
    passages: list[IndexedPassage]
    passage_vectors: NDArray[np.float32]
    excerpt_vectors: NDArray[np.float32]
    """The passages without the article title: which passage of an article to quote."""
    passage_article: NDArray[np.int32]
    article_vectors: NDArray[np.float32]
    bm25: Bm25
    include_titles: bool = True
    title_mask: NDArray[np.bool_] | None = None
    """True for title passages; None when there are none."""

    def __post_init__(self) -> None:
        if self.title_mask is None:
            self.title_mask = np.array([p.is_title for p in self.passages], dtype=bool)

    def article_by_slug(self, slug: str) -> Article | None:
        return next((a for a in self.articles if a.slug == slug), None)


def passage_text(article: Article, heading: str, text: str, *, include_titles: bool) -> str:
    """What is embedded for a passage: with the article's title and section heading, the
    passage says what it is about even when its own words do not ("Limits: up to 10,000...")."""
    if not include_titles:
        return text
    return ". ".join(part for part in (article.title, heading, text) if part)


def build_index(
    articles: Sequence[Article],
    *,
    embedder: Embedder,
    folder_hash: str = "",
    include_titles: bool = True,
    max_words: int = MAX_WORDS,
) -> HelpIndex:
    """Passages of every article, embedded; one title passage per article when titles are indexed."""
    chunks: list[IndexedPassage] = []
    embedded: list[str] = []
    for number, article in enumerate(articles):
        if include_titles:
            title = f"{article.title}. {', '.join(article.tags)}" if article.tags else article.title
            chunks.append(IndexedPassage(article=number, heading="", text=article.title, is_title=True))
            embedded.append(title)
        for passage in passages(article.body, max_words=max_words):
            chunks.append(IndexedPassage(article=number, heading=passage.heading, text=passage.text))
            embedded.append(passage_text(article, passage.heading, passage.text, include_titles=include_titles))
    vectors = embedder.encode(embedded).astype(np.float32)
    if include_titles:
        # Every passage of an article shares its title, which then dominates the cosine; to
        # choose which passage to quote, compare with the passage's own words only.
        own = [". ".join(x for x in (c.heading, c.text) if x) for c in chunks]
        excerpt_vectors = embedder.encode(own).astype(np.float32)
    else:
        excerpt_vectors = vectors
    owner = np.array([c.article for c in chunks], dtype=np.int32)
    centroids = np.stack([vectors[owner == i].mean(axis=0) for i in range(len(articles))]).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    lexical_docs = [a.text if include_titles else a.body for a in articles]
    return HelpIndex(
        model=embedder.name,
        content_hash=content_hash(articles),
        folder_hash=folder_hash,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        articles=list(articles),
        passages=chunks,
        passage_vectors=vectors,
        excerpt_vectors=excerpt_vectors,
        passage_article=owner,
        article_vectors=centroids,
        bm25=Bm25.fit(lexical_docs),
        include_titles=include_titles,
        title_mask=np.array([c.is_title for c in chunks], dtype=bool),
    )


def _article_meta(a: Article) -> dict[str, Any]:
    return {
        "slug": a.slug,
        "title": a.title,
        "section": a.section,
        "tags": list(a.tags),
        "audience": a.audience,
        "updated": a.updated.isoformat(),
        "body": a.body,
        "account_intent": a.account_intent,
        "account_label": a.account_label,
    }


def save_index(index: HelpIndex, path: Path) -> None:
    meta = {
        "format": FORMAT_VERSION,
        "model": index.model,
        "content_hash": index.content_hash,
        "folder_hash": index.folder_hash,
        "built_at": index.built_at,
        "include_titles": index.include_titles,
        "articles": [_article_meta(a) for a in index.articles],
        "passages": [
            {"article": p.article, "heading": p.heading, "text": p.text, "is_title": p.is_title} for p in index.passages
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            arrays: dict[str, Any] = {
                "meta": np.array(json.dumps(meta)),
                "passage_vectors": index.passage_vectors,
                "excerpt_vectors": index.excerpt_vectors,
                "passage_article": index.passage_article,
                "article_vectors": index.article_vectors,
                **index.bm25.to_arrays(),
            }
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_meta(path: Path) -> dict[str, Any]:
    """The JSON part only (model, hashes, counts), without building anything."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
    except FileNotFoundError as exc:
        raise HelpIndexError(f"no help-centre index at {path}: run `python -m supportbot.helpcentre reindex`") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise HelpIndexError(f"the help-centre index {path} is unreadable ({exc}): run the reindex command") from exc
    return meta


def load_index(path: Path, *, expected_model: str) -> HelpIndex:
    meta = read_meta(path)
    if meta.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the help-centre index {path} has format {meta.get('format')}, this code reads {FORMAT_VERSION}: "
            "run `python -m supportbot.helpcentre reindex`"
        )
    if meta.get("model") != expected_model:
        raise IndexMismatchError(
            f"the help-centre index {path} was built with the embedding model {meta.get('model')!r}, but the "
            f"assistant is set to use {expected_model!r}; vectors of different models cannot be compared. "
            "Run `python -m supportbot.helpcentre reindex` (or set SUPPORTBOT_HELPCENTRE_EMBEDDING_MODEL back)."
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    articles = [
        Article(
            slug=m["slug"],
            title=m["title"],
            section=m["section"],
            tags=tuple(m["tags"]),
            audience=m["audience"],
            updated=dt.date.fromisoformat(m["updated"]),
            body=m["body"],
            account_intent=m.get("account_intent"),
            account_label=m.get("account_label"),
        )
        for m in meta["articles"]
    ]
    return HelpIndex(
        model=meta["model"],
        content_hash=meta["content_hash"],
        folder_hash=meta.get("folder_hash", ""),
        built_at=meta["built_at"],
        articles=articles,
        passages=[
            IndexedPassage(
                article=p["article"], heading=p["heading"], text=p["text"], is_title=p.get("is_title", False)
            )
            for p in meta["passages"]
        ],
        passage_vectors=arrays["passage_vectors"].astype(np.float32),
        excerpt_vectors=arrays["excerpt_vectors"].astype(np.float32),
        passage_article=arrays["passage_article"].astype(np.int32),
        article_vectors=arrays["article_vectors"].astype(np.float32),
        bm25=Bm25.from_arrays(arrays),
        include_titles=bool(meta.get("include_titles", True)),
    )


@dataclass(frozen=True)
class BuildReport:
    articles: int
    passages: int
    seconds: float
    path: Path
    model: str


def reindex(*, content_dir: Path, index_path: Path, embedder: Embedder) -> BuildReport:
    """Load (all-or-nothing), build and atomically replace the index file."""
    from supportbot.helpcentre.articles import folder_hash, load_articles

    started = time.perf_counter()
    articles = load_articles(content_dir)
    index = build_index(articles, embedder=embedder, folder_hash=folder_hash(content_dir))
    save_index(index, index_path)
    return BuildReport(
        articles=len(articles),
        passages=len(index.passages),
        seconds=time.perf_counter() - started,
        path=index_path,
        model=index.model,
    )
