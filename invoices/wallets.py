"""A customer's wallet as the API and the customer page show it: the balance (the sum of its
ledger) and the ongoing balance = balance − what the current period has accrued so far, the
amount due of the upcoming invoice (the charge ledger's figure: invoices.selectors.
upcoming_invoice, the cycle close's own code), refreshed with every event that lands."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Coalesce

from customers.models import Customer, Wallet
from invoices.selectors import NoUpcomingInvoice, upcoming_invoice
from rating import RatingError

ZERO = Decimal("0")


@dataclass(frozen=True)
class WalletSummary:
    wallet: Wallet  # unsaved (no id) while the customer has none in this currency
    balance: Decimal
    # In the wallet's currency; 0 when no period is being billed; None (and the ongoing
    # balance None) when the plan cannot be priced (rating.RatingError): never a 500.
    upcoming_amount: Decimal | None
    ongoing_balance: Decimal | None

    @property
    def currency(self) -> str:
        return self.wallet.currency

    @property
    def low_balance(self) -> bool:
        return self.wallet.low_balance_since is not None


def wallet_of(*, customer: Customer, currency: str = "") -> Wallet:
    """The customer's wallet in `currency` (default: the customer's), or an empty unsaved one,
    with its balance read in the same query (`held`: wallet_balance's sum, 0 when unsaved)."""
    currency = (currency or customer.currency or "").upper()
    wallet = (
        Wallet.objects.filter(customer=customer, currency=currency)
        .annotate(held=Coalesce(Sum("transactions__amount"), Decimal(0)))
        .order_by("pk")
        .first()
    )
    return wallet or Wallet(customer=customer, currency=currency)


def wallet_summary(*, customer: Customer, at: datetime, currency: str = "") -> WalletSummary:
    """Balance and ongoing balance of the customer's wallet in `currency` at `at`."""
    wallet = wallet_of(customer=customer, currency=currency)
    balance = ZERO if wallet.pk is None else wallet.held
    upcoming = ZERO
    try:
        draft = upcoming_invoice(customer=customer, at=at)
    except NoUpcomingInvoice:
        draft = None
    except RatingError:
        return WalletSummary(
            wallet=wallet, balance=balance, upcoming_amount=None, ongoing_balance=None
        )
    if draft is not None and draft.currency == wallet.currency:
        upcoming = draft.amount_due
    return WalletSummary(
        wallet=wallet, balance=balance, upcoming_amount=upcoming, ongoing_balance=balance - upcoming
    )
