"""A postal address is told apart from the contact details the assistant can change."""

from __future__ import annotations

import pytest

from supportbot.postal_addresses import mentions_postal_address


@pytest.mark.parametrize(
    "text",
    [
        "12 King St, Toronto",
        "my address is 12 King St, Toronto",
        "Flat 3, 22 Baker Street, London",
        "zip code 90210",
        "please change my shipping address",
        "I'm moving house, update my address",
        "we moved to Leeds last month",
        "I live at 5 Rue de Rivoli now",
    ],
)
def test_postal_addresses(text: str) -> None:
    assert mentions_postal_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "kenji.new@example.com",
        "my email address is outdated",
        "update my email address to jane.doe@example.com",
        "update phone to +1 415 555 0142",
        "change my mobile number",
        "use my work email instead",
        "whatsapp",
        "my number is different now",
        "I have 2 cats",
        "order 1042 arrived on the 3rd",
    ],
)
def test_not_postal_addresses(text: str) -> None:
    assert not mentions_postal_address(text)
