"""Creating and updating customers, with their refusals (unknown currency, taken external id)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.errors import AppError
from catalog.models import TaxRate
from customers.models import Customer
from customers.validators import (
    validate_country_code,
    validate_currency_code,
    validate_external_id,
)

# The fields an operator or an integration may set; external_id is set once, at creation.
EDITABLE_FIELDS = (
    "name",
    "email",
    "currency",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "state",
    "country",
    "tax_id",
    "tax_exempt",
    "tax_exempt_reason",
    "net_payment_terms_days",
    "invoice_grace_period_hours",
    "metadata",
)


def _normalized(changes: dict[str, Any]) -> dict[str, Any]:
    """Trim text, upper-case codes, and check what full_clean does not (currency, country)."""
    normalized = dict(changes)
    errors: dict[str, str] = {}
    for field, value in changes.items():
        if isinstance(value, str) and field != "metadata":
            normalized[field] = value.strip()
    if "name" in normalized and not normalized["name"]:
        errors["name"] = "A customer needs a name."
    if normalized.get("tax_exempt") and not normalized.get("tax_exempt_reason"):
        errors["tax_exempt_reason"] = "A tax-exempt customer needs the reason printed on invoices."
    for field, validate in (
        ("currency", validate_currency_code),
        ("country", validate_country_code),
    ):
        if normalized.get(field):
            normalized[field] = normalized[field].upper()
            try:
                validate(normalized[field])
            except ValidationError as error:
                errors[field] = error.messages[0]
    if "metadata" in normalized:
        if normalized["metadata"] is None:
            normalized["metadata"] = {}
        elif not isinstance(normalized["metadata"], dict):
            errors["metadata"] = "metadata must be a JSON object."
    for field in ("net_payment_terms_days", "invoice_grace_period_hours"):
        value = normalized.get(field)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors[field] = f"{field} must be a whole number, 0 or more."
    if errors:
        raise ValidationError(errors)
    return normalized


def _full_clean(customer: Customer) -> None:
    # Uniqueness is answered as a conflict (409) by the callers, not as a field error.
    customer.full_clean(validate_unique=False)


@transaction.atomic
def _tax_rates_of(ids) -> list:
    """The tax rates `ids` names (docs/operations.md, "Taxes"); unknown ids are refused."""
    ids = list(dict.fromkeys(ids))
    rates = list(TaxRate.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {rate.pk for rate in rates})
    if missing:
        raise ValidationError({"tax_rates": f"Unknown tax rate(s): {missing}."})
    return rates


@transaction.atomic
def customer_create(
    *, external_id: str, name: str, tax_rates: list[int] | None = None, **attributes: Any
) -> Customer:
    """A new customer. `attributes` are any of EDITABLE_FIELDS; a conflict AppError if taken."""
    rates = _tax_rates_of(tax_rates or [])
    unknown = sorted(set(attributes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({field: "Unknown field." for field in unknown})
    external_id = (external_id or "").strip()
    if not external_id:
        raise ValidationError({"external_id": "A customer needs an external_id."})
    try:
        validate_external_id(external_id)
    except ValidationError as error:
        raise ValidationError({"external_id": error.messages}) from None
    values = _normalized({"name": name, **attributes})
    if Customer.objects.filter(external_id=external_id).exists():
        raise AppError.conflict(f"A customer with external_id '{external_id}' already exists.")
    customer = Customer(external_id=external_id, **values)
    _full_clean(customer)
    customer.save()
    customer.tax_rates.set(rates)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, tax_rates: list[int] | None = None, **changes: Any
) -> Customer:
    """Change some of EDITABLE_FIELDS (and the tax rates, when given). The currency is fixed
    once the customer has subscribed."""
    if "external_id" in changes and changes["external_id"] != customer.external_id:
        raise ValidationError(
            {"external_id": "external_id cannot be changed: events and integrations refer to it."}
        )
    changes.pop("external_id", None)
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({field: "Unknown field." for field in unknown})
    values = _normalized(changes)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    new_currency = values.get("currency", customer.currency)
    if new_currency != customer.currency and customer.subscriptions.exists():
        raise ValidationError(
            {
                "currency": f"Customer '{customer.external_id}' is billed in {customer.currency} "
                "and has subscriptions: its currency cannot change."
            }
        )
    if "tax_exempt" in values or "tax_exempt_reason" in values:
        exempt = values.get("tax_exempt", customer.tax_exempt)
        if exempt and not values.get("tax_exempt_reason", customer.tax_exempt_reason):
            raise ValidationError(
                {"tax_exempt_reason": "A tax-exempt customer needs the reason printed on invoices."}
            )
    for field, value in values.items():
        setattr(customer, field, value)
    _full_clean(customer)
    customer.save()
    if tax_rates is not None:
        customer.tax_rates.set(_tax_rates_of(tax_rates))
    return customer
