"""Each campaign's selection rule on hand-built facts and a fixed day."""

from __future__ import annotations

import datetime as dt
from dataclasses import FrozenInstanceError, fields, replace
from typing import Any

import pytest

from supportbot.outreach.selection import (
    CustomerFacts,
    Exclusion,
    LinkedIdentity,
    Route,
    SubscriptionFacts,
    assembled,
    choose_route,
    perk_day_of_year,
    select_candidates,
)
from tests.scheduler.builders import DAY, NOW, config

CONFIG = config()
PLUS = frozenset({"notes", "sync", "reminders", "templates", "sharing", "calendar"})
PRO = PLUS | {"offline", "automation", "api"}


def facts(**changes: Any) -> CustomerFacts:
    """A customer with nothing due on DAY: every feature of their plan already in use."""
    base = CustomerFacts(
        customer_id="C1",
        first_name="Ada",
        time_zone="UTC",
        quiet_start=dt.time(21, 0),
        quiet_end=dt.time(8, 0),
        customer_since=dt.date(2024, 6, 1),
        segment="consumer",
        route=Route("cust:C1:web", "socketio"),
        subscription=SubscriptionFacts(
            id=7,
            plan_code="plus",
            plan_name="Plus",
            plan_features=PLUS,
            status="active",
            renews_on=dt.date(2026, 5, 1),
            auto_renew=True,
            next_price_cents=1200,
            currency="USD",
        ),
        features_used=PLUS,
    )
    return replace(base, **changes)


def campaigns(f: CustomerFacts, day: dt.date = DAY, now: dt.datetime = NOW) -> dict[str, Any]:
    found, _ = select_candidates(f, day=day, now=now, config=CONFIG)
    return {c.campaign: c for c in found}


def test_nothing_due_for_a_customer_with_no_occasion() -> None:
    assert campaigns(facts()) == {}


@pytest.mark.parametrize("offset", [14, 3, 1])
def test_renewal_reminder_at_each_configured_offset(offset: int) -> None:
    sub = replace(facts().subscription, renews_on=DAY + dt.timedelta(days=offset))  # type: ignore[type-var]
    reminder = campaigns(facts(subscription=sub))["renewal_reminder"]
    assert reminder.occasion == f"sub7:{sub.renews_on.isoformat()}:{offset}d"
    assert reminder.payload["price"] == "$12.00"
    assert reminder.payload["when"] == ("tomorrow" if offset == 1 else f"in {offset} days")
    assert reminder.key == f"C1:renewal_reminder:{reminder.occasion}"


@pytest.mark.parametrize("offset", [0, 2, 4, 13, 15])
def test_no_renewal_reminder_between_offsets(offset: int) -> None:
    sub = replace(facts().subscription, renews_on=DAY + dt.timedelta(days=offset))  # type: ignore[type-var]
    assert "renewal_reminder" not in campaigns(facts(subscription=sub))


def test_cancelled_plan_gets_no_reminder_and_says_why() -> None:
    sub = replace(facts().subscription, renews_on=DAY + dt.timedelta(days=3), status="cancelled")  # type: ignore[type-var]
    found, excluded = select_candidates(facts(subscription=sub), day=DAY, now=NOW, config=CONFIG)
    assert found == []
    assert excluded == [Exclusion("C1", "renewal_reminder", "subscription is cancelled")]


def test_auto_renew_off_still_gets_the_reminder_it_needs_most() -> None:
    sub = replace(facts().subscription, renews_on=DAY + dt.timedelta(days=3), auto_renew=False)  # type: ignore[type-var]
    assert "auto-renew is off" in campaigns(facts(subscription=sub))["renewal_reminder"].reason


def test_usage_tip_teaches_an_unused_feature_of_the_plan_building_on_habits() -> None:
    tip = campaigns(facts(features_used=frozenset({"notes", "sync"})))["usage_tip"]
    # templates-meeting-notes and reminders-from-notes both build on notes; the library order decides.
    assert tip.content_ref == "templates-meeting-notes"
    assert tip.occasion == DAY.isoformat()
    assert "Templates" in tip.reason


def test_usage_tip_never_repeats_and_respects_plan_and_segment() -> None:
    f = facts(features_used=frozenset({"notes", "sync"}), tips_taken=frozenset({"templates-meeting-notes"}))
    assert campaigns(f)["usage_tip"].content_ref == "reminders-from-notes"
    # A Pro customer who uses sync learns about offline mode (a Pro feature, building on sync).
    pro = replace(facts().subscription, plan_code="pro", plan_name="Pro", plan_features=PRO)  # type: ignore[type-var]
    assert campaigns(facts(subscription=pro, features_used=frozenset({"sync"})))["usage_tip"].content_ref == (
        "offline-for-travel"
    )
    # Sharing is only suggested to teams.
    team = facts(features_used=PLUS - {"sharing"})
    assert "usage_tip" not in campaigns(team)
    assert campaigns(replace(team, segment="small_business"))["usage_tip"].content_ref == "sharing-team"


def test_usage_tip_waits_for_the_interval_and_needs_a_live_plan() -> None:
    f = facts(features_used=frozenset({"notes", "sync"}))
    assert "usage_tip" not in campaigns(replace(f, last_tip_day=DAY - dt.timedelta(days=6)))
    assert "usage_tip" in campaigns(replace(f, last_tip_day=DAY - dt.timedelta(days=7)))
    cancelled = replace(f.subscription, status="cancelled")  # type: ignore[type-var]
    assert "usage_tip" not in campaigns(replace(f, subscription=cancelled))


def test_birthday_and_anniversary_on_their_day() -> None:
    found = campaigns(facts(birthday=dt.date(1990, 3, 10), customer_since=dt.date(2023, 3, 10)))
    assert found["birthday"].occasion == "birthday:2026"
    assert found["anniversary"].payload["years"] == 3
    assert found["anniversary"].occasion == "anniversary:2026"
    assert campaigns(facts(birthday=dt.date(1990, 3, 11))) == {}


def test_29_february_birthday_greeted_on_28_february_in_2026_and_on_the_day_in_2028() -> None:
    leapling = facts(birthday=dt.date(1996, 2, 29))
    assert "birthday" in campaigns(leapling, day=dt.date(2026, 2, 28))
    assert "birthday" not in campaigns(leapling, day=dt.date(2026, 3, 1))
    assert "birthday" in campaigns(leapling, day=dt.date(2028, 2, 29))
    assert "birthday" not in campaigns(leapling, day=dt.date(2028, 2, 28))


def test_loyalty_tier_reached_this_week_with_its_perk_once() -> None:
    found = campaigns(facts(loyalty_tier="gold", tier_since=DAY - dt.timedelta(days=2)))["loyalty_milestone"]
    assert found.occasion == "tier:gold"
    assert found.payload["perk"] == {"reward": "Lumen sticker pack"}  # the perk's config: granted at delivery
    assert "loyalty_milestone" not in campaigns(facts(loyalty_tier="gold", tier_since=DAY - dt.timedelta(days=30)))
    assert "loyalty_milestone" not in campaigns(facts(loyalty_tier="bronze", tier_since=DAY))


def test_order_count_milestone_only_when_crossed_recently() -> None:
    found = campaigns(facts(orders_total=10, orders_recent=1))["loyalty_milestone"]
    assert found.occasion == "orders:10"
    assert "10th order" in found.payload["milestone"]
    assert "loyalty_milestone" not in campaigns(facts(orders_total=11, orders_recent=0))
    assert campaigns(facts(orders_total=26, orders_recent=17))["loyalty_milestone"].occasion == "orders:25"


def test_surprise_perk_on_the_customers_own_day_for_loyal_customers() -> None:
    loyal = facts(customer_id="C42", customer_since=dt.date(2020, 1, 1), loyalty_tier="silver")
    perk_day = dt.date(2026, 1, 1) + dt.timedelta(days=perk_day_of_year("C42") - 1)
    assert campaigns(loyal, day=perk_day)["surprise_perk"].occasion == "perk:2026"
    assert "surprise_perk" not in campaigns(loyal, day=perk_day + dt.timedelta(days=1))
    assert "surprise_perk" not in campaigns(replace(loyal, loyalty_tier="bronze"), day=perk_day)
    assert "surprise_perk" not in campaigns(replace(loyal, customer_since=dt.date(2025, 1, 1)), day=perk_day)


def test_a_discount_perk_is_planned_only_for_a_subscription_it_can_come_off() -> None:
    """The shipped surprise perk is a free month: nothing to give a customer without a running plan,
    and that message is only the perk, so it is not planned; a birthday's points need no plan."""
    loyal = facts(customer_id="C42", customer_since=dt.date(2020, 1, 1), loyalty_tier="silver")
    perk_day = dt.date(2026, 1, 1) + dt.timedelta(days=perk_day_of_year("C42") - 1)
    assert campaigns(loyal, day=perk_day)["surprise_perk"].payload["perk"] == {"free_months": 1}
    assert loyal.subscription is not None
    cancelled = replace(loyal, subscription=replace(loyal.subscription, status="cancelled"))
    assert "surprise_perk" not in campaigns(cancelled, day=perk_day)
    assert "surprise_perk" not in campaigns(replace(loyal, subscription=None), day=perk_day)
    birthday = facts(subscription=None, birthday=dt.date(1990, 3, 10))
    assert campaigns(birthday)["birthday"].payload["perk"] == {"points": 200}


def test_csat_follow_up_after_a_closed_handoff_is_due_after_the_delay() -> None:
    closed = NOW - dt.timedelta(hours=1)
    found = campaigns(facts(closed_handoffs=((55, closed),)))["csat_followup"]
    assert found.occasion == "handoff55"
    assert found.due_at == closed + dt.timedelta(hours=CONFIG.campaigns.csat_followup.delay_hours)
    too_old = NOW - dt.timedelta(hours=CONFIG.campaigns.csat_followup.within_hours + 1)
    assert "csat_followup" not in campaigns(facts(closed_handoffs=((56, too_old),)))


def test_linked_messaging_identity_wins_over_the_website() -> None:
    linked = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    identities = (
        LinkedIdentity("telegram", "111", dt.datetime(2026, 1, 5, tzinfo=dt.UTC), linked),
        LinkedIdentity("slack", "U22", dt.datetime(2026, 2, 5, tzinfo=dt.UTC), linked),
    )
    on = frozenset({"telegram", "slack"})
    assert choose_route(customer_id="C1", preferred_channel="web", identities=(), channels_on=on) == Route(
        "cust:C1:web", "socketio"
    )
    assert choose_route(customer_id="C1", preferred_channel="web", identities=identities, channels_on=on) == Route(
        "U22", "slack"
    )
    assert choose_route(customer_id="C1", preferred_channel="telegram", identities=identities, channels_on=on) == Route(
        "111", "telegram"
    )


def test_links_on_channels_that_are_switched_off_are_not_used() -> None:
    linked = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    identities = (LinkedIdentity("telegram", "111", None, linked), LinkedIdentity("slack", "U22", None, linked))
    route = choose_route(
        customer_id="C1", preferred_channel="telegram", identities=identities, channels_on=frozenset({"slack"})
    )
    assert route == Route("U22", "slack")
    route = choose_route(customer_id="C1", preferred_channel="telegram", identities=identities, channels_on=frozenset())
    assert route == Route("cust:C1:web", "socketio")


def test_assembled_facts_are_the_dataclasses_own_and_need_every_field() -> None:
    """``assembled`` (planning's fast constructor) builds exactly what the frozen dataclass builds."""
    given = facts(birthday=dt.date(1990, 3, 10), consents={"tips": False})
    values = {f.name: getattr(given, f.name) for f in fields(CustomerFacts)}
    built = assembled(CustomerFacts, **values)
    assert built == given and repr(built) == repr(given) and hash(built.subscription) == hash(given.subscription)
    assert campaigns(built) == campaigns(given)
    with pytest.raises(FrozenInstanceError):
        built.first_name = "Bob"  # type: ignore[misc]
    values.pop("last_tip_day")
    with pytest.raises(TypeError, match="last_tip_day"):
        assembled(CustomerFacts, **values)
    with pytest.raises(TypeError, match="colour"):
        assembled(CustomerFacts, **values, last_tip_day=None, colour="red")


def test_skipping_campaigns_with_no_occasion_that_day_changes_no_selection() -> None:
    """``select_candidates`` only leaves out a campaign's call where the campaign's own first test
    rules it out: over every day of a year and a leap February it selects exactly what calling
    every campaign's function selects."""
    from supportbot.outreach import selection

    every = (selection.birthday, selection.anniversary, selection.loyalty_milestone, selection.surprise_perk)
    sub = facts().subscription
    assert sub is not None
    people = [
        facts(
            customer_id=cid,
            birthday=born,
            customer_since=since,
            loyalty_tier="gold",
            tier_since=tier_since,
            orders_total=orders,
            orders_recent=recent,
            subscription=replace(sub, renews_on=renews, status=status),
            features_used=frozenset({"notes"}),
        )
        for cid, born, since, tier_since, orders, recent, renews, status in (
            (
                "C1",
                dt.date(1988, 2, 29),
                dt.date(2020, 2, 29),
                dt.date(2026, 2, 20),
                10,
                1,
                dt.date(2026, 3, 3),
                "active",
            ),
            ("C2", dt.date(1990, 3, 10), dt.date(2021, 3, 10), None, 0, 0, dt.date(2026, 3, 24), "cancelled"),
            ("C7", dt.date(1975, 12, 31), dt.date(2019, 1, 1), dt.date(2026, 12, 25), 5, 5, None, "trial"),
            (
                "C4",
                dt.date(1980, 6, 1),
                dt.date(2024, 6, 1),
                dt.date(2026, 6, 1),
                3,
                0,
                dt.date(2026, 6, 15),
                "past_due",
            ),
            ("C9", None, dt.date(2015, 2, 28), dt.date(2025, 1, 1), 100, 0, dt.date(2028, 3, 1), "active"),
        )
    ]
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)]
    days += [dt.date(2028, 2, 27) + dt.timedelta(days=n) for n in range(4)]
    for day in days:
        for f in people:
            reminder = selection.renewal_reminder(f, day, CONFIG)
            expected = [reminder] if isinstance(reminder, selection.Candidate) else []
            expected += [c for select in (*every, selection.usage_tip) if (c := select(f, day, CONFIG)) is not None]
            excluded = [reminder] if isinstance(reminder, Exclusion) else []
            assert select_candidates(f, day=day, now=NOW, config=CONFIG) == (expected, excluded), (day, f.customer_id)
    found = {
        c.campaign for day in days for f in people for c in select_candidates(f, day=day, now=NOW, config=CONFIG)[0]
    }
    assert found >= {"renewal_reminder", "birthday", "anniversary", "loyalty_milestone", "usage_tip"}
