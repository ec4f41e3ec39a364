"""What a perk is, as configuration and offer terms (pure: no store; granting is ``services.perks``).

    {points: 200}                      loyalty points
    {percent_off: 10, months: 1}       K % off the next M months' renewals
    {free_months: 1}                   the next M months free
    {reward: "Lumen Pen case"}         a reward the customer can claim

Each shape forbids unknown keys, so exactly one of them fits a valid entry and a typo
is an error naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from supportbot.errors import InvalidRequestError

DISCOUNTABLE_STATUSES = ("active", "trial", "past_due")
"""Subscriptions a discount can be attached to (it needs a next renewal to come off)."""


class _Perk(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointsPerk(_Perk):
    points: int = Field(ge=1, le=100_000)


class PercentOffPerk(_Perk):
    percent_off: int = Field(ge=1, le=99)
    months: int = Field(default=1, ge=1, le=24)


class FreeMonthPerk(_Perk):
    free_months: int = Field(ge=1, le=12)


class RewardPerk(_Perk):
    reward: str = Field(min_length=1, max_length=120)


Perk = PointsPerk | PercentOffPerk | FreeMonthPerk | RewardPerk
_PERK: TypeAdapter[Perk] = TypeAdapter(Perk)


def parse_perk(data: Any) -> Perk:
    """A perk from its configuration form; ``InvalidRequestError`` names what is wrong."""
    try:
        return _PERK.validate_python(data)
    except ValidationError as exc:
        wanted = "points, percent_off (+ months), free_months or reward"
        raise InvalidRequestError(f"not a perk: {data!r} (want one of {wanted})") from exc


def perk_config(perk: Perk) -> dict[str, Any]:
    """The configuration form again (what an outbox row's payload carries)."""
    return perk.model_dump()
