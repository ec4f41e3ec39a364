"""How fast MiniLM embeds with 1 and 2 torch threads, in one process (not a test).

    HF_HUB_OFFLINE=1 PYTHONPATH=. .venvs/app/bin/python -m bench.torch_threads

Encodes the first 256 BANKING77 test texts with the production embedder after
``torch.set_num_threads(n)`` for n = 1, 2, 1, 2, 1, 2 and prints texts/s and the load
average: on an overloaded shared machine, threads spinning against each other can make two
threads slower than one (why ``bench.themes --torch-threads 1`` exists).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    import torch

    from bench.themes import DATA, load
    from supportbot.feedback.embedding import SentenceTransformerEmbedder
    from supportbot.settings import get_settings

    texts = load(DATA)[0][:256]
    embedder = SentenceTransformerEmbedder(model=get_settings().feedback_embedding_model)
    started = time.perf_counter()
    embedder.encode(["warm up"])
    print(f"model load {time.perf_counter() - started:.1f} s", flush=True)
    for threads in (1, 2, 1, 2, 1, 2):
        torch.set_num_threads(threads)
        started = time.perf_counter()
        embedder.encode(texts)
        rate = len(texts) / (time.perf_counter() - started)
        print(f"threads={threads} {rate:.1f} texts/s load={os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
