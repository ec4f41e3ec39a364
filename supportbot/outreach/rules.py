"""Rules that protect the customer: consent, priorities, frequency caps, quiet hours (pure).

Applied to one customer's candidates for one local day, in this order:
1. a candidate already in the outbox (same idempotency key) is left alone;
2. consent per kind: a withdrawn kind is skipped (no row = granted);
3. priority: highest first, so when the cap allows only some, the important ones go;
4. caps per local day and per 7 local days, counted on messages sent plus those
   already planned for the window (a planned message will be sent);
5. quiet hours: the send time is pushed to the end of the customer's quiet hours,
   the message is never dropped for it.
Every skip carries its reason; the planner stores skipped rows too, so "why did
I not get my birthday message?" has an answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from supportbot.outreach.config import CAMPAIGNS, Campaigns, OutreachConfig, derived
from supportbot.outreach.selection import Candidate, CustomerFacts
from supportbot.outreach.timing import local_moment, planned_send_time, release_time, zone


@dataclass(frozen=True)
class History:
    """What one customer already has in the outbox around the day being planned."""

    sent_day: int = 0
    sent_week: int = 0
    pending_day: int = 0
    """Rows planned or being sent for this local day."""
    pending_week: int = 0
    existing_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    status: str
    """``planned`` or ``skipped``."""
    not_before: dt.datetime
    priority: int
    skip_reason: str | None = None
    hold_reason: str | None = None


def consent_granted(consents: Mapping[str, bool], kind: str) -> bool:
    """No row means the business default: granted (the Consent model's documented rule)."""
    return bool(consents.get(kind, True))


def send_time_for(
    candidate: Candidate, facts: CustomerFacts, *, day: dt.date, config: OutreachConfig
) -> tuple[dt.datetime, str | None]:
    """(not_before in UTC, hold reason): the day's send time or the event's due time, out of quiet hours."""
    if candidate.due_at is None:
        return _day_send_time(day, config.send_time, facts.time_zone, facts.quiet_start, facts.quiet_end)
    tz = zone(facts.time_zone)
    base = candidate.due_at
    not_before = release_time(base, tz, start=facts.quiet_start, end=facts.quiet_end)
    return not_before, _hold(not_before, base, facts.time_zone, facts.quiet_start, facts.quiet_end)


def _hold(not_before: dt.datetime, base: dt.datetime, time_zone: str, start: dt.time, end: dt.time) -> str | None:
    return f"quiet hours {start:%H:%M}-{end:%H:%M} {time_zone}" if not_before > base else None


@lru_cache(maxsize=65536)
def _day_send_time(
    day: dt.date, send_time: dt.time, time_zone: str, quiet_start: dt.time, quiet_end: dt.time
) -> tuple[dt.datetime, str | None]:
    """``send_time_for`` of a message due on the day (not at an event's moment): it depends only
    on these five, and a day's plan asks the same few hundred combinations a million times."""
    tz = zone(time_zone)
    base = local_moment(day, send_time, tz)
    not_before = planned_send_time(day, tz, send_time=send_time, quiet_start=quiet_start, quiet_end=quiet_end)
    return not_before, _hold(not_before, base, time_zone, quiet_start, quiet_end)


def _configured_priorities(campaigns: Campaigns) -> dict[str, int]:
    return {name: campaigns.priority_of(name) for name in CAMPAIGNS}


def decide(
    facts: CustomerFacts,
    candidates: list[Candidate],
    *,
    day: dt.date,
    config: OutreachConfig,
    history: History,
    priorities: Mapping[str, int] | None = None,
) -> list[Decision]:
    """Planned or skipped (with reason) for each new candidate, highest priority first.

    ``priorities`` overrides the configured priority of some campaigns for this customer (the
    next best action's campaign goes first: ``outreach.next_actions.priorities``).
    """
    caps = config.caps
    room_day = caps.per_day - history.sent_day - history.pending_day
    room_week = caps.per_week - history.sent_week - history.pending_week
    existing = history.existing_keys
    fresh = [c for c in candidates if c.key not in existing] if existing else candidates
    priority_of = derived(config.campaigns, _configured_priorities)
    if priorities:
        priority_of = {**priority_of, **priorities}
    if len(fresh) > 1:
        fresh = sorted(fresh, key=lambda c: (-priority_of[c.campaign], c.campaign, c.occasion))
    consents = facts.consents
    decisions = []
    for candidate in fresh:
        priority = priority_of[candidate.campaign]
        not_before, hold = send_time_for(candidate, facts, day=day, config=config)
        kind = CAMPAIGNS[candidate.campaign].kind
        skip = None
        if consents and not consent_granted(consents, kind):
            skip = f"consent withdrawn for {kind}"
        elif room_day <= 0:
            skip = f"daily cap of {caps.per_day} reached"
        elif room_week <= 0:
            skip = f"weekly cap of {caps.per_week} reached"
        if skip is None:
            room_day -= 1
            room_week -= 1
            decisions.append(Decision(candidate, "planned", not_before, priority, hold_reason=hold))
        else:
            decisions.append(Decision(candidate, "skipped", not_before, priority, skip_reason=skip))
    return decisions


def delivery_hold(*, now: dt.datetime, time_zone: str, quiet_start: dt.time, quiet_end: dt.time) -> dt.datetime | None:
    """At delivery: if ``now`` is in the customer's quiet hours, the moment they end (else None).

    Planning already placed ``not_before`` outside quiet hours; this catches a
    message that became sendable late (Rasa was down, a backlog) at night.
    """
    released = release_time(now, zone(time_zone), start=quiet_start, end=quiet_end)
    return released if released > now else None
