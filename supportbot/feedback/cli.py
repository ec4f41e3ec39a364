"""``python -m supportbot.feedback <command>``: build and show feedback themes.

- ``rebuild-themes``: re-cluster every redacted text (progress bar on stderr); one transaction.
- ``assign-new``: attach texts recorded since the last rebuild to existing themes.
- ``show-themes``: print the stored themes, largest first.

The database URL and models come from settings (``SUPPORTBOT_DATABASE_URL``,
``SUPPORTBOT_FEEDBACK_EMBEDDING_MODEL``, ``SUPPORTBOT_FEEDBACK_SPACY_MODEL``); ``--database-url``
overrides the URL for one run. Expected failures end with a message and exit 1, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from supportbot.errors import SupportBotError
from supportbot.feedback.clustering import ThemeParams
from supportbot.feedback.embedding import SentenceTransformerEmbedder, SpacyPhraser
from supportbot.feedback.themes import assign_new, list_themes, rebuild_themes
from supportbot.settings import Settings, get_settings
from supportbot.store.db import make_engine, session_factory

EXIT_OK, EXIT_FAILED = 0, 1


def theme_params(settings: Settings, args: argparse.Namespace | None = None) -> ThemeParams:
    """The clustering settings, each overridable for one run from the command line."""

    def pick(name: str, default: float) -> float:
        value = getattr(args, name, None) if args is not None else None
        return default if value is None else value

    return ThemeParams(
        neighbours=int(pick("neighbours", settings.feedback_theme_neighbours)),
        resolution=pick("resolution", settings.feedback_theme_resolution),
        merge_distance=pick("merge_distance", settings.feedback_theme_merge_distance),
        min_size=int(pick("min_size", settings.feedback_theme_min_size)),
        workers=settings.feedback_theme_workers,
    )


def theme_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """What theme rebuilds embed with (CLI, scheduler, benchmarks): ``SentenceTransformerEmbedder``, bulk options."""
    return SentenceTransformerEmbedder(
        model=settings.feedback_embedding_model,
        bfloat16=settings.feedback_embedding_bfloat16,
        attention="eager",
        workers=settings.feedback_theme_workers,
    )


def _rebuild(args: argparse.Namespace, settings: Settings, url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            report = rebuild_themes(
                session=session,
                embedder=theme_embedder(settings),
                phraser=SpacyPhraser(model=settings.feedback_spacy_model),
                params=theme_params(settings, args),
                progress=not args.quiet,
            )
    finally:
        engine.dispose()
    print(
        f"{report.themes} themes from {report.texts} texts ({report.distinct_texts} distinct); "
        f"{report.assigned} assigned, {report.unassigned} left unassigned; {report.seconds:.1f} s"
    )
    return EXIT_OK


def _assign(_args: argparse.Namespace, settings: Settings, url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            report = assign_new(
                session=session,
                embedder=theme_embedder(settings),
                min_similarity=settings.feedback_theme_assign_similarity,
            )
    finally:
        engine.dispose()
    print(f"{report.assigned} of {report.considered} unassigned texts joined a theme; {report.unassigned} wait")
    return EXIT_OK


def _show(args: argparse.Namespace, _settings: Settings, url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            themes = list_themes(session=session, limit=args.limit)
    finally:
        engine.dispose()
    if not themes:
        print("no themes yet: run `python -m supportbot.feedback rebuild-themes`")
    for theme in themes:
        ratings = ", ".join(
            part
            for part in (
                f"CSAT {theme.avg_csat:.1f}" if theme.avg_csat is not None else "",
                f"NPS {theme.avg_nps:.1f}" if theme.avg_nps is not None else "",
            )
            if part
        )
        trend = " ".join(f"{week}:{count}" for week, count in list(theme.trend.items())[-6:])
        print(f"#{theme.id} {theme.label}  [{theme.size}, {theme.polarity} {theme.polarity_score:+.2f}] {ratings}")
        print(f"    weeks: {trend}")
        for quote in theme.quotes:
            print(f"    “{quote}”")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m supportbot.feedback", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="override SUPPORTBOT_DATABASE_URL for this run")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser("rebuild-themes", help="re-cluster all feedback texts into themes")
    rebuild.add_argument("--neighbours", type=int, help="nearest neighbours per text in the graph")
    rebuild.add_argument("--resolution", type=float, help="Louvain modularity resolution (higher: finer groups)")
    rebuild.add_argument("--merge-distance", type=float, help="merge groups closer than this mean cosine distance")
    rebuild.add_argument("--min-size", type=int, help="smallest group that counts as a theme")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(handler=_rebuild)
    commands.add_parser("assign-new", help="attach new texts to existing themes").set_defaults(handler=_assign)
    show = commands.add_parser("show-themes", help="print stored themes")
    show.add_argument("--limit", type=int, default=20)
    show.set_defaults(handler=_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    url = args.database_url or settings.database_url
    try:
        return int(args.handler(args, settings, url))
    except (SupportBotError, SQLAlchemyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
