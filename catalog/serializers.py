"""API shapes of the catalog (docs/api.md): meters, plans with charges and tiers, price previews.

Input serializers check types and refuse unknown fields; the pricing rules themselves are the
services' (and rating's). Output serializers print money as decimal strings with at least the
plan currency's decimals ("0.80", "1600" in JPY) and quantities as plain digits ("1000").
"""

from collections.abc import Mapping

from rest_framework import serializers

from billing.api import validate_metadata
from catalog.currencies import is_known_currency, price_text
from catalog.models import (
    Aggregation,
    BaseTiming,
    Cadence,
    Charge,
    FeatureType,
    Interval,
    MeterReset,
    Plan,
    PricingModel,
    Tier,
)
from rating import decimal_string


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not be silently dropped)."""

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, Mapping):
            for key in data:
                field = self.fields.get(key)
                if field is None:
                    errors[key] = ["Unknown field."]
                elif field.read_only:
                    errors[key] = ["This field is read-only."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**errors, **error.detail}) from None
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _decimal_input(model, name: str, **kwargs) -> serializers.DecimalField:
    """A decimal input sized like its column, so a value that fits the API fits the database."""
    column = model._meta.get_field(name)
    return serializers.DecimalField(
        max_digits=column.max_digits,
        decimal_places=column.decimal_places,
        required=False,
        **kwargs,
    )


class PriceField(serializers.DecimalField):
    """Output: an amount as entered, with at least the currency's decimals ("0.80", "0.0012")."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=24, decimal_places=12, read_only=True, **kwargs)

    def to_representation(self, value):
        currency = self.context.get("currency")
        if value is None:
            return None
        return price_text(value, currency) if currency else decimal_string(value)


class QuantityField(serializers.DecimalField):
    """Output: a quantity or percent as plain digits ("1000", "2.5")."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=24, decimal_places=6, read_only=True, **kwargs)

    def to_representation(self, value):
        return None if value is None else decimal_string(value)


# --- Meters -------------------------------------------------------------------------------


class MeterSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    event_name = serializers.CharField(max_length=200)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices)
    field = serializers.CharField(required=False, allow_blank=True, max_length=200)
    filters = serializers.JSONField(
        required=False, help_text='Property → allowed values, e.g. {"model": ["gpt-4"]}.'
    )
    group_by = serializers.CharField(required=False, allow_blank=True, max_length=200)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=50)
    reset = serializers.ChoiceField(choices=MeterReset.choices, required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# --- Plans: input -------------------------------------------------------------------------


class TierInputSerializer(StrictSerializer):
    up_to = _decimal_input(Tier, "up_to", allow_null=True, help_text="null on the last tier.")
    unit_amount = _decimal_input(Tier, "unit_amount")
    flat_amount = _decimal_input(Tier, "flat_amount")


class ChargeInputSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    meter = serializers.SlugField(max_length=100, help_text="The code of the meter priced.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model = serializers.ChoiceField(choices=PricingModel.choices)
    unit_amount = _decimal_input(Charge, "unit_amount", allow_null=True)
    amount = _decimal_input(Charge, "amount", allow_null=True)
    package_size = _decimal_input(Charge, "package_size", allow_null=True)
    package_amount = _decimal_input(Charge, "package_amount", allow_null=True)
    rate = _decimal_input(Charge, "rate", allow_null=True, help_text="Percent, e.g. 2.9")
    fixed_amount = _decimal_input(Charge, "fixed_amount", allow_null=True)
    free_units = _decimal_input(Charge, "free_units")
    min_amount = _decimal_input(Charge, "min_amount", allow_null=True)
    max_amount = _decimal_input(Charge, "max_amount", allow_null=True)
    cadence = serializers.ChoiceField(choices=Cadence.choices, required=False)
    tiers = serializers.ListField(child=TierInputSerializer(), required=False)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = error.detail
            if isinstance(detail, Mapping) and isinstance(detail.get("tiers"), Mapping):
                # Tier errors read as one list, like the pricing rules' ("Tier 2 up to: ...").
                detail = {**detail, "tiers": _tier_messages(detail["tiers"])}
            raise serializers.ValidationError(detail) from None


def _tier_messages(errors: Mapping) -> list[str]:
    messages = []
    for index, tier_errors in sorted(errors.items(), key=lambda item: int(item[0])):
        if not isinstance(tier_errors, Mapping):
            messages.extend(f"Tier {int(index) + 1}: {message}" for message in tier_errors)
            continue
        for name, field_errors in tier_errors.items():
            label = name.replace("_", " ")
            messages.extend(f"Tier {int(index) + 1} {label}: {m}" for m in field_errors)
    return messages


class PreviewChargeSerializer(ChargeInputSerializer):
    """A charge as in a plan, whose meter is optional (a pricing experiment)."""

    meter = serializers.SlugField(max_length=100, required=False)


class PlanInputSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(read_only=True, help_text="Set by Tally.")
    in_use = serializers.BooleanField(read_only=True)
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")
    interval = serializers.ChoiceField(choices=Interval.choices)
    interval_count = serializers.IntegerField(min_value=1, required=False)
    base_amount = _decimal_input(Plan, "base_amount")
    base_timing = serializers.ChoiceField(choices=BaseTiming.choices, required=False)
    setup_amount = _decimal_input(Plan, "setup_amount")
    trial_days = serializers.IntegerField(min_value=0, required=False)
    trial_bills_usage = serializers.BooleanField(
        required=False, help_text="Bill usage during a trial (default false: a free trial)."
    )
    metadata = serializers.JSONField(required=False, validators=[validate_metadata])
    charges = serializers.ListField(child=ChargeInputSerializer(), required=False)
    features = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=100,
        help_text='Feature grants: [{"feature": "<feature code>", "limit"?: "1000" (metered, '
        'per period; null: unlimited), "hard"?: true, "value"?: "5" (static), "alerts"?: '
        "[80, 100] (percents of the limit)}]; replaces all the plan's grants when given.",
    )


class PricePreviewInputSerializer(StrictSerializer):
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")
    charge = PreviewChargeSerializer()
    quantity = serializers.DecimalField(
        max_digits=30,
        decimal_places=12,
        min_value=0,
        help_text="The period quantity; for a percentage charge, the summed amount.",
    )
    event_count = serializers.IntegerField(
        min_value=0, required=False, default=0, help_text="Events, for a percentage's fixed fee."
    )

    def validate_currency(self, value: str) -> str:
        value = value.strip().upper()
        if not is_known_currency(value):
            raise serializers.ValidationError(
                f"{value!r} is not a currency Tally can bill in: use an ISO 4217 code such as USD."
            )
        return value


# --- Plans: output ------------------------------------------------------------------------


class TierSerializer(serializers.Serializer):
    up_to = QuantityField(allow_null=True, help_text="null on the last tier.")
    unit_amount = PriceField()
    flat_amount = PriceField()


class ChargeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    meter = serializers.CharField(source="meter.code", read_only=True)
    position = serializers.IntegerField(read_only=True)
    description = serializers.CharField(read_only=True)
    model = serializers.ChoiceField(choices=PricingModel.choices, read_only=True)
    unit_amount = PriceField(allow_null=True)
    amount = PriceField(allow_null=True)
    package_size = QuantityField(allow_null=True)
    package_amount = PriceField(allow_null=True)
    rate = QuantityField(allow_null=True)
    fixed_amount = PriceField(allow_null=True)
    free_units = QuantityField()
    min_amount = PriceField(allow_null=True)
    max_amount = PriceField(allow_null=True)
    cadence = serializers.ChoiceField(choices=Cadence.choices, read_only=True)
    tiers = TierSerializer(many=True, read_only=True)


class PlanFeatureSerializer(serializers.Serializer):
    feature = serializers.CharField(source="feature.code", read_only=True)
    type = serializers.CharField(source="feature.type", read_only=True)
    limit = QuantityField(allow_null=True)
    hard = serializers.BooleanField(read_only=True)
    value = serializers.CharField(read_only=True)
    alerts = serializers.ListField(child=serializers.IntegerField(), read_only=True)


class FeatureSerializer(StrictSerializer):
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    type = serializers.ChoiceField(choices=FeatureType.choices)
    meter = serializers.SlugField(
        max_length=100, required=False, allow_null=True, help_text="Metered only: a meter code."
    )
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        body = super().to_representation(instance)
        body["meter"] = instance.meter.code if instance.meter_id else None
        return body


class PlanSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.SlugField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)
    interval = serializers.ChoiceField(choices=Interval.choices, read_only=True)
    interval_count = serializers.IntegerField(read_only=True)
    base_amount = PriceField()
    base_timing = serializers.ChoiceField(choices=BaseTiming.choices, read_only=True)
    setup_amount = PriceField()
    trial_days = serializers.IntegerField(read_only=True)
    trial_bills_usage = serializers.BooleanField(read_only=True)
    metadata = serializers.JSONField(read_only=True)
    in_use = serializers.BooleanField(
        read_only=True, help_text="Used by a subscription: changes make a new version."
    )
    charges = ChargeSerializer(many=True, read_only=True)
    features = PlanFeatureSerializer(many=True, read_only=True, source="feature_grants")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        # Nested money fields read the currency of the plan being printed.
        self.context["currency"] = instance.currency
        return super().to_representation(instance)


class PlanVersionSerializer(serializers.Serializer):
    code = serializers.SlugField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    in_use = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class BreakdownLineSerializer(serializers.Serializer):
    label = serializers.CharField()
    units = serializers.CharField()
    unit_amount = serializers.CharField()
    flat_amount = serializers.CharField()
    amount = serializers.CharField(help_text="Exact, before the line is rounded.")
    from_unit = serializers.CharField(allow_null=True)
    up_to = serializers.CharField(allow_null=True)


class PricePreviewSerializer(serializers.Serializer):
    currency = serializers.CharField()
    quantity = serializers.CharField()
    free_units = serializers.CharField()
    billable_quantity = serializers.CharField()
    event_count = serializers.IntegerField()
    amount = serializers.CharField(help_text="Rounded half-up to the currency, e.g. 1600.00.")
    exact_amount = serializers.CharField()
    breakdown = BreakdownLineSerializer(many=True)
