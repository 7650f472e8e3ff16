"""API shapes of customers and subscriptions. Inputs check types; the rules are the services'."""

from rest_framework import serializers

from billing.api import validate_metadata
from customers.api.fields import AwareDateTimeField, StrictSerializer
from customers.models import BillingAnchor, Customer, Subscription, SubscriptionPhase
from customers.services import EDITABLE_FIELDS

CUSTOMER_FIELDS = ["external_id", *EDITABLE_FIELDS]


# --- customers ---------------------------------------------------------------------------------


class CustomerInputSerializer(StrictSerializer):
    """POST /customers (and PATCH, partially). The external id is set once."""

    external_id = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=255)
    email = serializers.EmailField(required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    state = serializers.CharField(max_length=255, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tax_exempt = serializers.BooleanField(required=False)
    tax_exempt_reason = serializers.CharField(max_length=300, required=False, allow_blank=True)
    tax_rates = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=10**18 - 1),
        required=False,
        max_length=20,
    )
    net_payment_terms_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    invoice_grace_period_hours = serializers.IntegerField(
        min_value=0, max_value=24 * 365, required=False
    )
    metadata = serializers.DictField(required=False, validators=[validate_metadata])


class CustomerSerializer(serializers.ModelSerializer):
    subscriptions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    tax_rates = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    email = serializers.CharField(read_only=True, help_text="An email address, or empty.")

    class Meta:
        model = Customer
        fields = [*CUSTOMER_FIELDS, "tax_rates", "subscriptions", "created_at", "updated_at"]
        read_only_fields = fields


# --- subscriptions -----------------------------------------------------------------------------


class SubscriptionCreateSerializer(StrictSerializer):
    """POST /subscriptions: a customer's external id and a plan code (its latest version)."""

    customer = serializers.CharField(max_length=255)
    plan = serializers.CharField(max_length=100)
    plan_version = serializers.IntegerField(min_value=1, required=False)
    started_at = AwareDateTimeField(required=False)
    anchor = serializers.ChoiceField(choices=BillingAnchor.choices, required=False)
    ends_at = AwareDateTimeField(required=False, allow_null=True)
    trial_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    metadata = serializers.DictField(required=False, validators=[validate_metadata])


class SubscriptionChangePlanSerializer(StrictSerializer):
    """POST /subscriptions/{id}/change-plan: `at` overrides when the change takes effect."""

    plan = serializers.CharField(max_length=100)
    plan_version = serializers.IntegerField(min_value=1, required=False)
    at = AwareDateTimeField(required=False)


class SubscriptionCancelSerializer(StrictSerializer):
    """POST /subscriptions/{id}/cancel: at the end of the current period (default) or now."""

    at_period_end = serializers.BooleanField(default=True)


class SubscriptionPhaseSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.code")
    plan_version = serializers.IntegerField(source="plan.version")

    class Meta:
        model = SubscriptionPhase
        fields = ["plan", "plan_version", "starts_at", "ends_at", "reason"]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    plan = serializers.CharField(source="plan.code")
    plan_version = serializers.IntegerField(source="plan.version")
    plan_name = serializers.CharField(source="plan.name")
    currency = serializers.CharField(source="plan.currency")
    next_billing_at = serializers.DateTimeField(source="current_period_end", allow_null=True)
    phases = SubscriptionPhaseSerializer(many=True, read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "customer",
            "plan",
            "plan_version",
            "plan_name",
            "currency",
            "status",
            "anchor",
            "started_at",
            "trial_ends_at",
            "current_period_start",
            "current_period_end",
            "next_billing_at",
            "cancel_at_period_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
            "ends_at",
            "metadata",
            "phases",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
