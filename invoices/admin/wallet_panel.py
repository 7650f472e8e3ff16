"""The wallet panel of the customer page (templates/admin/customers/customer/includes/
wallet.html): each wallet's balance, ongoing balance, threshold and latest transactions."""

from datetime import datetime

from catalog.currencies import money_display
from customers.models import Customer, Wallet
from invoices.wallets import wallet_summary

RECENT_TRANSACTIONS = 10


def _money(amount, currency: str) -> str:
    """None: the plan cannot be priced now (the upcoming invoice's page says why)."""
    return "unknown" if amount is None else money_display(amount, currency)


def wallet_panel_context(*, customer: Customer, user, at: datetime) -> dict:
    """What the panel shows; empty `wallets` when the user may not see them."""
    can_view = user.has_perm("customers.view_wallet") or user.has_perm("customers.change_wallet")
    if not can_view:
        return {"can_view_wallets": False, "wallets": []}
    wallets = list(Wallet.objects.filter(customer=customer).order_by("currency"))
    if not wallets and customer.currency:
        wallets = [Wallet(customer=customer, currency=customer.currency)]  # empty, not saved
    shown = []
    for wallet in wallets:
        summary = wallet_summary(customer=customer, at=at, currency=wallet.currency)
        recent = (
            []
            if wallet.pk is None
            else list(wallet.transactions.order_by("-created_at", "-id")[:RECENT_TRANSACTIONS])
        )
        for tx in recent:
            tx.amount_display = money_display(tx.amount, wallet.currency)
        threshold = wallet.low_balance_threshold
        shown.append(
            {
                "wallet": wallet,
                "balance": money_display(summary.balance, wallet.currency),
                "upcoming": _money(summary.upcoming_amount, wallet.currency),
                "ongoing_balance": _money(summary.ongoing_balance, wallet.currency),
                "ongoing_negative": (summary.ongoing_balance or 0) < 0,
                "threshold": None
                if threshold is None
                else money_display(threshold, wallet.currency),
                "low_balance": summary.low_balance,
                "transactions": recent,
            }
        )
    return {
        "can_view_wallets": True,
        "can_grant": user.has_perm("customers.add_wallettransaction"),
        "wallets": shown,
    }
