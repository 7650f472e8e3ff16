"""Invariants of the rating engine over generated charges and quantities (hypothesis)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from rating import (
    ChargeSpec,
    Interval,
    Tier,
    billing_period,
    breakdown_difference,
    period_containing,
    rate,
)

# Per test, not a loaded profile: other apps' hypothesis tests keep their own settings.
thorough = settings(deadline=None, max_examples=150)


def numbers(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low),
        max_value=Decimal(high),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


quantities = numbers("0", "100000", 3)
prices = numbers("0", "100", 6)
event_counts = st.integers(min_value=0, max_value=10_000)


@st.composite
def tier_lists(draw, *, stairstep: bool = False, max_bounds: int = 4) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.lists(numbers("0.001", "50000", 3), max_size=max_bounds, unique=True)))
    tiers = []
    for up_to in [*bounds, None]:
        unit_amount = Decimal("0") if stairstep else draw(prices)
        flat_amount = draw(st.one_of(st.just(Decimal("0")), numbers("0", "500", 2)))
        tiers.append(Tier(up_to=up_to, unit_amount=unit_amount, flat_amount=flat_amount))
    return tuple(tiers)


@st.composite
def charge_specs(draw, *, commitments: bool = True) -> ChargeSpec:
    model = draw(st.sampled_from(["flat", "per_unit", "package", "graduated", "volume",
                                  "stairstep", "percentage"]))  # fmt: skip
    fields = {"model": model, "free_units": draw(st.one_of(st.just(Decimal("0")), quantities))}
    if model == "flat":
        fields["amount"] = draw(numbers("0", "1000", 2))
    elif model == "per_unit":
        fields["unit_amount"] = draw(prices)
    elif model == "package":
        fields["package_size"] = draw(numbers("0.5", "5000", 1))
        fields["package_amount"] = draw(numbers("0", "1000", 2))
    elif model == "percentage":
        fields["rate"] = draw(numbers("0", "100", 2))
        fields["fixed_amount"] = draw(st.one_of(st.none(), numbers("0", "5", 2)))
    else:
        fields["tiers"] = draw(tier_lists(stairstep=model == "stairstep"))
    if commitments:
        minimum = draw(st.one_of(st.none(), numbers("0", "5000", 2)))
        maximum = draw(st.one_of(st.none(), numbers("0", "50000", 2)))
        if minimum is not None and maximum is not None and minimum > maximum:
            minimum, maximum = maximum, minimum
        fields["min_amount"], fields["max_amount"] = minimum, maximum
    return ChargeSpec(**fields)


@thorough
@given(spec=charge_specs(), quantity=quantities, event_count=event_counts)
def test_amount_is_never_negative_and_the_lines_add_up(spec, quantity, event_count):
    rating = rate(spec, quantity, event_count=event_count)

    assert rating.amount >= 0
    assert sum(line.amount for line in rating.breakdown) == rating.amount
    assert rating.free_units + rating.billable_quantity == quantity
    assert Decimal(rating.as_dict()["amount"]) == rating.amount


@thorough
@given(spec=charge_specs(), quantity=quantities)
def test_minimum_and_maximum_bound_the_amount(spec, quantity):
    amount = rate(spec, quantity).amount

    if spec.max_amount is not None:
        assert amount <= spec.max_amount
    if spec.min_amount is not None:
        assert amount >= spec.min_amount


@thorough
@given(tiers=tier_lists(), first=quantities, second=quantities)
def test_graduated_is_monotone_in_quantity(tiers, first, second):
    spec = ChargeSpec(model="graduated", tiers=tiers)
    low, high = sorted([first, second])

    assert rate(spec, low).amount <= rate(spec, high).amount


@thorough
@given(unit_amount=prices, flat_amount=numbers("0", "500", 2), quantity=quantities)
def test_one_band_graduated_equals_volume(unit_amount, flat_amount, quantity):
    band = (Tier(up_to=None, unit_amount=unit_amount, flat_amount=flat_amount),)
    graduated = rate(ChargeSpec(model="graduated", tiers=band), quantity)
    volume = rate(ChargeSpec(model="volume", tiers=band), quantity)

    assert graduated.amount == volume.amount


@thorough
@given(
    spec=charge_specs(commitments=False),
    first=quantities,
    second=quantities,
    events_before=event_counts,
    events_added=event_counts,
)
def test_increment_plus_before_equals_after(spec, first, second, events_before, events_added):
    before, after = sorted([first, second])

    rated_before = rate(spec, before, event_count=events_before)
    rated_after = rate(spec, after, event_count=events_before + events_added)
    rows = breakdown_difference(rated_after, rated_before)

    assert sum(line.amount for line in rows) + rated_before.amount == rated_after.amount


@thorough
@given(
    started_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1), timezones=st.just(UTC)
    ),
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
    anchor=st.sampled_from(["anniversary", "calendar"]),
    interval=st.sampled_from(list(Interval)),
    interval_count=st.integers(min_value=1, max_value=12),
)
def test_every_moment_falls_in_exactly_one_period(
    started_at, elapsed, anchor, interval, interval_count
):
    at = started_at + elapsed
    shape = {
        "started_at": started_at,
        "anchor": anchor,
        "interval": interval,
        "interval_count": interval_count,
    }

    period = period_containing(**shape, at=at)
    following = billing_period(**shape, index=period.index + 1)

    assert period.start <= at < period.end
    assert following.start == period.end
    assert 0 < period.fraction <= 1
    if period.index > 0:
        assert billing_period(**shape, index=period.index - 1).end == period.start
