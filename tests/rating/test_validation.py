"""A charge an operator set up wrongly is refused with messages per field, before any pricing."""

from decimal import Decimal

import pytest

from rating import ChargeSpec, ChargeSpecError, RatingError, Tier, rate, validate_charge


def tiers(*bounds, model_unit="0.10"):
    return tuple(
        Tier(up_to=None if bound is None else Decimal(bound), unit_amount=Decimal(model_unit))
        for bound in bounds
    )


REFUSALS = [
    # (case, spec, field, message)
    (
        "unknown model",
        ChargeSpec(model="tiered"),
        "model",
        "Unknown pricing model 'tiered': choose one of flat, per_unit, package, graduated, "
        "volume, stairstep, percentage.",
    ),
    (
        "per-unit without unit amount",
        ChargeSpec(model="per_unit"),
        "unit_amount",
        "A per-unit charge needs a unit amount.",
    ),
    ("flat without amount", ChargeSpec(model="flat"), "amount", "A flat charge needs an amount."),
    (
        "package without size",
        ChargeSpec(model="package", package_amount=Decimal("800")),
        "package_size",
        "A package charge needs a package size.",
    ),
    (
        "package of size 0",
        ChargeSpec(model="package", package_size=Decimal("0"), package_amount=Decimal("800")),
        "package_size",
        "The package size must be greater than 0.",
    ),
    (
        "package without amount",
        ChargeSpec(model="package", package_size=Decimal("1000")),
        "package_amount",
        "A package charge needs a package amount.",
    ),
    (
        "graduated without tiers",
        ChargeSpec(model="graduated"),
        "tiers",
        "A graduated charge needs at least one tier.",
    ),
    (
        "volume without tiers",
        ChargeSpec(model="volume"),
        "tiers",
        "A volume charge needs at least one tier.",
    ),
    (
        "tiers out of order",
        ChargeSpec(model="graduated", tiers=tiers("1000", "500", None)),
        "tiers",
        "Tiers must be in ascending order of up_to: tier 2 (500) is not above tier 1 (1000).",
    ),
    (
        "two tiers with the same up_to",
        ChargeSpec(model="volume", tiers=tiers("1000", "1000", None)),
        "tiers",
        "Tiers must be in ascending order of up_to: tier 2 (1000) is not above tier 1 (1000).",
    ),
    (
        "unbounded tier before the last",
        ChargeSpec(model="graduated", tiers=tiers(None, "1000", None)),
        "tiers",
        "Only the last tier may be unbounded (up_to empty).",
    ),
    (
        "last tier bounded",
        ChargeSpec(model="graduated", tiers=tiers("1000", "2000")),
        "tiers",
        "The last tier must be unbounded (up_to empty), so that every quantity has a price.",
    ),
    (
        "first tier up to 0",
        ChargeSpec(model="graduated", tiers=tiers("0", None)),
        "tiers",
        "Tier 1: up_to must be above 0.",
    ),
    (
        "stairstep tier with a unit amount",
        ChargeSpec(model="stairstep", tiers=tiers("10", None, model_unit="0.50")),
        "tiers",
        "Tier 1: a stairstep charge prices each step by its flat amount; "
        "set the unit amount (0.5) to 0.",
    ),
    (
        "negative tier flat amount",
        ChargeSpec(model="graduated", tiers=(Tier(up_to=None, flat_amount=Decimal("-1")),)),
        "tiers",
        "Tier 1: the flat amount cannot be negative.",
    ),
    (
        "percentage without rate",
        ChargeSpec(model="percentage"),
        "rate",
        "A percentage charge needs a rate (a percent, e.g. 2.9).",
    ),
    (
        "percentage above 100",
        ChargeSpec(model="percentage", rate=Decimal("150")),
        "rate",
        "The rate is a percent from 0 to 100, not 150.",
    ),
    (
        "negative unit amount",
        ChargeSpec(model="per_unit", unit_amount=Decimal("-0.10")),
        "unit_amount",
        "The unit amount cannot be negative (-0.1).",
    ),
    (
        "negative free units",
        ChargeSpec(model="per_unit", unit_amount=Decimal("1"), free_units=Decimal("-5")),
        "free_units",
        "The number of free units cannot be negative (-5).",
    ),
    (
        "negative fixed amount",
        ChargeSpec(model="percentage", rate=Decimal("1"), fixed_amount=Decimal("-0.30")),
        "fixed_amount",
        "The fixed amount cannot be negative (-0.3).",
    ),
    (
        "minimum above maximum",
        ChargeSpec(
            model="per_unit",
            unit_amount=Decimal("1"),
            min_amount=Decimal("100"),
            max_amount=Decimal("50"),
        ),
        "min_amount",
        "The minimum amount (100) cannot be above the maximum amount (50).",
    ),
]


@pytest.mark.parametrize(
    ("spec", "field", "message"), [pytest.param(*row[1:], id=row[0]) for row in REFUSALS]
)
def test_refusal_names_the_field_and_says_why(spec, field, message):
    with pytest.raises(ChargeSpecError) as refused:
        validate_charge(spec)

    assert message in refused.value.errors[field]


@pytest.mark.parametrize(
    ("spec", "field", "message"), [pytest.param(*row[1:], id=row[0]) for row in REFUSALS]
)
def test_rating_a_refused_charge_raises_the_same_errors(spec, field, message):
    with pytest.raises(ChargeSpecError) as refused:
        rate(spec, Decimal("1"))

    assert message in refused.value.errors[field]


def test_every_problem_is_reported_at_once():
    spec = ChargeSpec(
        model="package",
        package_size=Decimal("0"),
        free_units=Decimal("-1"),
        min_amount=Decimal("10"),
        max_amount=Decimal("5"),
    )

    with pytest.raises(ChargeSpecError) as refused:
        validate_charge(spec)

    assert set(refused.value.errors) == {
        "package_size",
        "package_amount",
        "free_units",
        "min_amount",
    }
    assert "A package charge needs a package amount." in str(refused.value)


def test_a_tier_order_mistake_is_compared_with_the_highest_bound_so_far():
    spec = ChargeSpec(model="graduated", tiers=tiers("1000", "500", "800", None))

    with pytest.raises(ChargeSpecError) as refused:
        validate_charge(spec)

    assert refused.value.errors["tiers"] == [
        "Tiers must be in ascending order of up_to: tier 2 (500) is not above tier 1 (1000).",
        "Tiers must be in ascending order of up_to: tier 3 (800) is not above tier 1 (1000).",
    ]


@pytest.mark.parametrize(
    "spec",
    [
        ChargeSpec(model="flat", amount=Decimal("0")),
        ChargeSpec(model="per_unit", unit_amount=Decimal("0.000000000001")),
        ChargeSpec(model="package", package_size=Decimal("0.5"), package_amount=Decimal("1")),
        ChargeSpec(model="graduated", tiers=tiers(None)),
        ChargeSpec(model="stairstep", tiers=tiers("10", None, model_unit="0")),
        ChargeSpec(model="percentage", rate=Decimal("100")),
        ChargeSpec(
            model="per_unit",
            unit_amount=Decimal("1"),
            min_amount=Decimal("5"),
            max_amount=Decimal("5"),
        ),
    ],
)
def test_valid_charges_pass(spec):
    assert validate_charge(spec) is None


def test_a_float_price_is_refused_on_its_field():
    with pytest.raises(ChargeSpecError) as refused:
        ChargeSpec(model="per_unit", unit_amount=0.8)

    assert list(refused.value.errors) == ["unit_amount"]
    assert "float" in refused.value.errors["unit_amount"][0]


def test_a_float_tier_bound_is_refused():
    with pytest.raises(ChargeSpecError) as refused:
        Tier(up_to=1000.0)

    assert list(refused.value.errors) == ["tiers"]


def test_tiers_given_as_a_list_become_a_tuple():
    spec = ChargeSpec(model="graduated", tiers=list(tiers("10", None)))

    assert isinstance(spec.tiers, tuple)


@pytest.mark.parametrize(
    ("quantity", "event_count", "message"),
    [
        (Decimal("-1"), 0, r"quantity cannot be negative \(-1\)"),
        (1.5, 0, "float"),
        (True, 0, "bool"),
        ("lots", 0, "not a number"),
        (Decimal("1"), -1, "event count"),
    ],
)
def test_bad_quantities_are_refused(quantity, event_count, message):
    spec = ChargeSpec(model="per_unit", unit_amount=Decimal("1"))

    with pytest.raises(RatingError, match=message):
        rate(spec, quantity, event_count=event_count)


def test_tiers_that_are_not_tiers_are_refused():
    with pytest.raises(ChargeSpecError) as refused:
        ChargeSpec(model="graduated", tiers=({"up_to": None, "unit_amount": "1"},))

    assert refused.value.errors == {"tiers": ["The tiers must be a sequence of rating.Tier."]}
