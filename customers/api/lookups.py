"""Lookups the API views of every app share (docs/api.md: an unknown id is a 404)."""

from rest_framework.exceptions import NotFound

from customers.models import Customer
from customers.selectors import customer_get


def customer_or_404(external_id: str) -> Customer:
    """The customer with this external id, or the API's 404 naming it."""
    try:
        return customer_get(external_id=external_id)
    except Customer.DoesNotExist:
        raise NotFound(f"Unknown customer '{external_id}'.") from None
