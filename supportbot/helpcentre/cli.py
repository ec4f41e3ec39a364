"""``python -m supportbot.helpcentre <command>``: the help centre's index and content gaps.

- ``reindex [--if-changed]``: load every article (all-or-nothing), embed its passages and
  atomically replace the index file. With ``--if-changed`` (what ``make run`` uses) nothing
  is loaded or embedded when the folder's files are byte-identical to the indexed ones and
  the index was built with the configured model.
- ``status``: the index file's model, build time, counts, and whether the folder changed since.
- ``ask "question"``: what the assistant would answer (for editors checking an article).
- ``gaps [--days N]``: the grouped content gaps, as the console shows them.

Folder, index file and model are settings (``SUPPORTBOT_HELPCENTRE_CONTENT_DIR``,
``..._INDEX_PATH``, ``..._EMBEDDING_MODEL``). Expected failures print one line and exit 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from supportbot.errors import SupportBotError
from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre.answers import compose_reply
from supportbot.helpcentre.articles import folder_hash
from supportbot.helpcentre.config import HelpCentreSettings, get_helpcentre_settings
from supportbot.helpcentre.gaps import find_gaps, group_gaps
from supportbot.helpcentre.index import read_meta, reindex
from supportbot.helpcentre.retrieval import Retriever

EXIT_OK, EXIT_FAILED = 0, 1


def index_is_current(settings: HelpCentreSettings) -> bool:
    if not settings.index_path.exists():
        return False
    try:
        meta = read_meta(settings.index_path)
    except SupportBotError:
        return False
    return bool(
        meta.get("model") == settings.embedding_model and meta.get("folder_hash") == folder_hash(settings.content_dir)
    )


def _reindex(args: argparse.Namespace, settings: HelpCentreSettings) -> int:
    if args.if_changed and index_is_current(settings):
        print(f"help centre: index is up to date ({settings.index_path})")
        return EXIT_OK
    report = reindex(
        content_dir=settings.content_dir,
        index_path=settings.index_path,
        embedder=SentenceTransformerEmbedder(model=settings.embedding_model),
    )
    print(
        f"help centre: indexed {report.articles} articles, {report.passages} passages "
        f"with {report.model} in {report.seconds:.1f} s -> {report.path}"
    )
    return EXIT_OK


def _status(settings: HelpCentreSettings) -> int:
    meta = read_meta(settings.index_path)
    current = index_is_current(settings)
    print(f"index:    {settings.index_path}")
    print(
        f"model:    {meta['model']}"
        + ("" if meta["model"] == settings.embedding_model else "  (NOT the configured one)")
    )
    print(f"built:    {meta['built_at']}")
    print(f"articles: {len(meta['articles'])}, passages: {len(meta['passages'])}")
    print(f"content:  {'unchanged since' if current else 'CHANGED since (run reindex)'}  ({settings.content_dir})")
    return EXIT_OK


def _ask(args: argparse.Namespace, settings: HelpCentreSettings) -> int:
    retriever = Retriever(
        index_path=settings.index_path, embedder=SentenceTransformerEmbedder(model=settings.embedding_model)
    )
    hits, _ = retriever.search(args.question, k=3)
    reply = compose_reply(
        args.question,
        hits,
        url_for=settings.article_url,
        threshold=settings.answer_threshold,
        lead=settings.answer_lead,
        verified=args.verified,
    )
    print(reply.text)
    for button in reply.buttons:
        print(f"[{button.title}] -> {button.payload}")
    print("\nscores: " + ", ".join(f"{h.article.slug} {h.score:+.2f} (cos {h.cosine:.2f})" for h in hits))
    return EXIT_OK


def _gaps(args: argparse.Namespace, settings: HelpCentreSettings) -> int:
    from supportbot.settings import get_settings
    from supportbot.store.db import make_engine, session_factory

    engine = make_engine(args.database_url or get_settings().database_url)
    try:
        with session_factory(engine)() as session:
            since = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days)
            groups = group_gaps(
                find_gaps(session=session, since=since, followup_minutes=settings.gap_followup_minutes),
                similarity=settings.gap_group_similarity,
            )
    finally:
        engine.dispose()
    if not groups:
        print(f"no content gaps in the last {args.days} days")
    for group in groups:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(group.reasons.items()))
        print(f"{group.count:4d}  {group.label}  [{reasons}; closest: {group.closest_article or '-'}]")
        for example in group.examples:
            print(f"        e.g. {example}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m supportbot.helpcentre", description=__doc__.split("\n")[0])
    parser.add_argument("--content-dir", type=Path, help="the folder of articles (default: settings)")
    parser.add_argument("--index", type=Path, help="the index file (default: settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser("reindex", help="rebuild the search index from the articles")
    rebuild.add_argument("--if-changed", action="store_true", help="do nothing when the folder is unchanged")
    commands.add_parser("status", help="what the index holds and whether the folder changed since")
    ask = commands.add_parser("ask", help="what the assistant would answer")
    ask.add_argument("question")
    ask.add_argument("--verified", action="store_true", help="answer as for a signed-in customer")
    gaps = commands.add_parser("gaps", help="questions the help centre could not answer, grouped")
    gaps.add_argument("--days", type=int, default=30)
    gaps.add_argument("--database-url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_helpcentre_settings()
    updates = {}
    if args.content_dir:
        updates["content_dir"] = args.content_dir
    if args.index:
        updates["index_path"] = args.index
    if updates:
        settings = settings.model_copy(update=updates)
    try:
        if args.command == "reindex":
            return _reindex(args, settings)
        if args.command == "status":
            return _status(settings)
        if args.command == "ask":
            return _ask(args, settings)
        return _gaps(args, settings)
    except (SupportBotError, SQLAlchemyError) as exc:
        print(f"help centre: {exc}", file=sys.stderr)
        return EXIT_FAILED
