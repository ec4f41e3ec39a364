"""Telling a message in another language from English the assistant could not place (the real
py3langid model; supportbot/language.py)."""

from __future__ import annotations

import pytest

from supportbot.language import foreign_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("necesito ayuda con mi pedido", "es"),
        ("je voudrais annuler mon abonnement", "fr"),
        ("wo ist meine bestellung", "de"),
        ("Ik wil mijn abonnement opzeggen", "nl"),
        ("Quero cancelar a minha assinatura", "pt"),
        ("注文がまだ届いていません", "ja"),
    ],
)
def test_a_message_in_another_language_is_named(text: str, language: str) -> None:
    assert foreign_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "my package hasn't arrived",
        "how do I export my notes to pdf",
        "cancel my sub pls",
        "wats my plan",
        "omg ur app sucks",
        "i want 2 talk 2 sum1",
        "asdf jkl qwer",
        "hola",  # too short to judge: a greeting the NLU reads anyway
        "meh",
        "/greet",
    ],
)
def test_english_slang_typos_and_short_messages_are_not_called_foreign(text: str) -> None:
    assert foreign_language(text) is None
