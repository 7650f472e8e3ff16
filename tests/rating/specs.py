"""The charges of the worked examples, shared by the rating tests."""

from decimal import Decimal

from rating import ChargeSpec, Tier

PER_UNIT_WITH_FREE = ChargeSpec(
    model="per_unit", unit_amount=Decimal("1.00"), free_units=Decimal("10")
)
GRADUATED_THREE_BANDS = ChargeSpec(
    model="graduated",
    tiers=(
        Tier(up_to=Decimal("1000"), unit_amount=Decimal("0.80")),
        Tier(up_to=Decimal("2000"), unit_amount=Decimal("0.60")),
        Tier(up_to=None, unit_amount=Decimal("0.40")),
    ),
)
GRADUATED_TWO_BANDS = ChargeSpec(
    model="graduated",
    tiers=(
        Tier(up_to=Decimal("1000"), unit_amount=Decimal("1.50")),
        Tier(up_to=None, unit_amount=Decimal("1.35")),
    ),
)
GRADUATED_WITH_FLAT = ChargeSpec(
    model="graduated",
    tiers=(
        Tier(up_to=Decimal("100"), unit_amount=Decimal("0"), flat_amount=Decimal("20.00")),
        Tier(up_to=None, unit_amount=Decimal("0.25"), flat_amount=Decimal("5.00")),
    ),
)
PACKAGE_CREDITS = ChargeSpec(
    model="package", package_size=Decimal("1000"), package_amount=Decimal("800.00")
)
VOLUME = ChargeSpec(
    model="volume",
    tiers=(
        Tier(up_to=Decimal("1000"), unit_amount=Decimal("1.00")),
        Tier(up_to=Decimal("2000"), unit_amount=Decimal("0.80")),
        Tier(up_to=None, unit_amount=Decimal("0.50")),
    ),
)
VOLUME_WITH_FLAT = ChargeSpec(
    model="volume",
    tiers=(
        Tier(up_to=Decimal("100"), unit_amount=Decimal("0.10"), flat_amount=Decimal("5.00")),
        Tier(up_to=None, unit_amount=Decimal("0.05"), flat_amount=Decimal("10.00")),
    ),
)
STAIRSTEP = ChargeSpec(
    model="stairstep",
    tiers=(
        Tier(up_to=Decimal("10"), flat_amount=Decimal("50.00")),
        Tier(up_to=Decimal("50"), flat_amount=Decimal("200.00")),
        Tier(up_to=None, flat_amount=Decimal("500.00")),
    ),
)
FLAT = ChargeSpec(model="flat", amount=Decimal("49.00"))
PERCENTAGE = ChargeSpec(model="percentage", rate=Decimal("2.9"), fixed_amount=Decimal("0.30"))
PER_UNIT_WITH_MINIMUM = ChargeSpec(
    model="per_unit", unit_amount=Decimal("0.10"), min_amount=Decimal("50.00")
)
PER_UNIT_WITH_MAXIMUM = ChargeSpec(
    model="per_unit", unit_amount=Decimal("0.10"), max_amount=Decimal("75.00")
)
PER_TOKEN = ChargeSpec(model="per_unit", unit_amount=Decimal("0.000002"))
PER_TOKEN_FINE = ChargeSpec(model="per_unit", unit_amount=Decimal("0.000000123456"))
