"""Campaign configuration: ``config/campaigns.yml`` loaded into typed, validated settings.

Policy (offsets, caps, priorities, the tip library, perks) is configuration the
business changes; what each campaign *is* (its consent kind, EXTERNAL_* intent and
response, which must match domain.yml) is code, in ``CAMPAIGNS``. Validation runs
at start-up so a typo stops the scheduler with a message instead of silently
planning nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from supportbot.errors import ConfigurationError
from supportbot.intelligence.segment_catalogue import SEGMENTS_BY_CODE
from supportbot.services.perk_types import PercentOffPerk, Perk, PointsPerk
from supportbot.settings import PROJECT_ROOT
from supportbot.store.models import FEATURES, LOYALTY_TIERS, SEGMENTS

DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "campaigns.yml"
COMPUTED_SEGMENTS = tuple(SEGMENTS_BY_CODE)
"""Segment codes a campaign's ``audience`` may name (not the imported ``customers.segment``)."""


@dataclass(frozen=True)
class CampaignSpec:
    """The fixed facts of one campaign: what consent it needs and how Rasa renders it."""

    name: str
    kind: str
    """Consent kind, one of ``OUTREACH_KINDS``: what "stop these" after this message stops."""
    intent: str
    template: str


CAMPAIGNS: dict[str, CampaignSpec] = {
    spec.name: spec
    for spec in (
        CampaignSpec("renewal_reminder", "renewal", "EXTERNAL_renewal_reminder", "utter_outreach_renewal_reminder"),
        CampaignSpec("csat_followup", "feedback", "EXTERNAL_csat_followup", "utter_outreach_csat_followup"),
        CampaignSpec("birthday", "milestones", "EXTERNAL_milestone", "utter_outreach_birthday"),
        CampaignSpec("anniversary", "milestones", "EXTERNAL_milestone", "utter_outreach_anniversary"),
        CampaignSpec("loyalty_milestone", "milestones", "EXTERNAL_milestone", "utter_outreach_milestone"),
        CampaignSpec("surprise_perk", "perks", "EXTERNAL_perk", "utter_outreach_perk"),
        CampaignSpec("usage_tip", "tips", "EXTERNAL_usage_tip", "utter_outreach_usage_tip"),
        # Planned only through the next best action and the customer's feedback (outreach.next_actions):
        CampaignSpec("retention_offer", "renewal", "EXTERNAL_retention_offer", "utter_outreach_retention_offer"),
        CampaignSpec(
            "referral_invitation", "perks", "EXTERNAL_referral_invitation", "utter_outreach_referral_invitation"
        ),
        CampaignSpec(
            "programme_invitation", "feedback", "EXTERNAL_programme_invitation", "utter_outreach_programme_invitation"
        ),
    )
}


_Source = TypeVar("_Source")
_Derived = TypeVar("_Derived")
_DERIVED: dict[tuple[int, Callable[..., Any]], tuple[object, Any]] = {}


def derived(source: _Source, build: Callable[[_Source], _Derived]) -> _Derived:
    """``build(source)`` worked out once per configuration object (kept by identity, not value:
    the settings hold dicts and are not hashable). Planning asks the same questions of the
    configuration for every one of a million customers; the answers only change with a new
    object (``model_copy`` makes one), never under the same one: the settings are frozen.
    An entry keeps its source alive, so its id cannot be reused while the entry exists.
    ``build`` is part of the key: pass a module-level function, not a new lambda per call."""
    key = (id(source), build)
    entry = _DERIVED.get(key)
    if entry is None or entry[0] is not source:
        if len(_DERIVED) >= 64:
            _DERIVED.clear()
        entry = _DERIVED[key] = (source, build(source))
    return entry[1]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Campaign(_Strict):
    """What every campaign has: on/off, its priority, and the computed segments it may reach."""

    enabled: bool = True
    priority: int
    audience: tuple[str, ...] = ()
    """Segment codes (``supportbot.intelligence.segments.SEGMENTS``, the latest segments run) this
    campaign is limited to; empty = everyone. A customer in no segment yet is outside every audience."""

    @field_validator("audience")
    @classmethod
    def _known_segments(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if code not in COMPUTED_SEGMENTS]
        if unknown:
            raise ValueError(f"unknown segments {unknown}; known: {list(COMPUTED_SEGMENTS)}")
        return value


class QuietHours(_Strict):
    start: dt.time
    end: dt.time


class Caps(_Strict):
    per_day: int = Field(ge=0)
    per_week: int = Field(ge=0)


class Timeouts(_Strict):
    connect: float = Field(gt=0)
    read: float = Field(gt=0)
    write: float = Field(gt=0)
    pool: float = Field(gt=0)

    @property
    def bound_seconds(self) -> float:
        """The longest one HTTP call can take: httpx timeouts are per phase, so their sum."""
        return self.connect + self.read + self.write + self.pool


class DeliveryConfig(_Strict):
    batch_size: int = Field(default=10, ge=1, le=500)
    lease_seconds: float = Field(default=120, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    retry_base_seconds: float = Field(default=30, gt=0)
    retry_max_seconds: float = Field(default=1800, gt=0)
    poll_seconds: float = Field(default=5, gt=0)
    timeouts: Timeouts = Timeouts(connect=3, read=20, write=5, pool=5)

    @model_validator(mode="after")
    def _lease_outlives_a_request(self) -> DeliveryConfig:
        # The exactly-once argument needs every request a worker started to have
        # ended (answered, or abandoned and cancelled by Rasa) before its lease
        # expires and another worker may look at the row. Margin: twice the bound.
        if self.lease_seconds < 2 * self.timeouts.bound_seconds:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must be at least twice the HTTP time bound "
                f"({self.timeouts.bound_seconds}s = connect + read + write + pool)"
            )
        return self


class ScheduleConfig(_Strict):
    """How often the scheduler process runs its two jobs."""

    plan_every_minutes: float = Field(default=60, gt=0)
    deliver_every_seconds: float = Field(default=30, gt=0)


class RenewalConfig(_Campaign):
    offsets_days: tuple[int, ...]

    @field_validator("offsets_days")
    @classmethod
    def _positive_distinct(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 0 for v in value) or len(set(value)) != len(value):
            raise ValueError("offsets_days must be distinct, non-negative day counts")
        return tuple(sorted(value, reverse=True))


class CsatConfig(_Campaign):
    delay_hours: float = Field(ge=0)
    within_hours: float = Field(gt=0)


class GreetingConfig(_Campaign):
    perk: Perk | None = None
    """Granted with the greeting (supportbot.services.perk_types); the message says what was granted."""


class LoyaltyMilestoneConfig(_Campaign):
    window_days: int = Field(ge=1)
    tiers: dict[str, Perk] = {}
    order_counts: dict[int, Perk] = {}

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(LOYALTY_TIERS)
        if unknown:
            raise ValueError(f"unknown loyalty tiers {sorted(unknown)}; known: {list(LOYALTY_TIERS)}")
        return value


class SurprisePerkConfig(_Campaign):
    min_tenure_years: int = Field(ge=0)
    min_tier: str = "bronze"
    perk: Perk

    @field_validator("min_tier")
    @classmethod
    def _known_tier(cls, value: str) -> str:
        if value not in LOYALTY_TIERS:
            raise ValueError(f"unknown loyalty tier {value!r}")
        return value


class Tip(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    feature: str
    text: str = Field(min_length=1)
    requires_used: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_codes(self) -> Tip:
        for code in (self.feature, *self.requires_used):
            if code not in FEATURES:
                raise ValueError(f"tip {self.id}: unknown feature {code!r}")
        for segment in self.segments:
            if segment not in SEGMENTS:
                raise ValueError(f"tip {self.id}: unknown segment {segment!r}")
        return self


class TipsConfig(_Campaign):
    interval_days: int = Field(ge=1)
    tips: tuple[Tip, ...]

    @field_validator("tips")
    @classmethod
    def _unique_ids(cls, value: tuple[Tip, ...]) -> tuple[Tip, ...]:
        ids = [t.id for t in value]
        if len(ids) != len(set(ids)):
            raise ValueError("tip ids must be unique: a tip id is what 'never twice' is checked on")
        return value


class RetentionOfferConfig(_Campaign):
    """A personal offer before a risky renewal, for the customers whose next best action it is."""

    perk: Perk
    """Granted with the message (a discount on the coming renewals); the message says what was granted."""


class ReferralInvitationConfig(_Campaign):
    """Promoters the next best action chose are invited to refer a friend with their own code."""

    referrer_perk: Perk = PointsPerk(points=500)
    """What the referrer gets once a referral with their code is recorded (``services.referrals``)."""


class ProgrammeInvitationConfig(_Campaign):
    """Promoters not yet asked are invited to the advisory / beta programme (the co-creation list)."""

    promoter_within_days: int = Field(default=365, ge=1)
    """Only customers whose latest NPS answer, 9 or 10, is at most this old."""


class Campaigns(_Strict):
    renewal_reminder: RenewalConfig
    csat_followup: CsatConfig
    birthday: GreetingConfig
    anniversary: GreetingConfig
    loyalty_milestone: LoyaltyMilestoneConfig
    surprise_perk: SurprisePerkConfig
    usage_tip: TipsConfig
    retention_offer: RetentionOfferConfig = RetentionOfferConfig(
        enabled=False, priority=95, perk=PercentOffPerk(percent_off=20, months=3)
    )
    referral_invitation: ReferralInvitationConfig = ReferralInvitationConfig(enabled=False, priority=40)
    programme_invitation: ProgrammeInvitationConfig = ProgrammeInvitationConfig(enabled=False, priority=30)
    """The three campaigns of customer intelligence are off unless the file names them."""

    def priority_of(self, campaign: str) -> int:
        return int(getattr(self, campaign).priority)

    def enabled(self, campaign: str) -> bool:
        return bool(getattr(self, campaign).enabled)

    def audience_of(self, campaign: str) -> tuple[str, ...]:
        return tuple(getattr(self, campaign).audience)


class NextBestActionConfig(_Strict):
    """How planning uses the next best action (``supportbot.intelligence.next_action``)."""

    enabled: bool = True
    max_age_hours: float = Field(default=36, gt=0)
    """A decision older than this is not used (the daily refresh did not run): planning goes on without it."""
    priority: int = 150
    """The priority the campaign a customer's next best action names gets for that customer (above
    every campaign's own, so it goes first when the caps leave room for only some)."""


class OutreachConfig(_Strict):
    send_time: dt.time
    quiet_hours_default: QuietHours
    caps: Caps
    delivery: DeliveryConfig = DeliveryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    campaigns: Campaigns
    next_best_action: NextBestActionConfig = NextBestActionConfig()

    def with_delivery(self, **changes: Any) -> OutreachConfig:
        """A copy with some delivery settings replaced (command-line overrides), re-validated."""
        delivery = DeliveryConfig.model_validate({**self.delivery.model_dump(), **changes})
        return self.model_copy(update={"delivery": delivery})


def parse_config(data: Any, *, source: str = "<data>") -> OutreachConfig:
    try:
        return OutreachConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"{source}: invalid outreach configuration: {problems}") from exc


def load_config(path: Path | None = None) -> OutreachConfig:
    """Read and validate the campaign file (``config/campaigns.yml`` unless given)."""
    path = path or DEFAULT_CONFIG_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"outreach configuration not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, source=str(path))
