"""Loading the help centre's Markdown articles and checking their front matter.

An article is ``<slug>.md`` anywhere under the content folder::

    ---
    title: Refund policy
    section: Plans and billing
    tags: [refund, money back]
    audience: everyone
    updated: 2026-11-25
    account_intent: ask_orders        # optional: the account step a mixed question is offered
    account_label: Check my recent orders
    ---
    Markdown body...

The slug (the file name without ``.md``) is the article's address, so it must be unique
across folders. Loading is all-or-nothing: one bad file raises ``ArticleError`` naming
the file and the field, and no index is built from a half-read folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from supportbot.errors import SupportBotError

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
AUDIENCES = ("everyone", "customers", "business")
REQUIRED = ("title", "section", "tags", "audience", "updated")
OPTIONAL = ("account_intent", "account_label")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)


class ArticleError(SupportBotError):
    """An article file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    section: str
    tags: tuple[str, ...]
    audience: str
    updated: dt.date
    body: str
    """Markdown, without the front matter."""
    account_intent: str | None = None
    account_label: str | None = None

    @property
    def text(self) -> str:
        """Everything searchable, for lexical matching and hashing."""
        return f"{self.title}\n{' '.join(self.tags)}\n{self.body}"


def parse_article(text: str, *, slug: str, source: str = "") -> Article:
    where = source or slug
    if not SLUG_RE.match(slug):
        raise ArticleError(f"{where}: file name must be lower-case words joined by '-' (got {slug!r})")
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if match is None:
        raise ArticleError(f"{where}: no front matter (the file must start with a '---' block)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise ArticleError(f"{where}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ArticleError(f"{where}: front matter must be a mapping of fields")
    missing = [field for field in REQUIRED if meta.get(field) in (None, "", [])]
    if missing:
        raise ArticleError(f"{where}: missing front matter field(s): {', '.join(missing)}")
    unknown = sorted(set(meta) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ArticleError(f"{where}: unknown front matter field(s): {', '.join(unknown)}")
    tags = meta["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise ArticleError(f"{where}: tags must be a list of words, e.g. [refund, invoice]")
    if meta["audience"] not in AUDIENCES:
        raise ArticleError(f"{where}: audience must be one of {', '.join(AUDIENCES)} (got {meta['audience']!r})")
    updated = meta["updated"]
    if isinstance(updated, str):
        try:
            updated = dt.date.fromisoformat(updated)
        except ValueError as exc:
            raise ArticleError(f"{where}: updated must be a date, YYYY-MM-DD (got {updated!r})") from exc
    if not isinstance(updated, dt.date):
        raise ArticleError(f"{where}: updated must be a date, YYYY-MM-DD")
    if bool(meta.get("account_intent")) != bool(meta.get("account_label")):
        raise ArticleError(f"{where}: account_intent and account_label go together")
    body = match.group(2).strip()
    if len(body.split()) < 20:
        raise ArticleError(f"{where}: the body is too short to answer anything (under 20 words)")
    return Article(
        slug=slug,
        title=str(meta["title"]).strip(),
        section=str(meta["section"]).strip(),
        tags=tuple(t.strip() for t in tags),
        audience=meta["audience"],
        updated=updated,
        body=body,
        account_intent=meta.get("account_intent") or None,
        account_label=meta.get("account_label") or None,
    )


def article_files(folder: Path) -> list[Path]:
    """Every ``*.md`` under ``folder``, sorted; ``PROPOSED_*`` and ``README*`` files are not articles."""
    return sorted(p for p in folder.rglob("*.md") if not p.name.startswith(("PROPOSED_", "README")) and p.is_file())


def load_articles(folder: Path) -> list[Article]:
    if not folder.is_dir():
        raise ArticleError(f"{folder}: the help-centre folder does not exist")
    articles: list[Article] = []
    seen: dict[str, Path] = {}
    for path in article_files(folder):
        slug = path.stem
        if slug in seen:
            raise ArticleError(f"{path}: slug {slug!r} is also used by {seen[slug]}")
        seen[slug] = path
        articles.append(parse_article(path.read_text(encoding="utf-8"), slug=slug, source=str(path)))
    if not articles:
        raise ArticleError(f"{folder}: no articles (*.md files) found")
    return articles


def content_hash(articles: Iterable[Article]) -> str:
    """Changes whenever any article's slug, front matter or body changes (or one is added or removed)."""
    digest = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.slug):
        fields: tuple[str, ...] = (
            a.slug,
            a.title,
            a.section,
            ",".join(a.tags),
            a.audience,
            a.updated.isoformat(),
            a.body,
        )
        fields = (*fields, a.account_intent or "", a.account_label or "")
        for field in fields:
            digest.update(field.encode())
            digest.update(b"\x00")
    return digest.hexdigest()


def folder_hash(folder: Path) -> str:
    """The raw bytes of every article file (cheap: no parsing), to decide whether to re-index."""
    digest = hashlib.sha256()
    for path in article_files(folder):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(b"\x00")
        digest.update(path.read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()
