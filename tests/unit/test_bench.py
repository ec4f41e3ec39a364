"""The benchmarks' own arithmetic (the benchmarks themselves run by hand, `make bench`): how
NLU predictions are scored, how a profile is read, how the latest figures reach the docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import summary
from bench.nlu_scores import metrics, replay
from bench.profiles import hot_spots, is_ours


def _predictions(path: Path, rows: list[tuple[str, str, str, str, float]]) -> tuple[Path, list[tuple[str, str]]]:
    """rows: (text, gold, final intent, classifier's top intent, its confidence). Returns the
    predictions file and the gold examples it lines up with."""
    lines = [
        json.dumps({"text": t, "gold": g, "predicted": p, "top": top, "confidence": c, "second_confidence": 0.0})
        for t, g, p, top, c in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, [(t, g) for t, g, *_ in rows]


def test_a_fallback_counts_as_wrong_but_not_for_top1(tmp_path: Path) -> None:
    path, gold = _predictions(
        tmp_path / "p.jsonl",
        [
            ("card lost", "lost_card", "lost_card", "lost_card", 0.9),
            ("card lost!", "lost_card", "nlu_fallback", "lost_card", 0.2),
            ("refund", "refund", "refund", "refund", 0.8),
            ("refund?", "refund", "lost_card", "lost_card", 0.5),
        ],
    )
    scores = metrics(path, gold, out_of_scope=False)
    assert scores["accuracy"] == 0.5
    assert scores["top1_accuracy"] == 0.75
    assert scores["fallbacks"] == 1
    assert scores["examples"] == 4


def test_out_of_scope_is_the_oos_class_or_a_fallback(tmp_path: Path) -> None:
    path, gold = _predictions(
        tmp_path / "p.jsonl",
        [
            ("weather?", "oos", "oos", "oos", 0.7),
            ("sing", "oos", "nlu_fallback", "balance", 0.1),
            ("poem", "oos", "balance", "balance", 0.6),
            ("balance", "balance", "balance", "balance", 0.9),
            ("my balance", "balance", "nlu_fallback", "balance", 0.2),
        ],
    )
    scores = metrics(path, gold, out_of_scope=True)
    assert scores["oos_recall"] == round(2 / 3, 4)
    assert scores["oos_precision"] == round(2 / 3, 4)  # three flagged, one of them in scope
    assert scores["accuracy"] == 0.5  # in scope only: one right, one fallback
    assert scores["top1_accuracy"] == 1.0


def test_predictions_that_do_not_line_up_with_the_gold_examples_stop_the_run(tmp_path: Path) -> None:
    path, _ = _predictions(tmp_path / "p.jsonl", [("a", "x", "x", "x", 0.9)])
    with pytest.raises(SystemExit, match="do not line up"):
        metrics(path, [("a", "x"), ("a", "x")], out_of_scope=False)
    with pytest.raises(SystemExit, match="do not line up"):
        metrics(path, [("a", "y")], out_of_scope=False)


def test_our_frames_are_told_from_rasas_by_their_path() -> None:
    assert is_ours("process (bot/nlu/sentence_featurizer.py:148)")
    assert is_ours("perform (actions/orders.py:85)")
    assert not is_ours("run (rasa/core/actions/action.py:790)")
    assert not is_ours("iter_errors (jsonschema/validators.py:301)")


def test_hot_spots_gives_self_and_inclusive_shares(tmp_path: Path) -> None:
    collapsed = tmp_path / "rasa.txt"
    collapsed.write_text(
        "main (rasa:10);process (bot/nlu/sentence_featurizer.py:148);_forward (bot/nlu/minilm.py:324) 30\n"
        "main (rasa:10);validate (jsonschema/validators.py:1117) 60\n"
        "main (rasa:10);save (rasa/core/tracker_store.py:1456) 10\n"
    )
    spots = hot_spots(collapsed)
    assert spots["samples"] == 100
    assert spots["self"][0] == ("validate (jsonschema/validators.py:1117)", 0.6)
    areas = dict(spots["areas"])
    assert areas["jsonschema (validating action-server answers)"] == 0.6
    assert areas["MiniLM forward pass (bot/nlu/minilm.py)"] == 0.3
    assert areas["tracker store"] == 0.1
    assert dict(spots["ours_inclusive"]) == {
        "process (bot/nlu/sentence_featurizer.py:148)": 0.3,
        "_forward (bot/nlu/minilm.py:324)": 0.3,
    }


def test_the_latest_figures_replace_only_the_generated_section(tmp_path: Path, monkeypatch) -> None:
    results = tmp_path / "bench-results"
    results.mkdir()
    run = {"users": 8, "turns_ok": 10, "errors": 0, "turns_per_second": 5.0, "load_avg": 1.0}
    run["all"] = {"p50_ms": 100.0, "p95_ms": 200.0, "p99_ms": 300.0}
    old = {**run, "stack": "ours", "run": "2026-01-01T00:00:00+00:00", "by_turn": {}}
    new = {**run, "stack": "ours", "run": "2026-02-01T00:00:00+00:00", "turns_per_second": 9.5}
    new["by_turn"] = {"greet": {"p50_ms": 80.0}, "thanks": {"p50_ms": 120.0}}
    (results / "load.json").write_text(json.dumps({"meta": {"command": "python -m bench.load"}, "levels": [old, new]}))
    monkeypatch.setattr(summary, "RESULTS", results)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Benchmarks\n\nhand-written\n\n{summary.START}\nold figures\n{summary.END}\n\nmore prose\n")

    summary.main(["--write-doc", str(doc)])

    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nhand-written\n\n")
    assert text.endswith("\n\nmore prose\n")
    assert "old figures" not in text
    assert "| ours | 8 | 10 | 0 | 9.5 |" in text  # the latest run only
    assert "| ours | 8 | 10 | 0 | 5.0 |" not in text
    assert "thanks (120)" in text
    assert "Not run yet: `nlu.json`" in text


def test_sections_of_benchmarks_not_run_here_are_kept_and_marked(tmp_path: Path, monkeypatch) -> None:
    results = tmp_path / "bench-results"
    results.mkdir()
    run = {"users": 1, "turns_ok": 3, "errors": 0, "turns_per_second": 2.0, "load_avg": 1.0, "stack": "ours"}
    run.update(run="2026-02-01T00:00:00+00:00", by_turn={}, all={"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0})
    (results / "load.json").write_text(json.dumps({"meta": {"command": "python -m bench.load"}, "levels": [run]}))
    monkeypatch.setattr(summary, "RESULTS", results)
    doc = tmp_path / "BENCHMARKS.md"
    old_nlu = "### NLU on public intent data\n\nSource: `bench-results/nlu.json`. Run 1.\n\n| a |\n|---|\n| 93 % |\n"
    old_load = "### Conversation latency and throughput\n\nSource: `bench-results/load.json`. old run\n"
    doc.write_text(f"# B\n\n{summary.START}\nintro\n\n{old_nlu}\n{old_load}\n{summary.END}\n")

    summary.main(["--write-doc", str(doc)])
    summary.main(["--write-doc", str(doc)])  # a second run keeps it once, marked once

    text = doc.read_text()
    assert "| ours | 1 | 3 | 0 | 2.0 |" in text  # load.json is here: its section is renewed
    assert "old run" not in text
    assert text.count("| 93 % |") == 1  # nlu.json is not: the earlier section stays
    assert text.count("`bench-results/nlu.json` is not in this checkout") == 1
    assert "Not run yet: `nlu.json`" not in text
    assert "Not run yet: `theme_threshold.json`, `themes.json`, `outreach.json`" in text


def test_a_document_without_markers_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        summary.main(["--write-doc", str(doc)])
    assert doc.read_text() == "# no markers\n"


def test_replay_applies_the_fallback_rule_at_each_threshold(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [
        {"gold": "balance", "top": "balance", "confidence": 0.9, "second_confidence": 0.05},
        {"gold": "balance", "top": "balance", "confidence": 0.35, "second_confidence": 0.34},  # ambiguous
        {"gold": "oos", "top": "balance", "confidence": 0.25, "second_confidence": 0.1},
        {"gold": "oos", "top": "oos", "confidence": 0.6, "second_confidence": 0.1},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    low, high = replay(path, [0.2, 0.3], ambiguity=0.02)
    assert low == {"threshold": 0.2, "accuracy": 0.5, "oos_recall": 0.5, "oos_precision": 0.5}
    assert high == {"threshold": 0.3, "accuracy": 0.5, "oos_recall": 1.0, "oos_precision": round(2 / 3, 4)}


def test_outreach_figures_show_each_backend_and_whether_decisions_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = {"seconds": 20.0, "cpu_seconds": 30.0, "peak_rss_mib": 150, "workers": 2}
    report = {"planned": {"usage_tip": 9}, "skipped": {"usage_tip": 1}}
    results = {
        "customers": 10,
        "cpus": 2,
        "started": "2026-12-01T10:00:00+00:00",
        "load_avg_start": [1.0, 1.0, 1.0],
        "decisions_identical": False,
        "plans": [
            {"backend": "sqlite", **plan, "report": report, "decisions_sha256": "a" * 64, "db_mib": 5},
            {"backend": "postgresql", **plan, "server_cpu_seconds": 4.0, "report": report, "decisions_sha256": "b"},
        ],
    }
    (tmp_path / "outreach.json").write_text(json.dumps(results))
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    section = summary.outreach()
    assert section is not None
    assert [row[1] for row in section.rows] == ["sqlite", "postgresql"]
    assert section.rows[1][6] == "4.0"
    assert "identical on every backend: NO" in section.markdown()
