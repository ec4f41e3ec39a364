"""Help-centre fixtures: copies of real articles in temporary folders, indexed with the REAL
embedding model (the offline all-MiniLM-L6-v2 package), loaded once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre import config, service
from supportbot.helpcentre.config import HelpCentreSettings
from supportbot.helpcentre.index import reindex
from supportbot.settings import PROJECT_ROOT
from tests.console.conftest import (  # noqa: F401  (the console's fixtures, for test_console_page.py)
    admin,
    agent,
    cheap_password_hashing,
    console,
    console_template,
    lead,
    migrated_store,
)
from tests.widget.conftest import visit, web  # noqa: F401  (the widget's fixtures, for test_widget_links.py)

CONTENT = PROJECT_ROOT / "helpcentre"
HANDFUL = (
    "using-lumen/export-notes.md",
    "orders-and-shipping/shipping-countries.md",
    "orders-and-shipping/returns.md",
    "plans-and-billing/refunds.md",
    "plans-and-billing/student-discount.md",
    "plans-and-billing/payment-methods.md",
    "privacy-and-security/two-factor.md",
    "lumen-pen/pen-tips-and-warranty.md",
)
"""The articles the four questions of the issue need, and a few neighbours to tell them from."""


@dataclass(frozen=True)
class HelpFolder:
    content: Path
    index: Path
    settings: HelpCentreSettings


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model=HelpCentreSettings().embedding_model)


def copy_handful(folder: Path) -> Path:
    for name in HANDFUL:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONTENT / name, target)
    return folder


@pytest.fixture(scope="session")
def indexed_handful(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> HelpFolder:
    """Seven real articles and their index (read-only: tests that edit take ``help_folder``)."""
    root = tmp_path_factory.mktemp("handful")
    content = copy_handful(root / "content")
    index = root / "index.npz"
    reindex(content_dir=content, index_path=index, embedder=embedder)
    return HelpFolder(content, index, settings_for(content, index))


def settings_for(content: Path, index: Path) -> HelpCentreSettings:
    return HelpCentreSettings(
        _env_file=None,  # type: ignore[call-arg]
        content_dir=content,
        index_path=index,
        public_base_url="https://lumen.example",
    )


@pytest.fixture
def help_folder(tmp_path: Path, indexed_handful: HelpFolder) -> HelpFolder:
    """A private copy of the indexed handful, safe to edit and re-index."""
    content = tmp_path / "content"
    shutil.copytree(indexed_handful.content, content)
    index = tmp_path / "index.npz"
    shutil.copyfile(indexed_handful.index, index)
    return HelpFolder(content, index, settings_for(content, index))


@pytest.fixture
def help_service(
    help_folder: HelpFolder, monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder
) -> Iterator[HelpFolder]:
    """The action server's process-wide help centre pointed at ``help_folder`` (through the
    environment, as a deployment would), sharing the session's loaded model."""
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_CONTENT_DIR", str(help_folder.content))
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_INDEX_PATH", str(help_folder.index))
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_PUBLIC_BASE_URL", "https://lumen.example")
    config.get_helpcentre_settings.cache_clear()
    service.get_retriever.cache_clear()
    service.get_retriever().embedder = embedder  # the same model, loaded once for the session
    yield help_folder
    config.get_helpcentre_settings.cache_clear()
    service.get_retriever.cache_clear()
