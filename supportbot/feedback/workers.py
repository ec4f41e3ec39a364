"""Running torch work on a few Python threads, one torch thread each (app environment).

Why not ``torch.set_num_threads(2)``: on this 2-core machine shared with other work,
OpenMP's threads wait for each other at every operator, spinning while one of them is
descheduled. Embedding all 23,700 CLINC150 texts took 231 CPU s (409 s wall) with two torch
threads at load 8 against 57 CPU s with one (docs/BENCHMARKS.md). Independent pieces on
separate Python threads (torch releases the GIL inside each operator) use both cores when
they are free and cost no more CPU than one thread when they are not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def single_threaded(function: Callable[[Item], Result]) -> Callable[[Item], Result]:
    """``function`` with torch's intra-op threads set to one on the thread that runs it."""

    def run(item: Item) -> Result:
        import torch

        # OpenMP's thread count is per calling thread: this does not change the caller's.
        torch.set_num_threads(1)
        return function(item)

    return run


def map_on_threads(function: Callable[[Item], Result], items: Sequence[Item], *, workers: int) -> list[Result]:
    """``[function(item) for item in items]``, on up to ``workers`` threads when there is more than one item."""
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="torch-worker") as pool:
        return list(pool.map(single_threaded(function), items))
