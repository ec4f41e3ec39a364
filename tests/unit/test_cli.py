"""``python -m supportbot`` as scripts use it: exit codes, stdout and stderr."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot import cli
from supportbot.identity import verify_customer_token
from supportbot.settings import PROJECT_ROOT, get_settings
from supportbot.store.models import Customer
from tests.factories import customer_row, write_csv, write_json

SECRET = "unit-test-secret-that-is-long-enough-0123456789"
Sessions = sessionmaker[Session]


def _environment(url: str, secret: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SUPPORTBOT_") and k not in ("CUSTOMER_TOKEN_SECRET", "RASA_API_TOKEN")
    }
    env.update({"SUPPORTBOT_DATABASE_URL": url, "SUPPORTBOT_MODE": "development", "PYTHONPATH": str(PROJECT_ROOT)})
    if secret is not None:
        env["CUSTOMER_TOKEN_SECRET"] = secret
    return env


def _run(*args: str, url: str, cwd: Path, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    """The CLI's ``main`` in this process, as ``python -m supportbot`` runs it: its own environment
    and working directory (so no developer .env is read), settings read afresh, stdout and stderr
    captured, the exit code it returns (or argparse's). One test below runs the real subprocess;
    the rest run here because every new interpreter costs tens of seconds on the CI machines."""
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(_environment(url, secret))
    os.chdir(cwd)
    get_settings.cache_clear()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()
    return subprocess.CompletedProcess(["python", "-m", "supportbot", *args], code, out.getvalue(), err.getvalue())


def _run_subprocess(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supportbot", *args],
        cwd=cwd,
        env=_environment(url, SECRET),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the demo loaded through the CLI (read-only for the tests using it)."""
    folder = tmp_path_factory.mktemp("cli-demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    result = _run("demo", "load", "--reference-date", "2024-06-11", url=url, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loaded 300 demo customers (reference date 2024-06-11)")
    return url


def test_import_good_file_then_update(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _run("db", "upgrade", url=url, cwd=tmp_path).returncode == 0
    assert _run("db", "seed-catalogue", url=url, cwd=tmp_path).returncode == 0
    path = write_csv(tmp_path / "good.csv", [customer_row(1), customer_row(2)])

    first = _run("import", str(path), url=url, cwd=tmp_path)
    again = _run("import", str(path), url=url, cwd=tmp_path)

    assert (first.returncode, first.stdout) == (0, "imported good.csv: 2 created, 0 updated\n")
    assert (again.returncode, again.stdout) == (0, "imported good.csv: 0 created, 2 updated\n")


def test_import_bad_file_prints_every_problem(catalogue: Sessions, database_url: str, tmp_path: Path) -> None:
    url = database_url
    path = write_json(
        tmp_path / "bad.json",
        [
            customer_row(1),
            customer_row(2, time_zone="Europe/Londn"),
            customer_row(3, birthday="1990-02-30", plan_code="gold"),
        ],
    )

    result = _run("import", str(path), url=url, cwd=tmp_path)

    _assert_clean_failure(result)
    lines = result.stderr.splitlines()
    assert lines[0] == "import rejected, nothing was imported; 3 problem(s):"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "row 2, time_zone",
        "row 3, birthday",
        "row 3, plan_code",
    ]
    with catalogue() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_import_unsupported_file_type(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "customers.xlsx").write_bytes(b"PK")
    result = _run("import", str(tmp_path / "customers.xlsx"), url=url, cwd=tmp_path)
    _assert_clean_failure(result)
    assert len(result.stderr.splitlines()) == 1
    assert "use a .csv or .json file" in result.stderr


def test_demo_load_a_second_time_loads_nothing(demo_url: str, tmp_path: Path) -> None:
    result = _run("demo", "load", url=demo_url, cwd=tmp_path)
    assert result.returncode == 0
    assert "demo data not loaded" in result.stdout


def test_token_mint_prints_only_a_valid_token(demo_url: str, tmp_path: Path) -> None:
    """Through a real ``python -m supportbot`` process: the entry point scripts use."""
    result = _run_subprocess("token", "mint", "C000001", "--ttl", "600", url=demo_url, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert verify_customer_token(token, secret=SECRET) == "C000001"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="lumen-support-chat")
    assert claims["exp"] - claims["iat"] == 600
    assert claims["exp"] > dt.datetime.now(dt.UTC).timestamp()


def test_token_mint_refuses_unknown_customers_and_missing_secret(demo_url: str, tmp_path: Path) -> None:
    unknown = _run("token", "mint", "C999999", url=demo_url, cwd=tmp_path)
    _assert_clean_failure(unknown)
    assert "no customer with id 'C999999'" in unknown.stderr
    no_secret = _run("token", "mint", "C000001", url=demo_url, cwd=tmp_path, secret=None)
    _assert_clean_failure(no_secret)
    assert "CUSTOMER_TOKEN_SECRET is not set" in no_secret.stderr


def test_customers_show(demo_url: str, tmp_path: Path) -> None:
    result = _run("customers", "show", "C000001", url=demo_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("C000001  Maya Patel <maya.patel@example.com>\n")
    assert "pro monthly, active, renews 2024-06-21" in result.stdout
    assert "Europe/London" in result.stdout


def test_database_not_migrated_is_a_one_line_error(tmp_path: Path) -> None:
    result = _run("customers", "show", "C000001", url=f"sqlite:///{tmp_path / 'empty.db'}", cwd=tmp_path)
    _assert_clean_failure(result)
    assert len(result.stderr.splitlines()) == 1
    assert "no such table" in result.stderr and "db upgrade" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = _run("demo", "load", "--reference-date", "11/06/2024", url=f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a date as YYYY-MM-DD" in result.stderr
