"""django-q2 entry points of the customers app (thin wrappers over services)."""

from django.utils import timezone

from customers.services.wallets import wallets_expire


def expire_wallet_credits_task() -> str:
    """The "expire-wallet-credits" schedule: write off what is left of credits past their date."""
    return f"{wallets_expire(at=timezone.now())} expiry transaction(s) written"
