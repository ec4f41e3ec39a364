"""Reading query parameters and path values: bounded, and refused with a message when wrong.

A value the console cannot use is answered with a 400 page that says which parameter and
what was expected, never dropped silently (an export that ignored a bad filter would export
more than was asked for) and never passed on to the database where it could overflow a
driver (``page=99999999999999999999``, ``until=9999-12-31``: security review, issue 14
finding 14).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

EARLIEST_DAY = dt.date(1970, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)
"""Dates the console accepts: everything a tracker timestamp can hold, with room for ``+ 1 day``."""
MAX_PAGE = 100_000
MAX_SQL_INT = 2**63 - 1
"""The largest id any of the databases stores; larger path values are refused before SQL sees them."""
MAX_QUERY_STRING = 4096
"""Bytes of query string the console reads at all (its longest real one is a filtered list, ~600)."""


class BadParameter(Exception):
    """A query parameter or form value the console cannot use; shown to the user (400)."""


def text(params: Mapping[str, str], name: str, *, max_length: int) -> str:
    """The stripped value of ``name`` ('' when absent), refused when longer than ``max_length``."""
    value = str(params.get(name, "")).strip()
    if len(value) > max_length:
        raise BadParameter(f"{name}: at most {max_length} characters")
    return value


def day(name: str, value: str) -> dt.date:
    """An ISO date between ``EARLIEST_DAY`` and ``LATEST_DAY``."""
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}: not a date (YYYY-MM-DD)") from None
    if not EARLIEST_DAY <= parsed <= LATEST_DAY:
        raise BadParameter(f"{name}: must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}")
    return parsed


def page_number(params: Mapping[str, str]) -> int:
    """``?page=``: a whole number from 1 to ``MAX_PAGE`` (1 when absent)."""
    value = str(params.get("page", "")).strip()
    if not value:
        return 1
    if len(value) > 6 or not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadParameter(f"page: expected a whole number from 1 to {MAX_PAGE}")
    return int(value)
