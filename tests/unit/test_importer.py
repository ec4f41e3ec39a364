"""Customer import: good files land, bad files list every problem and change nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ImportValidationError, InvalidRequestError, NotFoundError
from supportbot.settings import PROJECT_ROOT
from supportbot.store import import_fields
from supportbot.store.importer import ImportResult, import_customers
from supportbot.store.models import Consent, Customer, FeatureUsage, Order
from tests.factories import customer_row, order_obj, usage_obj, write_csv, write_json

Sessions = sessionmaker[Session]


def _problems(sessions: Sessions, path: Path) -> set[tuple[int, str]]:
    with pytest.raises(ImportValidationError) as caught:
        import_customers(session_factory=sessions, path=path)
    return {(p.row, p.field) for p in caught.value.problems}


def _count(sessions: Sessions, model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _customer(sessions: Sessions, customer_id: str) -> Customer:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        # touch relationships while the session is open
        _ = (
            customer.subscriptions,
            customer.loyalty,
            customer.consents,
            customer.orders,
            customer.usage,
            [o.items for o in customer.orders],
        )
        return customer


def test_good_csv_creates_customers(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "customers.csv",
        [
            customer_row(1, email="Test.Customer1@Example.com"),
            customer_row(
                2,
                plan_code="pro",
                price="24",
                billing_period="yearly",
                subscription_status="cancelled",
                renews_on="",
                auto_renew="no",
            ),
        ],
    )

    result = import_customers(session_factory=catalogue, path=path)

    assert result == ImportResult(created=2, updated=0)
    maya = _customer(catalogue, "T000001")
    assert maya.email == "test.customer1@example.com"
    assert maya.time_zone == "America/New_York"
    assert maya.birthday == dt.date(1990, 5, 17)
    assert (maya.quiet_hours_start, maya.quiet_hours_end) == (dt.time(21, 30), dt.time(7, 30))
    [sub] = maya.subscriptions
    assert (sub.plan_code, sub.status, sub.price_cents, sub.auto_renew) == ("plus", "active", 1200, True)
    assert sub.started_on == dt.date(2022, 1, 15)
    assert maya.loyalty is not None and maya.loyalty.points == 150
    assert [(c.kind, c.granted, c.source) for c in maya.consents] == [("tips", True, "import")]
    cancelled = _customer(catalogue, "T000002").subscriptions[0]
    assert (cancelled.status, cancelled.renews_on, cancelled.auto_renew) == ("cancelled", None, False)
    assert cancelled.cancelled_at is not None


def test_good_json_with_orders_and_usage(catalogue: Sessions, tmp_path: Path) -> None:
    row = customer_row(
        1,
        orders=[order_obj("004217"), order_obj("318842", status="shipped")],
        usage=[usage_obj("notes", 42), usage_obj("templates", 0)],
    )
    path = write_json(tmp_path / "customers.json", [row, customer_row(2)])

    assert import_customers(session_factory=catalogue, path=path) == ImportResult(2, 0)

    customer = _customer(catalogue, "T000001")
    assert [o.order_ref for o in customer.orders] == ["004217", "318842"]
    order = customer.orders[0]
    assert order.total_cents == 79_00 + 2 * 12_00
    assert order.placed_at == dt.datetime(2024, 3, 2, 13, 5, tzinfo=dt.UTC)
    assert [(i.sku, i.quantity, i.unit_price_cents) for i in order.items] == [
        ("LUM-PEN-01", 1, 7900),
        ("LUM-TIP-06", 2, 1200),
    ]
    assert sorted((u.feature, u.uses_last_30d) for u in customer.usage) == [("notes", 42), ("templates", 0)]
    assert _customer(catalogue, "T000002").orders == []


def test_bad_file_lists_every_problem_and_changes_nothing(catalogue: Sessions, tmp_path: Path) -> None:
    import_customers(session_factory=catalogue, path=write_csv(tmp_path / "first.csv", [customer_row(1)]))
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            customer_row(1, last_name="Changed", first_name=""),  # row 1
            customer_row(2, customer_since="2022-13-01", time_zone="Mars/Base"),  # row 2
            customer_row(3, plan_code="gold", email="not-an-email"),  # row 3
            customer_row(4, id="T000003"),  # row 4: dup id
            customer_row(5, email="TEST.customer2@example.com"),  # row 5: dup email
            customer_row(6, price="12.999", auto_renew="maybe", quiet_hours_end="25:00"),
            customer_row(7),  # row 7 is fine
        ],
    )

    problems = _problems(catalogue, bad)

    assert problems == {
        (1, "first_name"),
        (2, "customer_since"),
        (2, "time_zone"),
        (3, "plan_code"),
        (3, "email"),
        (4, "id"),
        (5, "email"),
        (6, "price"),
        (6, "auto_renew"),
        (6, "quiet_hours_end"),
    }
    assert _count(catalogue, Customer) == 1
    assert _customer(catalogue, "T000001").last_name == "Customer1"


def test_problems_are_sorted_by_row_and_readable(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [customer_row(1), customer_row(2, time_zone="europe/london")])
    with pytest.raises(ImportValidationError) as caught:
        import_customers(session_factory=catalogue, path=path)
    [problem] = caught.value.problems
    assert str(problem) == ("row 2, time_zone: unknown time zone 'europe/london'; did you mean Europe/London?")


@pytest.mark.parametrize("name", ["customers.xlsx", "customers.txt", "customers"])
def test_wrong_extension_is_a_clear_error(catalogue: Sessions, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("id\nC1\n")
    with pytest.raises(InvalidRequestError, match=r"use a \.csv or \.json file"):
        import_customers(session_factory=catalogue, path=path)


def test_missing_file(catalogue: Sessions, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        import_customers(session_factory=catalogue, path=tmp_path / "nope.csv")


def test_upsert_updates_existing_and_keeps_unstated_consents(catalogue: Sessions, tmp_path: Path) -> None:
    import_customers(
        session_factory=catalogue,
        path=write_json(
            tmp_path / "a.json", [customer_row(1, orders=[order_obj("100001")], usage=[usage_obj("notes", 5)])]
        ),
    )
    with catalogue.begin() as session:  # the customer opts out of tips in a chat
        consent = session.get(Consent, ("T000001", "tips"))
        assert consent is not None
        consent.granted, consent.source = False, "chat"

    second = write_json(
        tmp_path / "b.json",
        [
            customer_row(
                1,
                last_name="Renamed",
                plan_code="pro",
                price="24.00",
                consent_tips=None,
                loyalty_points=None,
                orders=[order_obj("100001", status="returned"), order_obj("100002")],
                usage=[usage_obj("sync", 7)],
            ),
            customer_row(2),
        ],
    )
    assert import_customers(session_factory=catalogue, path=second) == ImportResult(1, 1)

    customer = _customer(catalogue, "T000001")
    assert customer.last_name == "Renamed"
    assert len(customer.subscriptions) == 1
    assert (customer.subscriptions[0].plan_code, customer.subscriptions[0].price_cents) == ("pro", 2400)
    assert [(c.kind, c.granted, c.source) for c in customer.consents] == [("tips", False, "chat")]
    assert customer.loyalty is not None and customer.loyalty.points == 150
    assert [(o.order_ref, o.status, len(o.items)) for o in customer.orders] == [
        ("100001", "returned", 2),
        ("100002", "delivered", 2),
    ]
    assert sorted(u.feature for u in customer.usage) == ["notes", "sync"]
    assert _count(catalogue, Order) == 2


def test_duplicate_emails_within_the_file(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dup.csv", [customer_row(1, email="same@example.com"), customer_row(2, email="Same@Example.com")]
    )
    with pytest.raises(ImportValidationError) as caught:
        import_customers(session_factory=catalogue, path=path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (2, "email", "'same@example.com' already used in row 1")
    ]


def test_email_of_another_customer_in_the_store(catalogue: Sessions, tmp_path: Path) -> None:
    import_customers(session_factory=catalogue, path=write_csv(tmp_path / "a.csv", [customer_row(1)]))
    path = write_csv(tmp_path / "b.csv", [customer_row(2), customer_row(3, email="Test.Customer1@example.com")])
    with pytest.raises(ImportValidationError) as caught:
        import_customers(session_factory=catalogue, path=path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (2, "email", "'test.customer1@example.com' already belongs to customer T000001")
    ]
    # the owner itself may of course keep (and re-import) its email
    again = write_csv(tmp_path / "c.csv", [customer_row(1)])
    assert import_customers(session_factory=catalogue, path=again) == ImportResult(0, 1)


def test_order_ref_of_another_customer(catalogue: Sessions, tmp_path: Path) -> None:
    import_customers(
        session_factory=catalogue, path=write_json(tmp_path / "a.json", [customer_row(1, orders=[order_obj("555555")])])
    )
    path = write_json(tmp_path / "b.json", [customer_row(2, orders=[order_obj("555555")])])
    assert _problems(catalogue, path) == {(1, "orders[1].order_ref")}


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "GMT+1", "Europe", "../etc/passwd", "UTC+2"])
def test_unknown_time_zone(catalogue: Sessions, tmp_path: Path, zone: str) -> None:
    path = write_csv(tmp_path / "tz.csv", [customer_row(1, time_zone=zone)])
    assert _problems(catalogue, path) == {(1, "time_zone")}


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Australia/Sydney", "America/St_Johns", "UTC"])
def test_known_time_zones(catalogue: Sessions, tmp_path: Path, zone: str) -> None:
    path = write_csv(tmp_path / "tz.csv", [customer_row(1, time_zone=zone)])
    assert import_customers(session_factory=catalogue, path=path).created == 1


def test_29_february_birthday_is_accepted(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "leap.csv", [customer_row(1, birthday="1992-02-29")])
    import_customers(session_factory=catalogue, path=path)
    assert _customer(catalogue, "T000001").birthday == dt.date(1992, 2, 29)


@pytest.mark.parametrize("birthday", ["1990-02-30", "1991-02-29", "1990-2-3", "17/05/1990", "2999-01-01", "1850-01-01"])
def test_impossible_birthdays_are_rejected(catalogue: Sessions, tmp_path: Path, birthday: str) -> None:
    path = write_csv(tmp_path / "bad.csv", [customer_row(1, birthday=birthday)])
    assert _problems(catalogue, path) == {(1, "birthday")}


def test_nested_problems_are_named_by_position(catalogue: Sessions, tmp_path: Path) -> None:
    row = customer_row(
        1,
        orders=[
            order_obj("12345"),
            order_obj("200002", placed_at="2024-03-02T14:05:00", status="lost", items=[]),
            order_obj("200003", items=[{"product_name": "Pen", "sku": "P", "quantity": 0, "unit_price": "-1"}]),
        ],
        usage=[usage_obj("teleport", 1), usage_obj("notes", -3), usage_obj("sync", 1), usage_obj("sync", 2)],
    )
    assert _problems(catalogue, write_json(tmp_path / "n.json", [row])) == {
        (1, "orders[1].order_ref"),
        (1, "orders[2].placed_at"),
        (1, "orders[2].status"),
        (1, "orders[2].items"),
        (1, "orders[3].items[1].quantity"),
        (1, "orders[3].items[1].unit_price"),
        (1, "usage[1].feature"),
        (1, "usage[2].uses_last_30d"),
        (1, "usage[4].feature"),
    }


def test_file_level_problems(catalogue: Sessions, tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "cols.csv", [customer_row(1)], columns=[*customer_row(1), "emial", "orders"])
    assert _problems(catalogue, csv_path) == {(0, "emial"), (0, "orders")}
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "C1",}]')
    assert _problems(catalogue, broken) == {(0, "file")}
    not_list = write_json(tmp_path / "obj.json", {"id": "C1"})  # type: ignore[arg-type]
    assert _problems(catalogue, not_list) == {(0, "file")}
    mixed = write_json(tmp_path / "mixed.json", [customer_row(1), "C2", customer_row(3, x=1)])
    assert _problems(catalogue, mixed) == {(2, "row"), (3, "x")}


def test_missing_required_fields_each_reported(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_json(tmp_path / "empty.json", [{}])
    problems = _problems(catalogue, path)
    assert problems == {
        (1, f)
        for f in (
            "id",
            "first_name",
            "last_name",
            "email",
            "time_zone",
            "customer_since",
            "plan_code",
            "subscription_status",
            "billing_period",
            "price",
        )
    }


def test_database_error_mid_way_rolls_everything_back(catalogue: Sessions, tmp_path: Path) -> None:
    import_customers(session_factory=catalogue, path=write_csv(tmp_path / "a.csv", [customer_row(1)]))
    with catalogue.begin() as session:  # a rule only the database knows about
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text(
                    "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.email LIKE 'boom%' THEN RAISE EXCEPTION 'refused by trigger'; END IF; RETURN NEW; END $$"
                )
            )
            session.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION refuse_boom()")
            )
        else:
            session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON customers WHEN NEW.email LIKE 'boom%' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
                )
            )
    path = write_csv(
        tmp_path / "b.csv",
        [customer_row(1, last_name="Changed"), customer_row(2), customer_row(3, email="boom@example.com")],
    )

    with pytest.raises(InvalidRequestError, match="refused by trigger"):
        import_customers(session_factory=catalogue, path=path)

    assert _count(catalogue, Customer) == 1
    assert _customer(catalogue, "T000001").last_name == "Customer1"
    assert _count(catalogue, FeatureUsage) == 0


def test_examples_in_the_format_doc_import_cleanly(catalogue: Sessions, tmp_path: Path) -> None:
    doc = (PROJECT_ROOT / "docs" / "IMPORT_FORMAT.md").read_text(encoding="utf-8")
    csv_text = re.search(r"```csv\n(.*?)```", doc, re.S)
    json_text = re.search(r"```json\n(.*?)```", doc, re.S)
    assert csv_text and json_text
    (tmp_path / "doc.csv").write_text(csv_text[1], encoding="utf-8")
    (tmp_path / "doc.json").write_text(json_text[1], encoding="utf-8")
    assert import_customers(session_factory=catalogue, path=tmp_path / "doc.csv") == ImportResult(2, 0)
    assert import_customers(session_factory=catalogue, path=tmp_path / "doc.json") == ImportResult(1, 0)


@pytest.mark.parametrize(("raw", "cents"), [("12.99", 1299), ("120", 12000), ("0.5", 50), (7, 700)])
def test_money_parsing(raw: object, cents: int) -> None:
    assert import_fields.parse_money_cents(raw) == cents


@pytest.mark.parametrize("raw", ["12.999", "-1", "$5", "1,50", "", True])
def test_money_parsing_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        import_fields.parse_money_cents(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        (1, True),
        ("false", False),
        ("No", False),
        ("0", False),
        (False, False),
    ],
)
def test_boolean_parsing(raw: object, value: bool) -> None:
    assert import_fields.parse_bool(raw) is value


def test_datetime_needs_an_offset() -> None:
    assert import_fields.parse_aware_datetime("2024-05-01T10:30:00Z").tzinfo is dt.UTC
    with pytest.raises(ValueError, match="no UTC offset"):
        import_fields.parse_aware_datetime("2024-05-01T10:30:00")


def test_csv_saved_by_a_spreadsheet(catalogue: Sessions, tmp_path: Path) -> None:
    """Byte-order mark, CRLF line endings, padded cells and a trailing blank line."""
    plain = write_csv(tmp_path / "plain.csv", [customer_row(1, first_name="  Zoë ")]).read_text("utf-8")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + plain.replace("\r\n", "\n").replace("\n", "\r\n").encode() + b"\r\n")
    assert import_customers(session_factory=catalogue, path=path) == ImportResult(1, 0)
    assert _customer(catalogue, "T000001").first_name == "Zoë"


def test_active_subscription_needs_a_renewal_date(catalogue: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [customer_row(1, renews_on="  "), customer_row(2, renews_on=None)])
    assert _problems(catalogue, path) == {(1, "renews_on"), (2, "renews_on")}


def _messages(sessions: Sessions, path: Path) -> dict[tuple[int, str], str]:
    with pytest.raises(ImportValidationError) as caught:
        import_customers(session_factory=sessions, path=path)
    return {(p.row, p.field): p.message for p in caught.value.problems}


def test_numbers_over_their_bounds_are_problems_of_their_row_and_field(catalogue: Sessions, tmp_path: Path) -> None:
    """Issue 14 finding 14: ``loyalty_points: 10**20`` reached the driver and failed with a raw OverflowError."""
    items = [{"product_name": "Pen", "sku": "P", "quantity": 10_001, "unit_price": "1000000.01"}]
    dear = [{"product_name": "Pen", "sku": "P", "quantity": 10_000, "unit_price": "999999"}]
    path = tmp_path / "big.json"
    rows = [
        customer_row(1, loyalty_points=10**20),
        customer_row(2, price="99999999", orders=[order_obj("200001", items=items)]),
        customer_row(3, orders=[order_obj("200002", items=dear)], usage=[usage_obj("notes", 10**9)]),
        customer_row(4, loyalty_points="1" * 5000),
    ]
    text_ = json.dumps(rows).replace('"loyalty_points": "' + "1" * 5000 + '"', '"loyalty_points": ' + "1" * 5000)
    path.write_text(text_, encoding="utf-8")
    messages = _messages(catalogue, path)
    assert messages == {
        (1, "loyalty_points"): "must be at most 1,000,000,000",
        (2, "price"): "must be at most 1,000,000.00",
        (2, "orders[1].items[1].quantity"): "must be at most 10,000",
        (2, "orders[1].items[1].unit_price"): "must be at most 1,000,000.00",
        (3, "orders[1].items"): "the order's total is over 10,000,000.00",
        (3, "usage[1].uses_last_30d"): "must be at most 1,000,000",
        (4, "loyalty_points"): "must be at most 1,000,000,000",
    }
    assert _count(catalogue, Customer) == 0
    at_the_bounds = [
        customer_row(1, loyalty_points=1_000_000_000, price="1000000.00", usage=[usage_obj("notes", 10**6)])
    ]
    assert (
        import_customers(session_factory=catalogue, path=write_json(tmp_path / "ok.json", at_the_bounds)).created == 1
    )


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x1c", "\n"])
def test_a_line_separator_inside_a_csv_cell_is_refused_never_split_or_dropped(
    catalogue: Sessions, tmp_path: Path, separator: str
) -> None:
    """Issue 14 finding 14: str.splitlines cut a cell holding U+2028 in two, or silently dropped it."""
    path = write_csv(
        tmp_path / "sep.csv",
        [customer_row(1, first_name=f"Ada{separator}Lovelace"), customer_row(2, last_name=f"Iyer{separator}")],
    )
    messages = _messages(catalogue, path)
    code = f"U+{ord(separator):04X}"
    assert set(messages) == {(1, "first_name"), (2, "last_name")}  # rows keep their numbers: nothing was split
    assert code in messages[(1, "first_name")] and "one line" in messages[(1, "first_name")]
    assert code in messages[(2, "last_name")]  # at the end of a cell too, where strip() would have removed it
    assert _count(catalogue, Customer) == 0


def test_a_line_separator_in_a_json_string_is_refused_and_commas_and_quotes_in_cells_survive(
    catalogue: Sessions, tmp_path: Path
) -> None:
    bad = write_json(tmp_path / "sep.json", [customer_row(1, last_name="Gómez\u2029")])
    assert "U+2029 PARAGRAPH SEPARATOR" in _messages(catalogue, bad)[(1, "last_name")]
    path = write_csv(tmp_path / "quoted.csv", [customer_row(1, last_name='O\'Brien, "Jr."')])
    assert import_customers(session_factory=catalogue, path=path).created == 1
    assert _customer(catalogue, "T000001").last_name == 'O\'Brien, "Jr."'


def test_a_customer_id_with_a_colon_is_refused_with_the_reason(catalogue: Sessions, tmp_path: Path) -> None:
    """Issue 14 finding 10: ``C:1`` would read as another customer's conversation id (``cust:C:1:web``)."""
    messages = _messages(catalogue, write_csv(tmp_path / "colon.csv", [customer_row(1, id="C:1")]))
    assert list(messages) == [(1, "id")]
    assert "may not contain ':'" in messages[(1, "id")] and "conversation ids" in messages[(1, "id")]
    assert _count(catalogue, Customer) == 0
