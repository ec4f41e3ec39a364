"""Delivery: claim due outbox rows, re-check them, send each through Rasa until it was rendered.

Per row, in separate short transactions (nothing is held open across HTTP calls):
1. claim with a lease (``outbox.claim_batch``);
2. if an earlier attempt may have reached Rasa (``attempts > 0``), read the
   conversation's tracker first: the rendered message is there → ``sent`` without
   sending, whatever changed since (a delivered message counts toward the caps
   even if the customer opted out a minute later);
3. re-check what may have changed since planning: consent (an opt-out in chat
   wins at once), renewal already done or cancelled, caps on messages sent,
   a message gone stale, quiet hours now (then: back to planned, later);
4. count the attempt (committed) and only then POST ``trigger_intent``;
5. ``sent`` only if Rasa's answer holds the message the action rendered for this
   row (``rasa_client.has_rendered_message``); otherwise back off and retry, or
   ``failed`` with the error.
docs/OUTREACH.md gives the argument, and says where this is at-least-once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach.config import OutreachConfig
from supportbot.outreach.outbox import (
    claim_batch,
    mark_failed,
    mark_sent,
    mark_skipped,
    record_attempt,
    release,
    sent_between,
)
from supportbot.outreach.rasa_client import (
    DeliveryError,
    NotRendered,
    RasaAuthError,
    RasaClient,
    RasaRejected,
    RasaUncertain,
)
from supportbot.outreach.rules import delivery_hold
from supportbot.outreach.timing import day_window, local_day, zone
from supportbot.store.feedback_models import PromoterInvitation
from supportbot.store.models import Consent, Customer, Subscription
from supportbot.store.outreach_models import OutboxMessage

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
STALE_AFTER_DAYS = 1
"""A message not delivered by the end of the local day after its own is skipped as stale:
a birthday greeting two days late, or a renewal reminder after the renewal, helps nobody."""


def new_worker_id() -> str:
    """Unique per process start: a restarted worker never mistakes its predecessor's claims for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    confirmed_from_tracker: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0
    lost_lease: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def merge(self, other: DeliveryReport) -> None:
        for name in ("claimed", "sent", "confirmed_from_tracker", "held", "retried", "failed", "lost_lease"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.update(other.skipped)


@dataclass(frozen=True)
class Verdict:
    skip: str | None = None
    hold_until: dt.datetime | None = None
    hold_reason: str | None = None


def pre_send_check(*, session: Session, row: OutboxMessage, now: dt.datetime, config: OutreachConfig) -> Verdict:
    """What changed since planning and stops or delays this message now."""
    customer = session.get(Customer, row.customer_id)
    if customer is None:
        return Verdict(skip="customer no longer exists")
    consent = session.get(Consent, (row.customer_id, row.kind))
    if consent is not None and not consent.granted:
        return Verdict(skip=f"consent withdrawn for {row.kind}")
    tz = zone(customer.time_zone)
    today = local_day(now, tz)
    if (today - row.local_day).days > STALE_AFTER_DAYS:
        return Verdict(skip=f"stale: planned for {row.local_day.isoformat()}, now {today.isoformat()}")
    if row.campaign in ("renewal_reminder", "retention_offer"):
        reason = renewal_no_longer_due(session=session, payload=json.loads(row.payload), today=today)
        if reason:
            return Verdict(skip=reason)
    if row.campaign == "programme_invitation" and asked_to_programme(session=session, customer_id=row.customer_id):
        return Verdict(skip="already asked to the programme")
    day_start, day_end = day_window(today, tz)
    if sent_between(session=session, customer_id=row.customer_id, start=day_start, end=day_end) >= config.caps.per_day:
        return Verdict(skip=f"daily cap of {config.caps.per_day} reached")
    week_start, week_end = day_window(today, tz, days=7)
    if sent_between(session=session, customer_id=row.customer_id, start=week_start, end=week_end) >= (
        config.caps.per_week
    ):
        return Verdict(skip=f"weekly cap of {config.caps.per_week} reached")
    hold = delivery_hold(
        now=now,
        time_zone=customer.time_zone,
        quiet_start=customer.quiet_hours_start,
        quiet_end=customer.quiet_hours_end,
    )
    if hold is not None:
        return Verdict(hold_until=hold, hold_reason=f"quiet hours in {customer.time_zone} at delivery")
    return Verdict()


def renewal_no_longer_due(*, session: Session, payload: dict[str, object], today: dt.date) -> str | None:
    """Why a planned renewal reminder must not go out any more, if it must not."""
    sub = session.scalar(select(Subscription).where(Subscription.id == payload.get("subscription_id")))
    if sub is None:
        return "subscription no longer exists"
    if sub.status == "cancelled":
        return "subscription cancelled"
    planned_for = str(payload.get("renews_on"))
    if sub.renews_on is None or sub.renews_on.isoformat() != planned_for:
        return f"already renewed: renews_on moved from {planned_for} to {sub.renews_on}"
    if sub.renews_on < today:
        return "renewal date has passed"
    return None


def asked_to_programme(*, session: Session, customer_id: str) -> bool:
    """Whether the customer answered the programme invitation since planning (in chat, after an NPS 9-10)."""
    query = select(PromoterInvitation.id).where(PromoterInvitation.customer_id == customer_id).limit(1)
    return session.scalar(query) is not None


def backoff(*, retries: int, config: OutreachConfig) -> dt.timedelta:
    d = config.delivery
    return dt.timedelta(seconds=min(d.retry_base_seconds * 2 ** max(retries - 1, 0), d.retry_max_seconds))


class Deliverer:
    """One worker's delivery loop state: its id, its Rasa client, the store and the clock.

    Holds a session *factory*, never a session: every step below opens its own
    short transaction.
    """

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: RasaClient,
        config: OutreachConfig,
        clock: Clock,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.config = config
        self.clock = clock
        self.worker = worker or new_worker_id()
        self.lease = dt.timedelta(seconds=config.delivery.lease_seconds)
        self.request_bound = dt.timedelta(seconds=config.delivery.timeouts.bound_seconds)

    def deliver_once(self, *, stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Claim one batch and deliver it; an empty report means nothing was due.

        ``stop`` is asked between rows (SIGTERM): rows claimed but not started are
        released at once, so a restart need not wait for their lease to expire.
        """
        report = DeliveryReport()
        with self.sessions.begin() as session:
            ids = claim_batch(
                session=session,
                worker=self.worker,
                now=self.clock(),
                lease=self.lease,
                limit=self.config.delivery.batch_size,
            )
        report.claimed = len(ids)
        for index, row_id in enumerate(ids):
            if stop is not None and stop():
                with self.sessions.begin() as session:
                    for left in ids[index:]:
                        release(session=session, row_id=left, worker=self.worker)
                break
            self.deliver_row(row_id, report)
        return report

    def deliver_all_due(
        self, *, stop: Callable[[], bool] | None = None, budget_seconds: float | None = None
    ) -> DeliveryReport:
        """Rounds of ``deliver_once`` until nothing is due, ``stop`` says so, or the time budget is spent."""
        total = DeliveryReport()
        started = time.monotonic()
        while not (stop is not None and stop()):
            report = self.deliver_once(stop=stop)
            total.merge(report)
            if report.claimed == 0 or (budget_seconds is not None and time.monotonic() - started > budget_seconds):
                break
        return total

    def deliver_row(self, row_id: int, report: DeliveryReport) -> None:
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != "sending" or row.claimed_by != self.worker:
                report.lost_lease += 1
                return
            conversation_id, intent, channel = row.conversation_id, row.intent, row.channel
            attempts, retries = row.attempts, row.retries
        try:
            if attempts > 0 and self._found_delivered(row_id, conversation_id, report):
                return
            if not self._checked_and_counted(row_id, report):
                return
            self.client.trigger_intent(
                conversation_id=conversation_id, intent=intent, outbox_id=row_id, output_channel=channel
            )
        except DeliveryError as exc:
            self._after_error(row_id, retries, exc, report)
            return
        with self.sessions.begin() as session:
            if mark_sent(session=session, row_id=row_id, worker=self.worker, now=self.clock(), confirmed_by="response"):
                report.sent += 1
            else:
                report.lost_lease += 1

    def _found_delivered(self, row_id: int, conversation_id: str, report: DeliveryReport) -> bool:
        """An earlier attempt may have got through: look in the conversation before anything else."""
        if not self.client.was_delivered(conversation_id=conversation_id, outbox_id=row_id):
            return False
        with self.sessions.begin() as session:
            if mark_sent(session=session, row_id=row_id, worker=self.worker, now=self.clock(), confirmed_by="tracker"):
                report.sent += 1
                report.confirmed_from_tracker += 1
                logger.info("outbox %s was already delivered (found in the tracker)", row_id)
            else:
                report.lost_lease += 1
        return True

    def _checked_and_counted(self, row_id: int, report: DeliveryReport) -> bool:
        """The pre-send checks, then the attempt counted (committed) before the POST; False: do not send."""
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != "sending" or row.claimed_by != self.worker:
                report.lost_lease += 1
                return False
            now = self.clock()
            verdict = pre_send_check(session=session, row=row, now=now, config=self.config)
            if verdict.skip:
                mark_skipped(session=session, row_id=row_id, worker=self.worker, reason=verdict.skip)
                report.skipped[verdict.skip.split(":")[0]] += 1
                logger.info("outbox %s skipped: %s", row_id, verdict.skip)
                return False
            if verdict.hold_until:
                release(
                    session=session,
                    row_id=row_id,
                    worker=self.worker,
                    not_before=verdict.hold_until,
                    hold_reason=verdict.hold_reason,
                )
                report.held += 1
                return False
            if not record_attempt(
                session=session, row_id=row_id, worker=self.worker, now=self.clock(), min_lease=self.request_bound
            ):
                report.lost_lease += 1
                release(session=session, row_id=row_id, worker=self.worker)
                return False
        return True

    def _after_error(self, row_id: int, retries: int, exc: DeliveryError, report: DeliveryReport) -> None:
        """Retry later, with backoff, unless retrying cannot help or has been tried enough.

        An unreachable Rasa never fails a row: nothing was sent, and the message
        waits (capped backoff) until Rasa is back. Errors after which the message
        may have arrived, and answers without the rendered message (the action server
        down or failing), count toward ``max_attempts``.
        """
        error = f"{type(exc).__name__}: {exc}"
        retries += 1
        with self.sessions.begin() as session:
            permanent = isinstance(exc, RasaRejected) and not isinstance(exc, RasaAuthError)
            exhausted = isinstance(exc, (RasaUncertain, NotRendered)) and retries >= self.config.delivery.max_attempts
            if permanent or exhausted:
                mark_failed(session=session, row_id=row_id, worker=self.worker, error=error)
                report.failed += 1
                logger.error("outbox %s failed: %s", row_id, error)
                return
            release(
                session=session,
                row_id=row_id,
                worker=self.worker,
                error=error,
                retries=retries,
                next_attempt_at=self.clock() + backoff(retries=retries, config=self.config),
            )
            report.retried += 1
        log = logger.error if isinstance(exc, RasaAuthError) else logger.warning
        log("outbox %s will be retried: %s", row_id, error)
