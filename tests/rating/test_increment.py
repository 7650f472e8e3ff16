"""The charge ledger's increments: what a growing quantity adds from one rating to the next.

On-demand invoices bill round(owed now) − billed so far; the rows they show are
`breakdown_difference` of the two ratings, priced without the minimum (the close trues it up).
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from rating import (
    BreakdownLine,
    ChargeSpec,
    RatingError,
    breakdown_difference,
    rate,
    without_minimum,
)
from tests.rating import specs


@dataclass(frozen=True)
class Increment:
    amount: Decimal
    quantity: Decimal
    free_units: Decimal
    billable_quantity: Decimal
    breakdown: tuple[BreakdownLine, ...]


def rate_increment(spec, *, before, after, event_count=0, events_before=0) -> Increment:
    """What the usage from `before` to `after` adds, as the ledger prices it during a period."""
    running = without_minimum(spec)
    earlier = rate(running, before, event_count=events_before)
    later = rate(running, after, event_count=events_before + event_count)
    return Increment(
        amount=later.amount - earlier.amount,
        quantity=later.quantity - earlier.quantity,
        free_units=later.free_units - earlier.free_units,
        billable_quantity=later.billable_quantity - earlier.billable_quantity,
        breakdown=breakdown_difference(later, earlier),
    )


def test_units_crossing_a_boundary_are_priced_in_each_band():
    rating = rate_increment(
        specs.GRADUATED_THREE_BANDS, before=Decimal("900"), after=Decimal("1100")
    )

    assert rating.amount == Decimal("140.00")  # 100 × 0.80 + 100 × 0.60
    assert rating.quantity == Decimal("200")
    assert [(line.label, line.units, line.amount) for line in rating.breakdown] == [
        ("1 – 1000 @ 0.80", Decimal("100"), Decimal("80.00")),
        ("1001 – 2000 @ 0.60", Decimal("100"), Decimal("60.00")),
    ]


def test_increment_within_one_band_shows_only_that_band():
    rating = rate_increment(
        specs.GRADUATED_THREE_BANDS, before=Decimal("1200"), after=Decimal("1500")
    )

    assert [(line.label, line.units, line.amount) for line in rating.breakdown] == [
        ("1001 – 2000 @ 0.60", Decimal("300"), Decimal("180.00")),
    ]


def test_free_units_are_used_up_cumulatively():
    rating = rate_increment(specs.PER_UNIT_WITH_FREE, before=Decimal("6"), after=Decimal("15"))

    assert (rating.free_units, rating.billable_quantity, rating.amount) == (
        Decimal("4"),
        Decimal("5"),
        Decimal("5.00"),
    )
    assert [(line.label, line.units) for line in rating.breakdown] == [
        ("Free units", Decimal("4")),
        ("Per unit @ 1.00", Decimal("5")),
    ]


def test_the_minimum_waits_for_the_close_but_the_cap_holds_as_usage_grows():
    with_minimum = rate_increment(
        specs.PER_UNIT_WITH_MINIMUM, before=Decimal("0"), after=Decimal("100")
    )
    with_maximum = rate_increment(
        specs.PER_UNIT_WITH_MAXIMUM, before=Decimal("0"), after=Decimal("1000")
    )

    assert with_minimum.amount == Decimal("10.00")
    assert with_maximum.amount == rate(specs.PER_UNIT_WITH_MAXIMUM, Decimal("1000")).amount
    assert with_maximum.amount < Decimal("100.00")


def test_package_increment_charges_only_newly_started_packages():
    same_package = rate_increment(specs.PACKAGE_CREDITS, before=Decimal("1"), after=Decimal("999"))
    next_package = rate_increment(
        specs.PACKAGE_CREDITS, before=Decimal("999"), after=Decimal("1001")
    )

    assert same_package.amount == Decimal("0")
    assert next_package.amount == Decimal("800.00")
    assert [(line.units, line.amount) for line in next_package.breakdown] == [
        (Decimal("1"), Decimal("800.00"))
    ]


def test_volume_moving_up_a_band_takes_back_what_was_billed():
    rating = rate_increment(specs.VOLUME, before=Decimal("1000"), after=Decimal("1100"))

    assert rating.amount == Decimal("-120.00")  # 1100 × 0.80 − 1000 × 1.00
    assert [(line.label, line.units, line.amount) for line in rating.breakdown] == [
        ("1001 – 2000 @ 0.80, on all units", Decimal("1100"), Decimal("880.00")),
        ("Already billed: 1 – 1000 @ 1.00, on all units", Decimal("-1000"), Decimal("-1000.00")),
    ]


def test_percentage_fee_per_event_counts_the_events_of_the_increment():
    rating = rate_increment(
        specs.PERCENTAGE, before=Decimal("100.00"), after=Decimal("300.00"), event_count=2
    )

    assert rating.amount == Decimal("6.40")  # 2.9% of 200 + 2 × 0.30


def test_flat_fee_is_charged_by_the_first_increment_only():
    first = rate_increment(specs.FLAT, before=Decimal("0"), after=Decimal("5"))
    later = rate_increment(specs.FLAT, before=Decimal("5"), after=Decimal("9"))

    assert (first.amount, later.amount) == (Decimal("49.00"), Decimal("0"))


def test_no_new_usage_is_an_empty_increment():
    rating = rate_increment(
        specs.GRADUATED_THREE_BANDS, before=Decimal("1500"), after=Decimal("1500")
    )

    assert (rating.quantity, rating.amount, rating.breakdown) == (Decimal("0"), Decimal("0"), ())


def test_rating_validates_the_charge():
    with pytest.raises(RatingError, match="A per-unit charge needs a unit amount."):
        rate_increment(ChargeSpec(model="per_unit"), before=Decimal("0"), after=Decimal("1"))


def test_increments_add_up_to_the_period_rating():
    steps = ["0", "400", "999", "1000", "1001", "2600"]
    increments = [
        rate_increment(specs.GRADUATED_THREE_BANDS, before=Decimal(a), after=Decimal(b)).amount
        for a, b in zip(steps, steps[1:], strict=False)
    ]

    assert sum(increments) == rate(specs.GRADUATED_THREE_BANDS, Decimal("2600")).amount
