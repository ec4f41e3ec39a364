"""The help centre on the demo site: every article at ``/help/articles/<slug>``, an index by
section at ``/help`` and a search box (``/help?q=...``).

Pages are rendered from the Markdown folder itself on each request (cached by the
folder's content hash), so an edited article shows at once, before the assistant's index
is rebuilt. Markdown goes through markdown-it-py with raw HTML off, so an article can
never inject markup or scripts into the page (the CSP forbids inline scripts anyway).
The search box is lexical (BM25 over the articles): the web process loads no
sentence-embedding model; the assistant's answers use the hybrid index.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from supportbot.helpcentre.articles import Article, ArticleError, folder_hash, load_articles
from supportbot.helpcentre.config import HelpCentreSettings, get_helpcentre_settings
from supportbot.helpcentre.lexical import Bm25, terms
from supportbot.settings import Settings
from supportbot.web.demo import demo_customers

HERE = Path(__file__).resolve().parent
MAX_QUERY = 200
MAX_RESULTS = 10


@dataclass
class Library:
    """The articles of one version of the folder, with their search index and HTML."""

    articles: list[Article]
    by_slug: dict[str, Article]
    bm25: Bm25
    html: dict[str, Markup]


class LibraryCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._key: str | None = None
        self._library: Library | None = None
        self._lock = threading.Lock()
        self._markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

    def get(self) -> Library:
        key = folder_hash(self.folder)
        with self._lock:
            if self._library is None or key != self._key:
                articles = load_articles(self.folder)
                self._library = Library(
                    articles=articles,
                    by_slug={a.slug: a for a in articles},
                    bm25=Bm25.fit([a.text for a in articles]),
                    # Safe to mark: markdown-it escapes text and drops raw HTML ("html": False).
                    html={a.slug: Markup(self._markdown.render(a.body)) for a in articles},
                )
                self._key = key
            return self._library


def sections(articles: list[Article]) -> list[tuple[str, list[Article]]]:
    grouped: dict[str, list[Article]] = {}
    for article in articles:
        grouped.setdefault(article.section, []).append(article)
    return [(name, sorted(items, key=lambda a: a.title)) for name, items in grouped.items()]


def search_articles(library: Library, query: str) -> list[Article]:
    if not terms(query):
        return []
    scores = library.bm25.scores(query)
    order = [int(i) for i in scores.argsort()[::-1] if scores[i] > 0]
    return [library.articles[i] for i in order[:MAX_RESULTS]]


def helpcentre_router(
    *, settings: Settings, sessions: sessionmaker[Session], help_settings: HelpCentreSettings | None = None
) -> APIRouter:
    router = APIRouter()
    templates = Jinja2Templates(directory=HERE / "templates")
    config = help_settings or get_helpcentre_settings()
    cache = LibraryCache(config.content_dir)
    rasa_public_url = settings.rasa_public_url or settings.rasa_url

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        with sessions() as session:
            customers = demo_customers(session=session)
        widget_config = {"rasaUrl": rasa_public_url, "tokenUrl": str(request.url_for("demo_token").path)}
        return templates.TemplateResponse(
            request,
            name,
            {"customers": customers, "widget_config": widget_config, **context},
            status_code=status_code,
        )

    def library_or_error(request: Request) -> Library | HTMLResponse:
        try:
            return cache.get()
        except ArticleError as exc:
            # The support team's mistake in a file: say which, never a stack trace.
            return page(request, "helpcentre_error.html", 503, title="Help centre", message=str(exc))

    @router.get("/help", response_class=HTMLResponse, name="help_index")
    def help_index(request: Request, q: str = "") -> HTMLResponse:
        library = library_or_error(request)
        if isinstance(library, HTMLResponse):
            return library
        query = q.strip()[:MAX_QUERY]
        results = search_articles(library, query) if query else None
        return page(
            request,
            "helpcentre_index.html",
            title="Lumen help centre",
            query=query,
            results=results,
            sections=sections(library.articles),
        )

    @router.get("/help/articles/{slug}", response_class=HTMLResponse, name="help_article")
    def help_article(request: Request, slug: str) -> HTMLResponse:
        library = library_or_error(request)
        if isinstance(library, HTMLResponse):
            return library
        article = library.by_slug.get(slug)
        if article is None:
            raise HTTPException(status_code=404, detail="no such help article")
        related = [a for a in library.articles if a.section == article.section and a.slug != slug][:5]
        return page(
            request,
            "helpcentre_article.html",
            title=f"{article.title} · Lumen help centre",
            article=article,
            body=library.html[slug],
            related=related,
        )

    return router
