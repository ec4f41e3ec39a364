"""The help centre on the demo site: every article at its own URL, the index and its search box;
markup in an article stays text; then the same pages in real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from pydantic import SecretStr

from supportbot.helpcentre import config
from supportbot.helpcentre.articles import load_articles
from supportbot.settings import Settings
from supportbot.web.app import create_app
from tests.browser import artifact_path
from tests.factories import add_customer, prepared_store
from tests.helpcentre.conftest import CONTENT
from tests.widget.conftest import WebServer

SECRET = "helpcentre-tests-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("web") / "profile.db"
    sessions = prepared_store(path)
    with sessions.begin() as session:
        add_customer(session, "C000001", first_name="Maya")
    sessions.kw["bind"].dispose()
    return f"sqlite:///{path}"


def demo_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        customer_token_secret=SecretStr(SECRET),
        rasa_url="http://127.0.0.1:5005",
        demo_mode=True,
    )


@pytest.fixture
def site(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings(database_url))) as client:
        yield client


@pytest.fixture
def own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The site reading a folder of the test's own (through the environment, as deployed)."""
    monkeypatch.setenv("SUPPORTBOT_HELPCENTRE_CONTENT_DIR", str(tmp_path))
    config.get_helpcentre_settings.cache_clear()
    yield tmp_path
    config.get_helpcentre_settings.cache_clear()


def test_every_article_has_its_own_page_with_the_widget(site: TestClient) -> None:
    for article in load_articles(CONTENT):
        page = site.get(f"/help/articles/{article.slug}")
        assert page.status_code == 200, article.slug
        assert f"<h1>{article.title.replace('&', '&amp;')}</h1>" in page.text.replace("&#34;", '"').replace(
            "&#39;", "'"
        ).replace("&quot;", '"')
        assert "/widget/widget.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_index_lists_every_section_and_the_search_box_finds_articles(site: TestClient) -> None:
    index = site.get("/help")
    assert index.status_code == 200
    for section in ("Plans and billing", "Using Lumen", "Lumen Pen", "Orders and shipping", "Privacy and security"):
        assert f"<h2>{section}</h2>" in index.text
    assert index.text.count("/help/articles/") >= 40
    found = site.get("/help", params={"q": "export notes to pdf"})
    assert "result" in found.text
    first = found.text.split('class="help-results"')[1].split('href="')[1].split('"')[0]
    assert first.endswith("/help/articles/export-notes")
    nothing = site.get("/help", params={"q": "zzzqqq"})
    assert "No article matches" in nothing.text


def test_an_unknown_article_is_404(site: TestClient) -> None:
    assert site.get("/help/articles/no-such-thing").status_code == 404


def test_markup_in_an_article_is_shown_as_text_never_run(own_folder: Path, database_url: str) -> None:
    (own_folder / "evil.md").write_text(
        "---\ntitle: <script>alert(1)</script> Evil\nsection: Test\ntags: [x]\naudience: everyone\n"
        "updated: 2026-12-01\n---\n"
        "Some words <img src=x onerror=alert(1)> and <script>window.__x=1</script> and a "
        "[link](javascript:alert(1)) and enough more words to be an article body of twenty words.\n"
    )
    with TestClient(create_app(demo_settings(database_url))) as client:
        page = client.get("/help/articles/evil").text
    assert "<script>alert" not in page and "<img src=x" not in page and "<script>window" not in page
    assert "&lt;script&gt;" in page and 'href="javascript:' not in page


def test_a_broken_article_shows_which_file_and_no_traceback(own_folder: Path, database_url: str) -> None:
    (own_folder / "broken.md").write_text("---\ntitle: Broken\n---\nno fields here")
    with TestClient(create_app(demo_settings(database_url))) as client:
        page = client.get("/help")
    assert page.status_code == 503
    assert "broken.md: missing front matter field(s)" in page.text and "Traceback" not in page.text


def test_article_pages_and_search_in_chromium(browser: Browser, database_url: str) -> None:
    with WebServer(demo_settings(database_url)) as web:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{web.url}/help")
        page.get_by_label("Search the help centre").fill("do you ship to canada")
        page.get_by_role("button", name="Search").click()
        result = page.locator(".help-results a").first
        expect(result).to_have_text("Where we ship")
        result.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Where we ship")
        expect(page.locator(".help-article")).to_contain_text("Canada")
        page.goto(f"{web.url}/help/articles/plans-and-prices")
        expect(page.locator(".help-article table tr")).to_have_count(5)
        expect(page.locator(".help-article td").first).to_have_text("Starter")
        page.screenshot(path=str(artifact_path("helpcentre-article.png")), full_page=True)
        assert problems == []
        page.close()
