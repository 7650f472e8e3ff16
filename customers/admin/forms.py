"""Forms of the operator's subscription pages: subscribe, change plan, cancel."""

from django import forms
from django.db.models import QuerySet

from catalog.currencies import money_display
from catalog.models import Coupon, Plan
from customers.models import BillingAnchor, Customer


class CustomerAdminForm(forms.ModelForm):
    """Codes upper-cased, metadata an object: what the services ask of every customer."""

    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "email",
            "currency",
            "net_payment_terms_days",
            "invoice_grace_period_hours",
            "tax_id",
            "tax_exempt",
            "tax_exempt_reason",
            "tax_rates",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "state",
            "country",
            "metadata",
        ]

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_metadata(self) -> dict:
        metadata = self.cleaned_data["metadata"]
        if metadata is None:
            return {}
        if not isinstance(metadata, dict):
            raise forms.ValidationError("metadata must be a JSON object.")
        return metadata


class PlanChoiceField(forms.ModelChoiceField):
    """Plans labelled the way an operator compares them: name, version, fee and interval."""

    def label_from_instance(self, plan: Plan) -> str:
        every = (
            plan.interval if plan.interval_count == 1 else f"{plan.interval_count} {plan.interval}s"
        )
        if not plan.base_amount:
            return f"{plan.name} ({plan.code} v{plan.version}) — usage only, billed every {every}"
        fee = money_display(plan.base_amount, plan.currency)
        return f"{plan.name} ({plan.code} v{plan.version}) — {fee} / {every}"


def plan_choices(*, currency: str) -> QuerySet[Plan]:
    """Every plan version the customer could be billed on (its currency, if it has one)."""
    plans = Plan.objects.all()
    if currency:
        plans = plans.filter(currency=currency)
    return plans.order_by("code", "-version")


def moment_input() -> forms.DateTimeInput:
    """The browser's date and time picker (UTC), instead of free text."""
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SubscribeForm(forms.Form):
    plan = PlanChoiceField(queryset=Plan.objects.none())
    started_at = forms.DateTimeField(
        label="Start",
        widget=moment_input(),
        help_text="UTC; midnight by default, so periods run from day to day. May be in the "
        "past: those periods get billed.",
    )
    anchor = forms.ChoiceField(choices=BillingAnchor.choices, initial=BillingAnchor.ANNIVERSARY)
    trial_days = forms.IntegerField(
        min_value=0, required=False, help_text="Leave blank for the plan's own trial."
    )
    ends_at = forms.DateTimeField(
        required=False,
        widget=moment_input(),
        help_text="Optional expiration (UTC): billing stops then by itself.",
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plan_choices(currency=currency)


class ChangePlanForm(forms.Form):
    plan = PlanChoiceField(queryset=Plan.objects.none())
    effective_at = forms.DateTimeField(
        required=False,
        widget=moment_input(),
        help_text="Blank: an upgrade now, a downgrade at the end of the current period. "
        "Otherwise a moment (UTC) of the unbilled time, or a future period start. "
        "Choosing the current plan withdraws a pending change.",
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plan_choices(currency=currency)


class CancelForm(forms.Form):
    when = forms.ChoiceField(
        choices=[
            ("period_end", "At the end of the current period"),
            ("now", "Now (the usage so far is billed at the next cycle close)"),
        ],
        initial="period_end",
        widget=forms.RadioSelect,
    )


class ApplyCouponForm(forms.Form):
    coupon = forms.ModelChoiceField(
        queryset=Coupon.objects.filter(active=True).order_by("code"),
        help_text="Its expiry, redemption limit and currency are checked when applied.",
    )
