"""Sampling the servers of a load test with py-spy, and reading the samples back (``bench.load``)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol


class _Target(Protocol):
    """What :class:`Profiler` needs of a load-test target: its name and its servers
    (``supportbot.devstack.Server``: a ``name`` and a ``process``)."""

    name: str
    servers: list[Any]


class Profiler:
    """py-spy sampling every server of a stack during one level (``--profile-with``).

    py-spy is a separate program (``pip install py-spy`` anywhere; it is not a dependency of
    either environment) that samples a running process from outside, so the servers run
    unmodified. Each server's collapsed stacks go to ``DIR/<stack>-<server>-N<users>.txt``;
    :func:`hot_spots` reads them back.
    """

    def __init__(self, py_spy: Path, out_dir: Path) -> None:
        self.py_spy, self.out_dir = py_spy, out_dir
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, target: _Target, users: int, seconds: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for server in target.servers:
            out = self.out_dir / f"{target.name}-{server.name}-N{users}.txt"
            command = [str(self.py_spy), "record", "--pid", str(server.process.pid), "--format", "raw"]
            command += ["--rate", "50", "--duration", str(int(seconds)), "--nonblocking", "--output", str(out)]
            self.running.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out))

    def finish(self) -> list[Path]:
        done = []
        for process, out in self.running:
            try:
                _, err = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            if out.exists():
                done.append(out)
            else:
                print(f"py-spy wrote no {out.name}: {err.decode(errors='replace')[-300:]}", flush=True)
        self.running = []
        return done


OUR_CODE = ("bot/", "actions/", "supportbot/", "scheduler/")
"""Where our packages' frames point (py-spy names a frame ``function (path:line)``, the path
relative to its ``sys.path`` entry: ``rasa/core/actions/...`` is Rasa's, ``actions/...`` ours)."""


def is_ours(frame: str) -> bool:
    path = frame.rpartition(" (")[2]
    return path.startswith(OUR_CODE)


AREAS = {
    "jsonschema (validating action-server answers)": ("jsonschema/",),
    "NLU graph (parse_message)": ("_parse_message_with_graph (rasa/core/processor.py",),
    "MiniLM forward pass (bot/nlu/minilm.py)": ("(bot/nlu/minilm.py",),
    "tracker store": ("(rasa/core/tracker_store.py",),
    "policies": ("_predict_next_with_tracker (rasa/core/processor.py",),
    "custom action calls (RemoteAction.run)": ("run (rasa/core/actions/action.py",),
    "spaCy redaction (supportbot/feedback/redaction.py)": ("(supportbot/feedback/redaction.py",),
    "profile store transactions (actions/base.py)": ("_run_in_transaction (actions/base.py",),
}
"""Named parts of a server's work, each matched by frame text: a sample counts for an area
when any frame of its stack matches (areas overlap: MiniLM is part of the NLU graph). Deep
recursions (jsonschema's) are cut by py-spy before their callers, so areas are matched on
any frame, not on a caller."""


def hot_spots(collapsed: Path, top: int = 12) -> dict[str, Any]:
    """The functions the samples were spent in (self time), our own functions by inclusive
    time and the :data:`AREAS`, from py-spy's collapsed-stack file, as shares of all samples."""
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    areas: dict[str, int] = defaultdict(int)
    total = 0
    for raw in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            if is_ours(frame):
                inclusive[frame] += count
        for area, patterns in AREAS.items():
            if any(pattern in frame for frame in frames for pattern in patterns):
                areas[area] += count

    def shares(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [(frame, round(count / total, 3)) for frame, count in ranked]

    return {
        "samples": total,
        "areas": shares(areas),
        "self": shares(own),
        "ours_inclusive": shares(inclusive),
    }


def print_profile(profile: dict[str, Any]) -> None:
    for name, spots in profile.items():
        print(f"  profile {name}: {spots['samples']} samples")
        for area, share in spots.get("areas", []):
            print(f"    area {share:6.1%}  {area}")
        for frame, share in spots["self"][:6]:
            print(f"    self {share:6.1%}  {frame[:140]}")
        for frame, share in spots["ours_inclusive"][:6]:
            print(f"    ours {share:6.1%}  {frame[:140]}")
