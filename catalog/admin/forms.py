"""Forms of the admin plan builder: a plan, its charges, and each charge's tiers nested inside.

Django has no nested inlines, so each charge form carries its own small tier formset (prefix
"<charge prefix>-tiers"). The charge form validates itself and its tiers with rating's
`validate_charge` (through catalog.validation), so the admin refuses exactly what the API does,
with each message beside the field it is about.
"""

from decimal import Decimal

from django import forms
from django.forms.models import BaseInlineFormSet

from catalog.currencies import is_known_currency, price_text
from catalog.models import Cadence, Charge, Meter, Plan, Tier
from catalog.validation import (
    CHARGE_NUMBER_FIELDS,
    PLAN_FIELDS,
    charge_errors,
    meter_field_errors,
    on_demand_refusal,
    plan_field_errors,
)
from rating import decimal_string

TIER_EXTRA_ROWS = 3
CHARGE_FORM_FIELDS = ("meter", "model", "description", "cadence", *CHARGE_NUMBER_FIELDS)
# Numbers that are counts or percents, shown as plain digits; the others are money.
PLAIN_NUMBERS = frozenset({"up_to", "package_size", "free_units", "rate", "interval_count"})


def _readable_initial(initial: dict, *, currency: str | None) -> dict:
    """Stored decimals as an operator typed them: 0.800000000000 → "0.80", 1000.000000 → "1000"."""
    readable = dict(initial)
    for name, value in initial.items():
        if not isinstance(value, Decimal):
            continue
        if name in PLAIN_NUMBERS or not currency or not is_known_currency(currency):
            readable[name] = decimal_string(value)
        else:
            readable[name] = price_text(value, currency)
    return readable


def _decimal(model, name: str, **kwargs) -> forms.DecimalField:
    column = model._meta.get_field(name)
    return forms.DecimalField(
        max_digits=column.max_digits, decimal_places=column.decimal_places, **kwargs
    )


class TierForm(forms.Form):
    """One band; a row left entirely blank is no band."""

    up_to = _decimal(
        Tier, "up_to", required=False, help_text="Leave empty on the last tier (unbounded)."
    )
    # The last band has no upper bound: the empty box says so.
    up_to.widget.attrs["placeholder"] = "and above"
    unit_amount = _decimal(Tier, "unit_amount", required=False)
    flat_amount = _decimal(Tier, "flat_amount", required=False)

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return all(data.get(name) is None for name in ("up_to", "unit_amount", "flat_amount"))


class BaseTierFormSet(forms.BaseFormSet):
    """The tiers of one charge. `rule_errors` are the pricing rules' messages about them."""

    rule_errors: list[str] = []

    def clean(self):
        if self.rule_errors:
            raise forms.ValidationError(self.rule_errors)

    def tier_values(self) -> list[dict]:
        """The tiers as entered, top to bottom, without blank rows (initial ones if unbound)."""
        if not self.is_bound:
            return [dict(tier) for tier in self.initial or []]
        values = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.is_blank():
                continue
            values.append(
                {
                    "up_to": form.cleaned_data["up_to"],
                    "unit_amount": form.cleaned_data["unit_amount"] or Decimal("0"),
                    "flat_amount": form.cleaned_data["flat_amount"] or Decimal("0"),
                }
            )
        return values

    def refuse(self, messages: list[str]) -> None:
        """Show the pricing rules' `messages` as errors of the whole tier table."""
        self.rule_errors = list(messages)
        self.full_clean()


TierFormSet = forms.formset_factory(TierForm, formset=BaseTierFormSet, extra=TIER_EXTRA_ROWS)


class ChargeForm(forms.ModelForm):
    """A charge of the plan builder, with its tiers as `self.tiers`."""

    class Meta:
        model = Charge
        fields = list(CHARGE_FORM_FIELDS)
        help_texts = {
            "unit_amount": "Per unit (per-unit model).",
            "amount": "Charged once in a period with any usage (flat model).",
            "package_size": "Units per package (package model).",
            "package_amount": "Price of each started package (package model).",
            "rate": "Percent of the summed amount, e.g. 2.9 (percentage model).",
            "fixed_amount": "Added per event (percentage model).",
            "free_units": "Included each period, taken off before pricing.",
            "min_amount": "The period charge is at least this (commitment).",
            "max_amount": "The period charge is at most this (cap).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial = _readable_initial(self.initial, currency=self._currency())

    def _currency(self) -> str | None:
        return self.instance.plan.currency if self.instance.pk else None

    def attach_tiers(self, data) -> None:
        prefix = f"{self.prefix}-tiers"
        initial = None
        if self.instance.pk:
            initial = [
                _readable_initial(
                    {"up_to": t.up_to, "unit_amount": t.unit_amount, "flat_amount": t.flat_amount},
                    currency=self._currency(),
                )
                for t in self.instance.tiers.all()
            ]
        # A post without this charge's tier table (a script, an old page) keeps its tiers.
        bound = data is not None and f"{prefix}-TOTAL_FORMS" in data
        self.tiers = TierFormSet(data if bound else None, prefix=prefix, initial=initial)

    def has_changed(self) -> bool:
        return super().has_changed() or (self.tiers.is_bound and self.tiers.has_changed())

    def clean(self):
        cleaned = super().clean()
        tiers_ok = self.tiers.is_valid() if self.tiers.is_bound else True
        model = cleaned.get("model")
        if not model:
            return cleaned
        values = {name: cleaned.get(name) for name in CHARGE_NUMBER_FIELDS}
        values["model"] = model
        values["tiers"] = self.tiers.tier_values() if tiers_ok else []
        for name, messages in charge_errors(values).items():
            if name == "tiers":
                if tiers_ok:
                    self.tiers.refuse(messages)
                    tiers_ok = False
            elif name in self.fields and name not in self.errors:
                self.add_error(name, messages)
            elif name not in self.fields:
                self.add_error(None, messages)
        if not tiers_ok:
            self.add_error(None, "Check the tiers of this charge, below.")
        meter = cleaned.get("meter")
        if cleaned.get("cadence") == Cadence.ON_DEMAND and meter is not None:
            refusal = on_demand_refusal(meter)
            if refusal and "cadence" not in self.errors:
                self.add_error("cadence", refusal)
        return cleaned

    def charge_values(self) -> dict:
        """The charge as the plan services take it."""
        values = {name: self.cleaned_data.get(name) for name in CHARGE_FORM_FIELDS}
        values["description"] = values.get("description") or ""
        values["tiers"] = self.tiers.tier_values()
        return values


class ChargeInlineFormSet(BaseInlineFormSet):
    """The plan's charges, each with its nested tier formset."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.attach_tiers(self.data if self.is_bound else None)

    def charge_values(self) -> list[dict]:
        """The charges to keep, in page order, as the plan services take them."""
        return [
            form.charge_values()
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
        ]


class PlanForm(forms.ModelForm):
    """A plan's own fields, checked with the rules of the plan services."""

    class Meta:
        model = Plan
        fields = ["code", *PLAN_FIELDS]
        help_texts = {
            "currency": "ISO 4217 code, e.g. USD, EUR, JPY.",
            "base_amount": "Recurring fee per period.",
            "setup_amount": "Charged once, on the first invoice.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.instance.currency if self.instance.pk else None
        self.initial = _readable_initial(self.initial, currency=currency)

    def clean_metadata(self) -> dict:
        metadata = self.cleaned_data.get("metadata")
        return {} if metadata is None else metadata

    def clean_currency(self) -> str:
        return (self.cleaned_data.get("currency") or "").strip().upper()

    def clean_code(self) -> str:
        code = self.cleaned_data.get("code")
        if self.instance.pk is None and Plan.objects.filter(code=code).exists():
            raise forms.ValidationError(
                "A plan with this code exists: open it and change it there (a new version is "
                "made if it is in use)."
            )
        if self.instance.pk is not None and code != self.instance.code:
            raise forms.ValidationError("A plan's code cannot be changed.")
        return code

    def clean(self):
        cleaned = super().clean()
        code = cleaned.get("code", self.instance.code)
        candidate = Plan(code=code, **{name: cleaned.get(name) for name in PLAN_FIELDS})
        for name, messages in plan_field_errors(candidate).items():
            if name in self.fields and name not in self.errors and name in cleaned:
                self.add_error(name, messages)
        return cleaned


class MeterForm(forms.ModelForm):
    class Meta:
        model = Meter
        fields = [
            "code",
            "name",
            "description",
            "event_name",
            "aggregation",
            "field",
            "filters",
            "group_by",
            "unit",
            "reset",
        ]

    def clean_filters(self) -> dict:
        filters = self.cleaned_data.get("filters")
        return {} if filters is None else filters

    def clean(self):
        cleaned = super().clean()
        candidate = Meter(**{name: cleaned.get(name) for name in self._meta.fields})
        if self.instance.pk:
            candidate.code = self.instance.code
        for name, messages in meter_field_errors(candidate).items():
            if name in self.fields and name not in self.errors and name in cleaned:
                self.add_error(name, messages)
        return cleaned


class CalculatorForm(forms.Form):
    """The price calculator: one charge of the plan, a quantity, and events for percentages."""

    charge = forms.ModelChoiceField(queryset=Charge.objects.none(), empty_label=None)
    quantity = forms.DecimalField(
        max_digits=30, decimal_places=12, min_value=0, help_text="Usage in the period."
    )
    event_count = forms.IntegerField(
        min_value=0,
        required=False,
        initial=0,
        help_text="Number of events (only a percentage charge's fixed amount uses it).",
    )

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["charge"].queryset = (
            Charge.objects.filter(plan=plan).select_related("meter").order_by("position", "id")
        )
