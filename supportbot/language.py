"""Which language a message the assistant could not place is in, when it is clearly not English.

The assistant understands English only. "Necesito ayuda con mi pedido" used to get "Sorry, I'm
not sure I understood that. Could you rephrase it?", which a Spanish speaker cannot act on.
When the NLU could not place a message, this says whether it is confidently in another
language, so the reply can say so (in that language where we have the sentence) and offer a
person instead.

py3langid (a maintained fork of langid.py, Lui & Baldwin 2012, BSD; its model ships inside the
package, 97 languages, about 0.1 ms a message) rather than our own word lists: it is the field's
standard light identifier, and needs no download. Short messages are where identifiers go wrong
("meh", "thx", "hola" are all guessed as something), so only messages of three words or more
(or eight characters of a script without spaces) are judged, only among the languages below,
and only at a high probability.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "sv", "da", "tr", "ja", "zh", "ko", "ru", "ar")
"""The languages judged between (English among them): the customers' likely ones."""
NAMES = {
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "tr": "Turkish",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "ru": "Russian",
    "ar": "Arabic",
}
ONLY_ENGLISH = {
    # "Sorry, for now I can only help in English.", in the customer's language where we have it.
    "es": "Lo siento, por ahora solo puedo ayudarte en inglés.",
    "fr": "Désolé, pour l'instant je ne peux vous aider qu'en anglais.",
    "de": "Entschuldigung, im Moment kann ich nur auf Englisch helfen.",
    "it": "Mi dispiace, per ora posso aiutarti solo in inglese.",
    "pt": "Desculpe, por enquanto só posso ajudar em inglês.",
    "nl": "Sorry, ik kan voorlopig alleen in het Engels helpen.",
}
MIN_PROBABILITY = 0.8
MIN_WORDS = 3
MIN_CHARS_WITHOUT_SPACES = 8
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def warm_up() -> None:
    """Load the model (about 0.7 s) before the first customer needs it."""
    _identifier()


def _long_enough(text: str) -> bool:
    words = text.split()
    if len(words) >= MIN_WORDS:
        return True
    return sum(1 for ch in text if ord(ch) > 0x2E80) >= MIN_CHARS_WITHOUT_SPACES  # CJK and similar scripts


def foreign_language(text: str) -> str | None:
    """The language code of ``text`` when it is confidently not English, else None."""
    said = text.strip()
    if not said or said.startswith("/") or not _long_enough(said):
        return None
    with _lock:  # the identifier keeps no state per call, but its numpy buffers are shared
        language, probability = _identifier().classify(said)
    if language == "en" or probability < MIN_PROBABILITY or language not in NAMES:
        return None
    return str(language)
