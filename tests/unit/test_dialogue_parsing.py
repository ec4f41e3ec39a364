"""Reading replies in conversation: typed button titles, values inside sentences, leaving, corrections."""

from __future__ import annotations

import datetime as dt

import pytest

from supportbot.buttons import Button, match_button, parse_payload, payload
from supportbot.errors import InvalidRequestError
from supportbot.form_replies import is_leave, problem_description, strip_correction
from supportbot.parsing import (
    BirthdayParts,
    find_birthday,
    find_contact_value,
    find_day,
    find_outreach_kind,
    find_reward,
    find_time_zone,
    find_year,
)

TODAY = dt.date(2026, 11, 22)
OFFER = [
    Button("Keep it with 20% off", '/affirm{"change_request": "7"}'),
    Button("Switch to Plus", '/change_plan{"change_request": "7", "plan": "plus"}'),
    Button("No, cancel", '/deny{"change_request": "7"}'),
]
RENEW = [Button("Yes, renew now", "/affirm"), Button("No, don't renew", "/deny")]


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("No, cancel", "No, cancel"),
        ("no cancel", "No, cancel"),
        ("NO - CANCEL!", "No, cancel"),
        ("no, cancel please", "No, cancel"),
        ("cancel", "No, cancel"),
        ("keep it", "Keep it with 20% off"),
        ("Keep it with 20% off", "Keep it with 20% off"),
        ("keep it with 20 off", "Keep it with 20% off"),
        ("plus", "Switch to Plus"),
        ("switch to plus please", "Switch to Plus"),
        ('/deny{"change_request": "7"}', "No, cancel"),
    ],
)
def test_a_typed_title_or_an_obvious_variant_names_its_button(typed: str, title: str) -> None:
    button = match_button(typed, OFFER)
    assert button is not None and button.title == title


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("yes", "Yes, renew now"),
        ("yep, renew it", "Yes, renew now"),
        ("nope", "No, don't renew"),
        ("don't", "No, don't renew"),
        ("ja", "Yes, renew now"),  # a customer used to another language
        ("Sí", "Yes, renew now"),
        ("oui", "Yes, renew now"),
        ("nein", "No, don't renew"),
    ],
)
def test_yes_and_no_words_read_alike(typed: str, title: str) -> None:
    button = match_button(typed, RENEW)
    assert button is not None and button.title == title


@pytest.mark.parametrize(
    ("typed", "buttons"),
    [
        ("no, cancel and refund me", OFFER),  # words no button has: a new message
        ("what plan am i on?", OFFER),
        ("", OFFER),
        ("it", OFFER),  # only filler words
        ("renew", RENEW),  # in both titles: not one button
    ],
)
def test_text_that_names_no_single_button_is_not_a_button(typed: str, buttons: list[Button]) -> None:
    assert match_button(typed, buttons) is None


def test_payloads_round_trip() -> None:
    text = payload("change_plan", plan="plus", change_request="7")
    parsed = parse_payload(text)
    assert parsed is not None and parsed.intent == "change_plan"
    assert parsed.entities == {"plan": "plus", "change_request": "7"}
    assert parse_payload("/affirm") == parse_payload("/affirm{}")
    assert parse_payload("no, cancel") is None
    assert parse_payload('/deny{"broken"') is None


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("please set my birthday to 14 March 1990", BirthdayParts(3, 14, 1990)),
        ("my birthday is march 3", BirthdayParts(3, 3, None)),
        ("sorry, I meant 15 March", BirthdayParts(3, 15, None)),
        ("i was born on 9th of may 1995", BirthdayParts(5, 9, 1995)),
        ("it's 1990-07-04", BirthdayParts(7, 4, 1990)),
        ("25/12/1985 is the date", BirthdayParts(12, 25, 1985)),
        ("change my birthday", None),
        ("5", None),
        ("stop sending me tips", None),
    ],
)
def test_birthdays_are_found_inside_sentences(text: str, parts: BirthdayParts | None) -> None:
    assert find_birthday(text, today=TODAY) == parts


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("my birthday is 30 february 1990", "doesn't exist"), ("set it to 1 june 2031", "future")],
)
def test_impossible_birthdays_in_sentences_are_explained(text: str, complaint: str) -> None:
    with pytest.raises(InvalidRequestError, match=complaint):
        find_birthday(text, today=TODAY)


def test_a_birthday_needs_its_year_before_it_is_a_date() -> None:
    parts = BirthdayParts(3, 3)
    assert parts.day_and_month() == "3 March"
    with pytest.raises(InvalidRequestError, match="Which year"):
        parts.complete(today=TODAY)
    assert BirthdayParts(3, 3, 1984).complete(today=TODAY) == dt.date(1984, 3, 3)
    assert (find_year("1990"), find_year("born in 1985"), find_year("5"), find_year("in 3 years")) == (
        1990,
        1985,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("i moved to berlin update my timezone", "Europe/Berlin"),
        ("i'm in tokyo now, fix my time zone", "Asia/Tokyo"),
        ("my timzone is still set to pacific, i live in chicago now", "America/Chicago"),
        ("change time zone to london time", "Europe/London"),
        ("Berlin", "Europe/Berlin"),
        ("please update my time zone", None),
        ("it's christmas soon, change my timezone", None),
    ],
)
def test_time_zones_are_found_after_a_cue_word(text: str, zone: str | None) -> None:
    assert find_time_zone(text) == zone


def test_an_opening_message_gives_an_email_or_phone_but_not_a_channel_word() -> None:
    assert find_contact_value("update my email address to Jane.Doe@example.com") == ("email", "jane.doe@example.com")
    assert find_contact_value("new number: +44 20 7946 0958") == ("phone", "+442079460958")
    assert find_contact_value("use my work email instead") is None


@pytest.mark.parametrize(
    ("text", "leaves"),
    [("stop", True), ("Cancel that!", True), ("never mind", True), ("not now", True), ("stop sending me tips", False)],
)
def test_leaving_words(text: str, leaves: bool) -> None:
    assert is_leave(text) is leaves


def test_a_correction_may_name_only_the_day() -> None:
    assert (find_day("the 4th"), find_day("on the 22nd"), find_day("4"), find_day("the 40th")) == (4, 22, None, None)


def test_corrections_lose_their_apology() -> None:
    assert strip_correction("sorry, I meant 15 March") == "15 March"
    assert strip_correction("no, Berlin") == "Berlin"
    assert strip_correction("actually it's jo@example.org") == "jo@example.org"


@pytest.mark.parametrize(
    ("text", "is_description"),
    [
        ("the app crashes when i open a note", True),
        ("i can't log in", True),
        ("sync isn't working", True),
        ("something is broken", False),
        ("i have a problem with my device", False),
        ("i found a bug", False),
    ],
)
def test_a_problem_description_says_what_is_wrong(text: str, is_description: bool) -> None:
    assert (problem_description(text) is not None) is is_description


def test_a_kind_of_message_is_read_from_the_words() -> None:
    assert find_outreach_kind("stop sending me tips") == "tips"
    assert find_outreach_kind("no more birthday messages please") == "milestones"
    assert find_outreach_kind("unsubscribe me from everything") == "all"
    assert find_outreach_kind("stop the tips and the surveys") is None
    assert find_outreach_kind("unsubscribe") is None


REWARDS = [
    ("sticker_pack", "Lumen sticker pack"),
    ("stylus_tips", "Stylus tips (6-pack)"),
    ("month_free", "One month free on your plan"),
    ("lumen_stand", "Lumen Stand"),
    ("lumen_pen", "Lumen Pen"),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("redeem my points for the stylus tips", "stylus_tips"),
        ("i want the stand", "lumen_stand"),
        ("a free month please", "month_free"),
        ("redeem my points", None),
        ("the pen or the stand?", None),
    ],
)
def test_a_reward_is_named_by_a_word_only_it_has(text: str, code: str | None) -> None:
    assert find_reward(text, REWARDS) == code


ORDERS = [
    Button("Status of #512390", '/order_status{"order_ref": "512390"}'),
    Button("Status of #498211", '/order_status{"order_ref": "498211"}'),
    Button("Status of #470003", '/order_status{"order_ref": "470003"}'),
]


@pytest.mark.parametrize(
    ("typed", "index"),
    [
        ("the second one", 1),
        ("Second one please", 1),
        ("2nd", 1),
        ("the first one", 0),
        ("the last one", 2),
        ("option 3", 2),
        ("number 1", 0),
    ],
)
def test_a_button_is_named_by_its_place(typed: str, index: int) -> None:
    """make run: the order list, then "the second one" → "Sorry, I'm not sure I understood that"."""
    assert match_button(typed, ORDERS) == ORDERS[index]


@pytest.mark.parametrize("typed", ["the fourth one", "option 9", "the second order of business", "one"])
def test_a_place_with_no_button_names_none(typed: str) -> None:
    assert match_button(typed, ORDERS) is None


REWARD_BUTTONS = [
    Button("Lumen sticker pack (150 pts)", '/redeem_points{"reward": "stickers"}'),
    Button("Stylus tips (6-pack) (400 pts)", '/redeem_points{"reward": "stylus_tips"}'),
    Button("Lumen Stand (2,000 pts)", '/redeem_points{"reward": "stand"}'),
]


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("the cheapest one", "Lumen sticker pack (150 pts)"),
        ("cheapest?", "Lumen sticker pack (150 pts)"),
        ("the most expensive one", "Lumen Stand (2,000 pts)"),
        ("the biggest reward please", "Lumen Stand (2,000 pts)"),
    ],
)
def test_the_cheapest_or_dearest_button_is_chosen_by_the_cost_in_its_title(typed: str, title: str) -> None:
    button = match_button(typed, REWARD_BUTTONS)
    assert button is not None and button.title == title


def test_buttons_without_a_cost_are_not_chosen_by_cost() -> None:
    plans = [Button("Switch to Starter", "/change_plan"), Button("Upgrade to Pro", "/change_plan")]
    assert match_button("the cheapest one", plans) is None  # the plan flow names the cheapest itself
