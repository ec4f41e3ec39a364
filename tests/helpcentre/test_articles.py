"""Articles: front matter rules, all-or-nothing loading, hashes, and the real folder's coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.helpcentre.articles import ArticleError, content_hash, folder_hash, load_articles, parse_article
from tests.helpcentre.conftest import CONTENT

BODY = "Open Settings > Data > Export and choose a format. " * 3
GOOD = f"""---
title: Export your notes
section: Using Lumen
tags: [export, pdf]
audience: everyone
updated: 2026-11-24
---
{BODY}
"""


def test_a_good_article_parses() -> None:
    article = parse_article(GOOD, slug="export-notes")
    assert article.title == "Export your notes"
    assert article.tags == ("export", "pdf")
    assert article.updated.isoformat() == "2026-11-24"
    assert article.body.startswith("Open Settings")


@pytest.mark.parametrize(
    ("text", "slug", "message"),
    [
        (GOOD.replace("title: Export your notes\n", ""), "a", "missing front matter field(s): title"),
        (GOOD.replace("audience: everyone", "audience: robots"), "a", "audience must be one of"),
        (GOOD.replace("updated: 2026-11-24", "updated: last week"), "a", "updated must be a date"),
        (GOOD.replace("tags: [export, pdf]", "tags: export"), "a", "tags must be a list"),
        (GOOD.replace("title: Export your notes", "title: Export: your notes"), "a", "not valid YAML"),
        (GOOD.replace("section: Using Lumen", "section: Using Lumen\ncolour: red"), "a", "unknown front matter"),
        (BODY, "a", "no front matter"),
        (GOOD.replace(BODY, "Too short."), "a", "too short"),
        (GOOD, "Export Notes", "file name must be lower-case"),
        (GOOD.replace("audience: everyone", "audience: everyone\naccount_intent: ask_orders"), "a", "go together"),
    ],
)
def test_a_bad_article_is_refused_with_a_message_naming_the_problem(text: str, slug: str, message: str) -> None:
    with pytest.raises(ArticleError, match=r"x\.md") as caught:
        parse_article(text, slug=slug, source="x.md")
    assert message in str(caught.value)


def test_one_bad_file_stops_the_whole_load(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.md").write_text(GOOD)
    with pytest.raises(ArticleError, match="slug 'good' is also used"):
        load_articles(tmp_path)
    (tmp_path / "sub" / "good.md").unlink()
    (tmp_path / "bad.md").write_text(GOOD.replace("section: Using Lumen\n", ""))
    with pytest.raises(ArticleError, match=r"bad\.md: missing front matter field"):
        load_articles(tmp_path)


def test_proposal_files_are_not_articles(tmp_path: Path) -> None:
    (tmp_path / "export.md").write_text(GOOD)
    (tmp_path / "PROPOSED_nlu.md").write_text("not an article")
    assert [a.slug for a in load_articles(tmp_path)] == ["export"]


def test_hashes_change_when_an_article_changes(tmp_path: Path) -> None:
    (tmp_path / "export.md").write_text(GOOD)
    before, before_files = content_hash(load_articles(tmp_path)), folder_hash(tmp_path)
    (tmp_path / "export.md").write_text(GOOD.replace("choose a format", "choose PDF"))
    assert content_hash(load_articles(tmp_path)) != before
    assert folder_hash(tmp_path) != before_files


def test_the_demo_help_centre_covers_what_the_issue_asks() -> None:
    articles = load_articles(CONTENT)
    assert len(articles) >= 40
    sections = {a.section for a in articles}
    assert sections >= {
        "Plans and billing",
        "Using Lumen",
        "Lumen Pen",
        "Orders and shipping",
        "Loyalty programme",
        "Privacy and security",
        "Contacting support",
    }
    slugs = {a.slug for a in articles}
    for needed in (
        "refunds",
        "invoices",
        "payment-methods",
        "taxes",
        "student-discount",
        "nonprofit-pricing",
        "export-notes",
        "sync-troubleshooting",
        "offline-mode",
        "templates",
        "sharing",
        "calendar",
        "reminders",
        "automations",
        "api",
        "pair-lumen-pen",
        "shipping-countries",
        "delivery-times",
        "returns",
        "loyalty-programme",
        "download-your-data",
        "delete-account",
        "two-factor",
        "contact-us",
    ):
        assert needed in slugs, needed


def test_article_facts_agree_with_the_demo_catalogue() -> None:
    """Plan prices, rewards and tier thresholds in the articles are the demo data's."""
    from supportbot.store.demo_catalogue import PLANS, REWARDS, TIER_THRESHOLDS

    by_slug = {a.slug: a for a in load_articles(CONTENT)}
    prices = by_slug["plans-and-prices"].body
    for plan in PLANS:
        assert (
            f"| {plan.name} | ${plan.monthly_price_cents // 100}/month | ${plan.monthly_price_cents // 10}/year"
            in prices
        )
    rewards = by_slug["redeem-rewards"].body
    for _code, name, points, tier in REWARDS:
        assert f"| {name} | {points:,} | {tier.title()} |" in rewards
    tiers = by_slug["loyalty-programme"].body
    for tier, points in TIER_THRESHOLDS:
        assert f"| {tier.title()} | {points:,} |" in tiers
