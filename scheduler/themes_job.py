"""The scheduler's feedback-themes job: rebuild themes when feedback arrived since the last rebuild.

Added at start-up by ``scheduler.process`` with a fixed id (``THEMES_JOB_ID``),
``replace_existing=True``, every ``feedback_theme_rebuild_every_hours``; like the outreach
jobs it takes no objects as arguments (APScheduler pickles the reference), reads the
database URL and models from the settings when it runs, and holds a lease so that of two
scheduler processes only one rebuilds. The models (MiniLM, spaCy) load on the first
rebuild that is due and stay loaded for the life of the process, and so do the vectors of
the texts already embedded (``CachingEmbedder``): a later rebuild embeds only new texts. A
quiet day costs one query (``rebuild_is_due``).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

from scheduler import runtime
from scheduler.jobs import worker_id
from supportbot.feedback.cli import theme_embedder, theme_params
from supportbot.feedback.embedding import CachingEmbedder, Embedder, Phraser, SpacyPhraser
from supportbot.feedback.themes import RebuildReport, rebuild_if_due
from supportbot.outreach.leases import acquire_lease, release_lease

logger = logging.getLogger(__name__)

THEMES_JOB_ID = "feedback-themes"
THEMES_LEASE = "feedback-themes"
LEASE_TTL = dt.timedelta(hours=2)
"""Longer than any rebuild (about a minute for 25,000 texts): a crashed holder frees it within two hours."""


@lru_cache(maxsize=1)
def _models() -> tuple[Embedder, Phraser]:
    settings = runtime.settings()
    return (
        CachingEmbedder(theme_embedder(settings), max_texts=settings.feedback_theme_cache_texts),
        SpacyPhraser(model=settings.feedback_spacy_model),
    )


def every_seconds() -> float:
    """The job's interval, from ``SUPPORTBOT_FEEDBACK_THEME_REBUILD_EVERY_HOURS``."""
    return max(runtime.settings().feedback_theme_rebuild_every_hours, 0.01) * 3600


def themes_job() -> RebuildReport | None:
    """Rebuild themes if due and if this process holds the themes lease; the report, or None if nothing ran."""
    sessions = runtime.sessions(runtime.database_url())
    with sessions.begin() as session:
        if not acquire_lease(
            session=session, name=THEMES_LEASE, holder=worker_id(), now=runtime.utc_now(), ttl=LEASE_TTL
        ):
            logger.info("another scheduler holds the themes lease; not rebuilding")
            return None
    try:
        embedder, phraser = _models()
        with sessions.begin() as session:
            report = rebuild_if_due(
                session=session, embedder=embedder, phraser=phraser, params=theme_params(runtime.settings())
            )
    finally:
        with sessions.begin() as session:
            release_lease(session=session, name=THEMES_LEASE, holder=worker_id(), now=runtime.utc_now())
    if report is None:
        logger.info("themes: no new feedback since the last rebuild")
    else:
        logger.info(
            "themes rebuilt: %s themes from %s texts, %s unassigned, %.1f s %s",
            report.themes,
            report.texts,
            report.unassigned,
            report.seconds,
            report.steps,
        )
    return report
