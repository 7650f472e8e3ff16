"""The worked examples of docs/api.md, "Plans", one row each, and the breakdowns a person reads."""

from decimal import Decimal

import pytest

from rating import BreakdownLine, ChargeSpec, Tier, rate, round_money
from tests.rating import specs

WORKED_EXAMPLES = [
    # (example, spec, quantity, event_count, amount rounded to cents)
    ("per-unit, 8 units all free", specs.PER_UNIT_WITH_FREE, "8", 0, "0.00"),
    ("per-unit, exactly the 10 free", specs.PER_UNIT_WITH_FREE, "10", 0, "0.00"),
    ("per-unit, 15 units with 10 free", specs.PER_UNIT_WITH_FREE, "15", 0, "5.00"),
    ("graduated 0.80/0.60/0.40, 2500", specs.GRADUATED_THREE_BANDS, "2500", 0, "1600.00"),
    ("graduated, exactly on up_to 1000", specs.GRADUATED_THREE_BANDS, "1000", 0, "800.00"),
    ("graduated, one past up_to", specs.GRADUATED_THREE_BANDS, "1001", 0, "800.60"),
    ("graduated, exactly on up_to 2000", specs.GRADUATED_THREE_BANDS, "2000", 0, "1400.00"),
    ("graduated, no usage", specs.GRADUATED_THREE_BANDS, "0", 0, "0.00"),
    ("graduated 1.50 then 1.35, 1500", specs.GRADUATED_TWO_BANDS, "1500", 0, "2175.00"),
    ("graduated flat fee of band 1", specs.GRADUATED_WITH_FLAT, "1", 0, "20.00"),
    ("graduated, band 2 reached", specs.GRADUATED_WITH_FLAT, "101", 0, "25.25"),
    ("graduated flat fees, 200", specs.GRADUATED_WITH_FLAT, "200", 0, "50.00"),
    ("package, 1 credit", specs.PACKAGE_CREDITS, "1", 0, "800.00"),
    ("package, exactly 1000", specs.PACKAGE_CREDITS, "1000", 0, "800.00"),
    ("package, 1001 starts a second", specs.PACKAGE_CREDITS, "1001", 0, "1600.00"),
    ("package, no usage", specs.PACKAGE_CREDITS, "0", 0, "0.00"),
    ("package, fractional usage", specs.PACKAGE_CREDITS, "0.5", 0, "800.00"),
    ("volume, 500 in band 1", specs.VOLUME, "500", 0, "500.00"),
    ("volume, exactly on up_to 1000", specs.VOLUME, "1000", 0, "1000.00"),
    ("volume, 1001 all at 0.80", specs.VOLUME, "1001", 0, "800.80"),
    ("volume, 2500 all at 0.50", specs.VOLUME, "2500", 0, "1250.00"),
    ("volume, no usage", specs.VOLUME, "0", 0, "0.00"),
    ("volume with flat, 100", specs.VOLUME_WITH_FLAT, "100", 0, "15.00"),
    ("volume with flat, 101", specs.VOLUME_WITH_FLAT, "101", 0, "15.05"),
    ("stairstep, 5 in step 1", specs.STAIRSTEP, "5", 0, "50.00"),
    ("stairstep, exactly on up_to 10", specs.STAIRSTEP, "10", 0, "50.00"),
    ("stairstep, 11 stacks step 2", specs.STAIRSTEP, "11", 0, "250.00"),
    ("stairstep, 60 stacks all steps", specs.STAIRSTEP, "60", 0, "750.00"),
    ("stairstep, no usage", specs.STAIRSTEP, "0", 0, "0.00"),
    ("flat, any usage", specs.FLAT, "1", 0, "49.00"),
    ("flat, fractional usage", specs.FLAT, "0.5", 0, "49.00"),
    ("flat, no usage", specs.FLAT, "0", 0, "0.00"),
    ("percentage 2.9% + 0.30 × 10", specs.PERCENTAGE, "1000.00", 10, "32.00"),
    ("percentage of 123.45, 3 events", specs.PERCENTAGE, "123.45", 3, "4.48"),
    ("percentage, no events", specs.PERCENTAGE, "0", 0, "0.00"),
    ("minimum tops up 10.00 to 50", specs.PER_UNIT_WITH_MINIMUM, "100", 0, "50.00"),
    ("minimum applies with no usage", specs.PER_UNIT_WITH_MINIMUM, "0", 0, "50.00"),
    ("above the minimum", specs.PER_UNIT_WITH_MINIMUM, "1000", 0, "100.00"),
    ("maximum caps 100.00 at 75", specs.PER_UNIT_WITH_MAXIMUM, "1000", 0, "75.00"),
    ("below the maximum", specs.PER_UNIT_WITH_MAXIMUM, "500", 0, "50.00"),
    ("0.000002 per token × 1,234,567", specs.PER_TOKEN, "1234567", 0, "2.47"),
    ("12-decimal unit price", specs.PER_TOKEN_FINE, "1234567", 0, "0.15"),
]


@pytest.mark.parametrize(
    ("spec", "quantity", "event_count", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in WORKED_EXAMPLES],
)
def test_worked_example(spec, quantity, event_count, expected):
    rating = rate(spec, Decimal(quantity), event_count=event_count)

    assert round_money(rating.amount, exponent=2) == Decimal(expected)
    assert sum(line.amount for line in rating.breakdown) == rating.amount


@pytest.mark.parametrize(
    ("spec", "quantity", "exact"),
    [
        (specs.PER_TOKEN, "1234567", "2.469134"),
        (specs.PER_TOKEN_FINE, "1234567", "0.152414703552"),
        (specs.PERCENTAGE, "123.45", "3.58005"),
    ],
)
def test_amount_is_exact_until_rounded(spec, quantity, exact):
    assert rate(spec, Decimal(quantity)).amount == Decimal(exact)


def test_graduated_breakdown_shows_each_band():
    rating = rate(specs.GRADUATED_THREE_BANDS, Decimal("2500"))

    assert [
        (line.label, line.units, line.unit_amount, line.amount) for line in rating.breakdown
    ] == [
        ("1 – 1000 @ 0.80", Decimal("1000"), Decimal("0.80"), Decimal("800")),
        ("1001 – 2000 @ 0.60", Decimal("1000"), Decimal("0.60"), Decimal("600")),
        ("2001 and above @ 0.40", Decimal("500"), Decimal("0.40"), Decimal("200")),
    ]
    assert [(line.from_unit, line.up_to) for line in rating.breakdown] == [
        (Decimal("1"), Decimal("1000")),
        (Decimal("1001"), Decimal("2000")),
        (Decimal("2001"), None),
    ]


def test_graduated_breakdown_stops_at_the_band_reached():
    rating = rate(specs.GRADUATED_THREE_BANDS, Decimal("1000"))

    assert [line.label for line in rating.breakdown] == ["1 – 1000 @ 0.80"]


def test_graduated_band_flat_fee_is_in_the_label_and_the_amount():
    rating = rate(specs.GRADUATED_WITH_FLAT, Decimal("101"))

    assert [(line.label, line.flat_amount, line.amount) for line in rating.breakdown] == [
        ("1 – 100 @ 0.00 + 20.00 flat", Decimal("20.00"), Decimal("20.00")),
        ("101 and above @ 0.25 + 5.00 flat", Decimal("5.00"), Decimal("5.25")),
    ]


def test_fractional_tier_bounds_read_as_over_and_up_to():
    spec = ChargeSpec(
        model="graduated",
        tiers=(
            Tier(up_to=Decimal("0.5"), unit_amount=Decimal("2")),
            Tier(up_to=Decimal("1.5"), unit_amount=Decimal("1")),
            Tier(up_to=None, unit_amount=Decimal("0.5")),
        ),
    )

    rating = rate(spec, Decimal("2"))

    assert [(line.label, line.units) for line in rating.breakdown] == [
        ("up to 0.5 @ 2.00", Decimal("0.5")),
        ("over 0.5 up to 1.5 @ 1.00", Decimal("1")),
        ("over 1.5 @ 0.50", Decimal("0.5")),
    ]
    assert rating.amount == Decimal("2.25")


def test_free_units_are_a_line_and_come_off_the_quantity():
    rating = rate(specs.PER_UNIT_WITH_FREE, Decimal("15"))

    assert (rating.quantity, rating.free_units, rating.billable_quantity) == (
        Decimal("15"),
        Decimal("10"),
        Decimal("5"),
    )
    assert rating.breakdown == (
        BreakdownLine(
            label="Free units",
            units=Decimal("10"),
            unit_amount=Decimal("0"),
            flat_amount=Decimal("0"),
            amount=Decimal("0"),
        ),
        BreakdownLine(
            label="Per unit @ 1.00",
            units=Decimal("5"),
            unit_amount=Decimal("1.00"),
            flat_amount=Decimal("0"),
            amount=Decimal("5.00"),
        ),
    )


def test_free_units_used_are_only_what_was_consumed():
    rating = rate(specs.PER_UNIT_WITH_FREE, Decimal("8"))

    assert (rating.free_units, rating.billable_quantity, rating.amount) == (
        Decimal("8"),
        Decimal("0"),
        Decimal("0"),
    )
    assert [line.label for line in rating.breakdown] == ["Free units"]


def test_package_breakdown_counts_started_packages():
    (line,) = rate(specs.PACKAGE_CREDITS, Decimal("1001")).breakdown

    assert (line.label, line.units, line.unit_amount, line.amount) == (
        "Packages of 1000 @ 800.00",
        Decimal("2"),
        Decimal("800.00"),
        Decimal("1600.00"),
    )


def test_volume_breakdown_names_the_band_that_priced_everything():
    (line,) = rate(specs.VOLUME, Decimal("1500")).breakdown

    assert (line.label, line.units, line.amount) == (
        "1001 – 2000 @ 0.80, on all units",
        Decimal("1500"),
        Decimal("1200.00"),
    )


def test_stairstep_breakdown_lists_each_step_reached():
    rating = rate(specs.STAIRSTEP, Decimal("11"))

    assert [(line.label, line.units, line.amount) for line in rating.breakdown] == [
        ("1 – 10: step of 50.00", Decimal("10"), Decimal("50.00")),
        ("11 – 50: step of 200.00", Decimal("1"), Decimal("200.00")),
    ]


def test_percentage_breakdown_has_the_share_and_the_fees_per_event():
    rating = rate(specs.PERCENTAGE, Decimal("1000.00"), event_count=10)

    assert [
        (line.label, line.units, line.unit_amount, line.amount) for line in rating.breakdown
    ] == [
        ("2.9% of the amount", Decimal("1000.00"), Decimal("0.029"), Decimal("29.000")),
        ("Fixed fee per event @ 0.30", Decimal("10"), Decimal("0.30"), Decimal("3.00")),
    ]


def test_flat_with_no_usage_has_an_empty_breakdown():
    assert rate(specs.FLAT, Decimal("0")).breakdown == ()


def test_minimum_top_up_is_a_visible_line():
    rating = rate(specs.PER_UNIT_WITH_MINIMUM, Decimal("100"))

    assert [(line.label, line.amount) for line in rating.breakdown] == [
        ("Per unit @ 0.10", Decimal("10.00")),
        ("Minimum commitment top-up", Decimal("40.00")),
    ]
    assert rating.amount == Decimal("50.00")


def test_cap_is_a_visible_negative_line():
    rating = rate(specs.PER_UNIT_WITH_MAXIMUM, Decimal("1000"))

    assert [(line.label, line.amount) for line in rating.breakdown] == [
        ("Per unit @ 0.10", Decimal("100.00")),
        ("Capped at maximum", Decimal("-25.00")),
    ]
    assert rating.amount == Decimal("75.00")


def test_as_dict_is_json_ready_with_plain_decimal_strings():
    rating = rate(specs.GRADUATED_THREE_BANDS, Decimal("2500"))

    assert rating.as_dict() == {
        "quantity": "2500",
        "free_units": "0",
        "billable_quantity": "2500",
        "amount": "1600",
        "breakdown": [
            {
                "label": "1 – 1000 @ 0.80",
                "units": "1000",
                "unit_amount": "0.8",
                "flat_amount": "0",
                "amount": "800",
                "from_unit": "1",
                "up_to": "1000",
            },
            {
                "label": "1001 – 2000 @ 0.60",
                "units": "1000",
                "unit_amount": "0.6",
                "flat_amount": "0",
                "amount": "600",
                "from_unit": "1001",
                "up_to": "2000",
            },
            {
                "label": "2001 and above @ 0.40",
                "units": "500",
                "unit_amount": "0.4",
                "flat_amount": "0",
                "amount": "200",
                "from_unit": "2001",
                "up_to": None,
            },
        ],
    }


def test_as_dict_never_uses_exponent_notation():
    spec = ChargeSpec(model="per_unit", unit_amount=Decimal("1E-12"))

    payload = rate(spec, Decimal("1E+3")).as_dict()

    assert payload["quantity"] == "1000"
    assert payload["amount"] == "0.000000001"
    assert payload["breakdown"][0]["unit_amount"] == "0.000000000001"


def test_quantities_and_prices_may_be_given_as_strings_or_ints():
    spec = ChargeSpec(model="per_unit", unit_amount="0.25", free_units=2)

    assert rate(spec, "10").amount == Decimal("2.00")
