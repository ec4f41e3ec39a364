"""Predictions of a trained Rasa NLU model, exactly as the server makes them (rasa environment).

    .venvs/rasa/bin/python bench/rasa_predict.py MODEL.tar.gz EXAMPLES.json OUT.jsonl

Runs in the **rasa** environment (Python 3.10) and imports only Rasa and the standard library;
``bench/nlu.py`` (app environment) starts it. Why not ``rasa test nlu``: its intent evaluation
*undoes* the FallbackClassifier's ``nlu_fallback`` before scoring (``rasa.nlu.test`` calls
``undo_fallback_prediction``), so a pipeline's out-of-scope detection by confidence is never
counted, and low-confidence guesses the assistant would not act on count as answers. Here
every text goes through ``Agent.parse_message``, the call the Rasa server makes for a user
message, and both the final intent (``nlu_fallback`` included) and the classifier's own top
intent are written, one JSON object per line.

EXAMPLES.json: a list of ``[text, gold intent]`` pairs.
"""

import asyncio
import json
import sys
from pathlib import Path

FALLBACK = "nlu_fallback"


async def predict(model: Path, examples: list, out: Path) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path=str(model))
    with out.open("w", encoding="utf-8") as handle:
        for text, gold in examples:
            result = await agent.parse_message(text)
            intent = result.get("intent") or {}
            ranking = [r for r in result.get("intent_ranking") or [] if r.get("name") != FALLBACK]
            top = ranking[0] if ranking else {}
            row = {
                "text": text,
                "gold": gold,
                "predicted": intent.get("name") or FALLBACK,
                "top": top.get("name"),
                "confidence": top.get("confidence"),
                "second_confidence": ranking[1].get("confidence") if len(ranking) > 1 else None,
            }
            handle.write(json.dumps(row) + "\n")


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, examples_path, out = (Path(a) for a in sys.argv[1:])
    examples = json.loads(examples_path.read_text(encoding="utf-8"))
    asyncio.run(predict(model, examples, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
