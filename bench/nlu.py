"""Benchmark (not a test): our NLU pipeline against Rasa's default one on public intent data.

    .venvs/app/bin/python -m bench.nlu                                   # both data sets, both pipelines, test splits
    .venvs/app/bin/python -m bench.nlu --datasets banking77 --pipelines ours,ours-sparse
    .venvs/app/bin/python -m bench.nlu --split val --pipelines ours --set dense_weight=1,3,10   # choose on validation

Data (``../shared/benchdata``, ``$SUPPORTBOT_BENCH_DATA`` or ``--data DIR``):

- BANKING77 (Casanueva et al. 2020): train 10,003 / test 3,080, 77 intents. It has no
  validation split; ``--split val`` trains on train minus 20 examples per intent and
  evaluates on those 1,540 (the DialoGLUE carve-out, chosen here with a fixed seed).
- CLINC150 ``data_full.json`` (Larson et al. 2019): train 15,000 + ``oos_train`` 100, trained
  as a 151st intent ``oos``; evaluated on test 4,500 + ``oos_test`` 1,000 (``--split val``:
  val 3,000 + ``oos_val`` 100). A message counts as out of scope when the pipeline predicts
  ``oos`` or its FallbackClassifier answers ``nlu_fallback`` (both pipelines have one, at
  confidence 0.3): a trained out-of-scope class plus a confidence threshold.

Pipelines (NLU only; each trained by ``rasa train nlu`` in the Rasa environment, evaluated
by ``bench/rasa_predict.py``, which parses every test text with the trained model as the
Rasa server does; ``rasa test nlu`` is not used because it undoes fallback predictions):

- ``ours``: the ``pipeline`` of the project's ``config.yml``, as the assistant uses it;
- ``ours-sparse``: the same without the sentence-embedding featurizer (what it adds);
- ``ours-minilm``: the same with it (inserted before the intent classifier if absent);
- ``default``: Rasa's default pipeline, the one ``rasa init`` leaves to Rasa (read from Rasa's
  own ``default_config.yml``), DIET at ``--default-epochs`` (Rasa's default 100).

Per run: accuracy (in-scope accuracy for CLINC150; a fallback counts as wrong), top-1
accuracy (the classifier's best intent, whatever its confidence), macro-F1 over the gold intents, for
CLINC150 out-of-scope recall and precision; training wall time, CPU time and peak RSS of
the ``rasa train`` process (``os.wait4``); evaluation time. Results are appended to
``bench-results/nlu.json`` (``--out``) after every run, so a stopped benchmark keeps what it
measured. ``--smoke`` runs a tiny version (a few intents, DIET 1 epoch) to check the wiring.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from bench.nlu_scores import OUT_OF_SCOPE, metrics, replay
from bench.results import append_result, bench_data
from supportbot.devstack import RASA_ENV_BIN, ROOT, base_env, rasa_executable

RESULTS = ROOT / "bench-results" / "nlu.json"
EMBEDDING_COMPONENT = "bot.nlu.sentence_featurizer.SentenceEmbeddingFeaturizer"
CLASSIFIER_SETTINGS = ("C", "dense_weight", "normalize")
"""LinearIntentClassifier settings that ``--set`` may vary."""
PUBLISHED = {
    "banking77": "fine-tuned BERT 93.66 %, USE+ConveRT 93.36 % (Casanueva et al. 2020); "
    "frozen all-MiniLM-L6-v2 + logistic regression 79.75 % (MTEB)",
    "clinc150": "BERT 96.9 % in-scope accuracy / 40.3 % out-of-scope recall; "
    "Rasa (spaCy + sklearn) 91.5 % / 45.3 % (Larson et al. 2019, full, oos-train)",
}

Example = tuple[str, str]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def banking77(data: Path, split: str) -> tuple[list[Example], list[Example]]:
    def read(name: str) -> list[Example]:
        with (data / "banking77" / name).open(newline="", encoding="utf-8") as handle:
            return [(row["text"], row["category"]) for row in csv.DictReader(handle)]

    train = read("train.csv")
    if split == "test":
        return train, read("test.csv")
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in train:
        by_label[example[1]].append(example)
    rng = random.Random(77)
    fit: list[Example] = []
    val: list[Example] = []
    for label in sorted(by_label):
        examples = by_label[label][:]
        rng.shuffle(examples)
        val.extend(examples[:20])
        fit.extend(examples[20:])
    return fit, val


def clinc150(data: Path, split: str) -> tuple[list[Example], list[Example]]:
    full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    train = [(t, label) for t, label in full["train"] + full["oos_train"]]
    other = "test" if split == "test" else "val"
    return train, [(t, label) for t, label in full[other] + full[f"oos_{other}"]]


DATASETS = {"banking77": banking77, "clinc150": clinc150}


def smoke(examples: list[Example], labels: int = 6, per_label: int = 8) -> list[Example]:
    keep = sorted({label for _, label in examples})[:labels]
    if OUT_OF_SCOPE in {label for _, label in examples} and OUT_OF_SCOPE not in keep:
        keep[-1] = OUT_OF_SCOPE
    seen: Counter[str] = Counter()
    out = []
    for text, label in examples:
        if label in keep and seen[label] < per_label:
            seen[label] += 1
            out.append((text, label))
    return out


def rasa_text(text: str) -> str:
    """Rasa reads ``[x](y)`` / ``[x]{…}`` in training examples as entity markup; one test text
    of BANKING77 has square brackets ("[country]"): they become parentheses."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def write_nlu(examples: list[Example], path: Path) -> None:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in examples:
        cleaned = rasa_text(text)
        if cleaned:
            by_label[label].append(cleaned)
    nlu = [
        {"intent": label, "examples": "".join(f"- {t}\n" for t in texts)} for label, texts in sorted(by_label.items())
    ]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False))


# ---------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------


def our_pipeline(*, embedding: bool | None, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """config.yml's pipeline; ``embedding`` False removes the sentence-embedding featurizer,
    True puts it in front of the intent classifier if config.yml has none, None keeps it as is."""
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    pipeline = [dict(c) for c in config["pipeline"]]
    has_embedding = any(c["name"] == EMBEDDING_COMPONENT for c in pipeline)
    if embedding is False:
        pipeline = [c for c in pipeline if c["name"] != EMBEDDING_COMPONENT]
    elif embedding and not has_embedding:
        at = next(i for i, c in enumerate(pipeline) if c["name"].endswith("LinearIntentClassifier"))
        pipeline.insert(at, {"name": EMBEDDING_COMPONENT})
    for component in pipeline:
        if component["name"].endswith("LinearIntentClassifier"):
            component.update({k: v for k, v in overrides.items() if k in CLASSIFIER_SETTINGS})
    return pipeline


def default_pipeline(*, epochs: int) -> list[dict[str, Any]]:
    found = list(
        (RASA_ENV_BIN.parent / "lib").glob("python3*/site-packages/rasa/engine/recipes/config_files/default_config.yml")
    )
    if not found:
        raise SystemExit("Rasa's default_config.yml not found in the rasa environment: run `make envs`")
    pipeline = [dict(c) for c in yaml.safe_load(found[0].read_text())["pipeline"]]
    for component in pipeline:
        if component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
    return pipeline


def pipeline_for(name: str, *, epochs: int, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    if name == "ours":
        return our_pipeline(embedding=None, overrides=overrides)
    if name == "ours-sparse":
        return our_pipeline(embedding=False, overrides=overrides)
    if name == "ours-minilm":
        return our_pipeline(embedding=True, overrides=overrides)
    if name == "default":
        return default_pipeline(epochs=epochs)
    raise SystemExit(f"unknown pipeline {name!r}: ours, ours-sparse, ours-minilm or default")


# ---------------------------------------------------------------------------
# Running Rasa
# ---------------------------------------------------------------------------


def measured(args: list[str], *, cwd: Path, log: Path, timeout: float) -> dict[str, float]:
    """Run to the end; wall time, CPU time and peak RSS of the process (``os.wait4``)."""
    env = base_env(PYTHONPATH=str(ROOT))
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise SystemExit(f"{' '.join(args[:3])} took longer than {timeout:.0f} s (log: {log})")
            time.sleep(0.5)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(args[:3])} failed ({process.returncode}); log {log}:\n{tail}")
    return {
        "wall_s": round(time.monotonic() - start, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def run_one(
    *,
    dataset: str,
    pipeline: str,
    split: str,
    data: Path,
    epochs: int,
    overrides: dict[str, Any],
    smoke_run: bool,
    work: Path,
    timeout: float,
) -> dict[str, Any]:
    train, test = DATASETS[dataset](data, split)
    if smoke_run:
        train, test = smoke(train), smoke(test, per_label=3)
    tag = f"{dataset}-{pipeline}-{split}" + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))
    project = work / tag
    project.mkdir(parents=True)
    write_nlu(train, project / "train.yml")
    steps = pipeline_for(pipeline, epochs=epochs, overrides=overrides)
    config = {"recipe": "default.v1", "language": "en", "assistant_id": "bench", "pipeline": steps, "policies": []}
    (project / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    rasa = str(rasa_executable())
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {tag}: training on {len(train)} examples", flush=True)
    training = measured(
        [
            rasa,
            "train",
            "nlu",
            "--config",
            "config.yml",
            "--nlu",
            "train.yml",
            "--out",
            "models",
            "--fixed-model-name",
            "nlu",
        ],
        cwd=project,
        log=project / "train.log",
        timeout=timeout,
    )
    print(
        f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {tag}: trained in {training['wall_s']} s; testing on {len(test)}",
        flush=True,
    )
    (project / "test.json").write_text(json.dumps([[rasa_text(t), label] for t, label in test]), encoding="utf-8")
    testing = measured(
        [
            str(RASA_ENV_BIN / "python"),
            str(ROOT / "bench" / "rasa_predict.py"),
            "models/nlu.tar.gz",
            "test.json",
            "predictions.jsonl",
        ],
        cwd=project,
        log=project / "test.log",
        timeout=timeout,
    )
    scores = metrics(project / "predictions.jsonl", test, out_of_scope=dataset == "clinc150")
    return {
        "dataset": dataset,
        "pipeline": pipeline,
        "split": split,
        "smoke": smoke_run,
        "train_examples": len(train),
        "test_examples": len(test),
        "overrides": overrides,
        "diet_epochs": epochs if pipeline == "default" else None,
        "components": [c["name"] for c in steps],
        **scores,
        "train": training,
        "test": testing,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        f"{'dataset':<10}{'pipeline':<12}{'split':<6}{'set':<14}{'acc':>7}{'top1':>7}{'mF1':>7}{'oosR':>7}{'oosP':>7}"
        f"{'train s':>9}{'RSS MiB':>9}"
    ]
    for r in runs:
        oos_r = f"{r['oos_recall']:.3f}" if "oos_recall" in r else "-"
        oos_p = f"{r['oos_precision']:.3f}" if r.get("oos_precision") is not None else "-"
        sets = ",".join(f"{k}={v}" for k, v in r["overrides"].items()) or (
            f"epochs={r['diet_epochs']}" if r["diet_epochs"] else ""
        )
        lines.append(
            f"{r['dataset']:<10}{r['pipeline']:<12}{r['split']:<6}{sets:<14}{r['accuracy']:>7.3f}"
            f"{r['top1_accuracy']:>7.3f}{r['macro_f1']:>7.3f}"
            f"{oos_r:>7}{oos_p:>7}{r['train']['wall_s']:>9.0f}{r['train']['peak_rss_mib']:>9.0f}"
        )
    return "\n".join(lines)


def parse_sets(values: list[str]) -> list[dict[str, Any]]:
    """``--set dense_weight=1,3 --set C=10`` → every combination."""
    combos: list[dict[str, Any]] = [{}]
    for item in values:
        key, _, raw = item.partition("=")
        if key not in CLASSIFIER_SETTINGS or not raw:
            raise SystemExit(
                f"--set {item!r}: expected one of {', '.join(CLASSIFIER_SETTINGS)}=… (comma-separated values)"
            )
        options: list[Any] = [
            v.lower() in ("1", "true", "yes") if key == "normalize" else float(v) for v in raw.split(",")
        ]
        combos = [c | {key: v} for c in combos for v in options]
    return combos


def settings_for(pipeline: str, combos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The classifier settings that mean something for ``pipeline``, each once."""
    if pipeline == "default":
        return [{}]
    keys = tuple(k for k in CLASSIFIER_SETTINGS if not (pipeline == "ours-sparse" and k == "dense_weight"))
    unique: list[dict[str, Any]] = []
    for combo in combos:
        kept = {k: v for k, v in combo.items() if k in keys}
        if kept not in unique:
            unique.append(kept)
    return unique


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="banking77,clinc150")
    parser.add_argument(
        "--pipelines",
        default="ours,ours-sparse,ours-minilm,default",
        help="ours, ours-sparse, ours-minilm, default; a pipeline identical to one before it is not run twice",
    )
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--default-epochs", type=int, default=100)
    parser.add_argument(
        "--set", action="append", default=[], help="classifier setting to try: dense_weight=1,3 or C=1,10"
    )
    parser.add_argument(
        "--data", type=Path, help="benchmark data folder (default: $SUPPORTBOT_BENCH_DATA or ../shared/benchdata)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="a few intents and examples, DIET 1 epoch")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="per training or test run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the projects, models and reports")
    parser.add_argument("--replay", type=Path, help="a kept predictions.jsonl: its scores at --thresholds, then stop")
    parser.add_argument("--thresholds", default="0.2,0.3,0.4,0.5")
    parser.add_argument("--ambiguity", type=float, default=0.02, help="the FallbackClassifier's ambiguity_threshold")
    args = parser.parse_args(argv)
    if args.replay:
        for row in replay(args.replay, [float(t) for t in args.thresholds.split(",")], args.ambiguity):
            print(json.dumps(row))
        return 0
    args.data = args.data or bench_data()
    for name in args.datasets.split(","):
        if name not in DATASETS:
            raise SystemExit(f"unknown data set {name!r}: {', '.join(DATASETS)}")
        if not (args.data / name).is_dir():
            raise SystemExit(f"{args.data / name} is missing: point --data at the benchmark data directory")
    epochs = 1 if args.smoke else args.default_epochs
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta = {
        "started": started,
        "command": " ".join([Path(sys.executable).name, "-m", "bench.nlu", *(argv or sys.argv[1:])]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "published": PUBLISHED,
    }
    runs = []
    work = Path(tempfile.mkdtemp(prefix="bench-nlu-"))
    for dataset in args.datasets.split(","):
        seen: list[Any] = []
        for pipeline in args.pipelines.split(","):
            steps = pipeline_for(pipeline, epochs=epochs, overrides={})
            if steps in seen:
                print(f"{dataset} {pipeline}: same pipeline as one already run, skipped", flush=True)
                continue
            seen.append(steps)
            for overrides in settings_for(pipeline, parse_sets(args.set)):
                result = run_one(
                    dataset=dataset,
                    pipeline=pipeline,
                    split=args.split,
                    data=args.data,
                    epochs=epochs,
                    overrides=overrides,
                    smoke_run=args.smoke,
                    work=work,
                    timeout=args.timeout,
                )
                result["run"] = started  # which invocation: the summary shows the latest one
                append_result(args.out, "runs", result, meta)
                runs.append(result)
                print(table([result]).splitlines()[1], flush=True)
    print()
    print(table(runs))
    print(f"\nresults: {args.out}" + (f"; projects in {work}" if args.keep else ""))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
