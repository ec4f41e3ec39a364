"""Whether a message is about a postal address, which the assistant cannot change.

The contact-details form changes an email address, a phone number or the preferred channel.
"Can you update my address?" followed by "12 King St, Toronto" used to be read as a failed
email address twice over; a delivery address belongs to each order (the help centre's
"Change or cancel an order"), so the form says so and lets go instead. The patterns are
deliberately narrow (a house number before a street word, a postcode or unit word, or the
address named as postal): an email address or phone number never matches them.
"""

from __future__ import annotations

import re

_STREET_WORDS = (
    "st|street|rd|road|ave|avenue|blvd|boulevard|lane|ln|dr|drive|way|ct|court|pl|place|sq|square|"
    "terrace|close|crescent|cres|highway|hwy|parkway|pkwy|strasse|straße"
)
_STREET = re.compile(rf"\b\d+[a-z]?,?\s+(?:[^\W\d_][\w'.-]*\s+){{0,4}}(?:{_STREET_WORDS})\b\.?", re.IGNORECASE)
_UNIT_OR_CODE = re.compile(
    r"\b(?:apt|apartment|suite|flat|unit)\s*#?\s*\d|\b(?:zip|postcode|post code|postal code)\b", re.IGNORECASE
)
_NAMED = re.compile(
    r"\b(?:shipping|delivery|postal|home|mailing|street|billing|house|physical)\s+address\b"
    r"|\baddress\s+(?:for|on)\s+(?:my\s+)?(?:orders?|deliver(?:y|ies)|shipping|parcels?|packages?)\b"
    r"|\b(?:i(?:'m| am)|we(?:'re| are))\s+moving\b|\bmoved\s+(?:house|home|to)\b"
    r"|\b(?:i|we)\s+(?:now\s+)?live\s+at\b|\bmy\s+(?:new\s+)?address\s+is\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+\.\w+|\be-?mail\b", re.IGNORECASE)


def mentions_postal_address(text: str) -> bool:
    """``True`` for "12 King St, Toronto", "my shipping address changed", "I'm moving house";
    ``False`` for anything that names an email address ("my email address is outdated")."""
    if _EMAIL.search(text):
        return False
    return bool(_STREET.search(text) or _UNIT_OR_CODE.search(text) or _NAMED.search(text))
