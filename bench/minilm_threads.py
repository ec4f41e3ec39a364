"""Benchmark (not a test): one served message through the NumPy MiniLM, with the BLAS library's
default threads and with one thread (rasa environment).

    .venvs/rasa/bin/python bench/minilm_threads.py [--repeats 200]

Runs in the **rasa** environment (it imports ``bot.nlu``, as the Rasa server does). It times
``SentenceEncoder.forward_ids`` on single short sentences, as ``SentenceEmbeddingFeaturizer``
runs them for each user message, alternating the two settings in rounds so that a change in
the machine's load hits both alike, and prints the median per sentence of each. This is the
measurement behind ``bot.nlu.sentence_featurizer.blas_threads``.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "hello",
    "what plan am I on?",
    "where is my order?",
    "how many loyalty points do I have?",
    "I'd like to give some feedback",
    "syncing between my phone and my laptop is slow in the mornings",
    "thanks, that's all",
]


def main() -> int:
    from threadpoolctl import ThreadpoolController

    from bot.nlu.minilm import SentenceEncoder, find_model_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="sentences per setting and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    encoder = SentenceEncoder(find_model_dir())
    ids = [[encoder.tokenizer.encode(s, encoder.max_length)] for s in SENTENCES]
    controller = ThreadpoolController()
    blas = [info for info in controller.info() if info.get("user_api") == "blas"]

    def per_sentence_ms(one_thread: bool) -> float:
        started = time.perf_counter()
        for i in range(args.repeats):
            if one_thread:
                with controller.limit(limits=1, user_api="blas"):
                    encoder.forward_ids(ids[i % len(ids)])
            else:
                encoder.forward_ids(ids[i % len(ids)])
        return (time.perf_counter() - started) / args.repeats * 1000

    for one_thread in (False, True):  # warm-up
        per_sentence_ms(one_thread)
    default, single = [], []
    for _ in range(args.rounds):
        default.append(per_sentence_ms(False))
        single.append(per_sentence_ms(True))
    result = {
        "blas": [{k: b.get(k) for k in ("internal_api", "num_threads", "version")} for b in blas],
        "default_threads_ms": round(statistics.median(default), 2),
        "one_thread_ms": round(statistics.median(single), 2),
        "rounds": args.rounds,
        "repeats": args.repeats,
    }
    result["ratio"] = round(result["default_threads_ms"] / result["one_thread_ms"], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
