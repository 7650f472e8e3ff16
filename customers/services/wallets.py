"""Writing a wallet's ledger: credits granted or bought, credits spent on an invoice, expired or
voided (docs/architecture.md, "Wallets"; docs/api.md, "Wallets").

Every write locks the wallet row first (SELECT … FOR UPDATE), so two finalizations of the same
customer's invoices, or an expiry run beside them, queue up and never spend the same credit
twice; and every write is idempotent on its source key.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.errors import AppError
from catalog.currencies import currency_exponent, is_known_currency, round_to_currency
from customers.models import (
    CREDIT_KINDS,
    WALLET_DEFAULT_PRIORITY,
    WALLET_MAX_AMOUNT,
    WALLET_MAX_PRIORITY,
    Customer,
    Wallet,
    WalletTransaction,
    WalletTransactionKind,
)
from customers.selectors import wallet_balance, wallet_credits_left
from customers.signals import wallet_low_balance

ZERO = Decimal("0")
# How far ahead an expiry date may be (docs/api.md, "Wallets").
WALLET_MAX_EXPIRY = timedelta(days=3660)


def wallet_for(*, customer: Customer, currency: str) -> Wallet:
    """The customer's wallet in `currency`, created empty on first use."""
    currency = (currency or "").strip().upper()
    if not is_known_currency(currency):
        raise AppError({"currency": [f"{currency!r} is not an ISO 4217 currency code."]})
    wallet, _ = Wallet.objects.get_or_create(customer=customer, currency=currency)
    return wallet


def _locked(wallet: Wallet) -> Wallet:
    return Wallet.objects.select_for_update().select_related("customer").get(pk=wallet.pk)


def wallet_credit_validate(
    *,
    currency: str,
    amount,
    expires_at: datetime | None,
    priority: int | None,
    at: datetime,
) -> tuple[Decimal, int]:
    """The amount and priority of a credit, checked against their bounds (docs/api.md)."""
    errors = {}
    if not isinstance(amount, Decimal):
        try:
            amount = Decimal(str(amount))
        except ArithmeticError:
            amount = None
    if amount is None or not amount.is_finite():
        errors["amount"] = ["A decimal number is required."]
    elif amount <= 0 or amount > WALLET_MAX_AMOUNT:
        errors["amount"] = [f"Must be more than 0 and at most {WALLET_MAX_AMOUNT}."]
    elif round_to_currency(amount, currency) != amount:
        errors["amount"] = [f"At most {currency_exponent(currency)} decimal places in {currency}."]
    if priority is None:
        priority = WALLET_DEFAULT_PRIORITY
    elif isinstance(priority, bool) or not isinstance(priority, int):
        errors["priority"] = ["An integer is required."]
    elif not 0 <= priority <= WALLET_MAX_PRIORITY:
        errors["priority"] = [f"Must be between 0 and {WALLET_MAX_PRIORITY}."]
    if expires_at is not None:
        if expires_at <= at:
            errors["expires_at"] = ["Must be in the future."]
        elif expires_at > at + WALLET_MAX_EXPIRY:
            latest = at + WALLET_MAX_EXPIRY
            errors["expires_at"] = [
                f"At most {WALLET_MAX_EXPIRY.days} days ahead ({latest:%Y-%m-%d})."
            ]
    if errors:
        raise AppError(errors)
    return amount, priority


@transaction.atomic
def wallet_credit(
    *,
    customer: Customer,
    currency: str,
    amount,
    reason: str,
    source_key: str,
    created_by: str = "",
    expires_at: datetime | None = None,
    priority: int | None = None,
    kind: str = WalletTransactionKind.GRANT,
    invoice_ref: int | None = None,
    at: datetime | None = None,
) -> WalletTransaction:
    """Credit the customer's wallet in `currency` at once (a grant, or a purchase once paid).

    Idempotent on `source_key`: a second call with the same key returns the first transaction
    and credits nothing. Refuses (400) an amount ≤ 0, above WALLET_MAX_AMOUNT or finer than the
    currency's minor unit, a priority outside 0..WALLET_MAX_PRIORITY, an expiry in the past or
    more than WALLET_MAX_EXPIRY ahead.
    """
    at = at or timezone.now()
    if kind not in CREDIT_KINDS:
        raise AppError({"kind": [f"A credit is one of {', '.join(CREDIT_KINDS)}."]})
    if not source_key or len(source_key) > 255:
        raise AppError({"source_key": ["Required, at most 255 characters."]})
    wallet = _locked(wallet_for(customer=customer, currency=currency))
    existing = WalletTransaction.objects.filter(
        wallet=wallet, credit__isnull=True, source_key=source_key
    ).first()
    if existing is not None:
        return existing
    amount, priority = wallet_credit_validate(
        currency=wallet.currency, amount=amount, expires_at=expires_at, priority=priority, at=at
    )
    credit = WalletTransaction.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        priority=priority,
        expires_at=expires_at,
        reason=(reason or "")[:500],
        created_by=(created_by or "")[:255],
        source_key=source_key,
        invoice_ref=invoice_ref,
        created_at=at,
    )
    _low_balance_check(wallet=wallet, cause=credit, at=at)
    return credit


def _debit(
    *, credit: WalletTransaction, kind: str, amount: Decimal, source_key: str, at: datetime, **extra
) -> WalletTransaction:
    return WalletTransaction.objects.create(
        wallet_id=credit.wallet_id,
        kind=kind,
        amount=-amount,
        credit=credit,
        priority=credit.priority,
        source_key=source_key,
        created_at=at,
        **extra,
    )


@dataclass(frozen=True)
class CreditsApplied:
    amount: Decimal
    transactions: list[WalletTransaction]


@transaction.atomic
def wallet_consume(
    *, customer: Customer, currency: str, amount: Decimal, invoice_ref: int, at: datetime
) -> CreditsApplied:
    """Spend up to `amount` of the customer's credits in `currency` on invoice `invoice_ref`.

    Credits go lowest priority number first, then earliest expiry (none last), then oldest;
    expired ones are written off first. Idempotent per invoice: a second call returns what the
    first spent. The wallet row stays locked until the caller's transaction ends.
    """
    wallet = Wallet.objects.filter(customer=customer, currency=currency).first()
    if wallet is None or amount <= 0:
        return CreditsApplied(ZERO, [])
    wallet = _locked(wallet)
    source_key = f"invoice:{invoice_ref}"
    done = list(
        WalletTransaction.objects.filter(
            wallet=wallet, kind=WalletTransactionKind.CONSUMPTION, invoice_ref=invoice_ref
        )
    )
    if done:
        return CreditsApplied(-sum((tx.amount for tx in done), ZERO), done)
    _expire(wallet=wallet, at=at)
    wanted = amount
    spent = []
    for credit, left in wallet_credits_left(wallet=wallet, at=at):
        if wanted <= 0:
            break
        take = min(left, wanted)
        spent.append(
            _debit(
                credit=credit,
                kind=WalletTransactionKind.CONSUMPTION,
                amount=take,
                source_key=source_key,
                at=at,
                invoice_ref=invoice_ref,
                reason=f"Applied to invoice {invoice_ref}",
            )
        )
        wanted -= take
    if spent:
        _low_balance_check(wallet=wallet, cause=spent[-1], at=at)
    return CreditsApplied(amount - wanted, spent)


def _expire(*, wallet: Wallet, at: datetime) -> list[WalletTransaction]:
    """Write off what is left of each credit whose expiry passed (wallet locked by the caller)."""
    expired = []
    for credit, left in wallet_credits_left(wallet=wallet, at=at, expired=True):
        expired.append(
            _debit(
                credit=credit,
                kind=WalletTransactionKind.EXPIRY,
                amount=left,
                source_key="expiry",
                at=at,
                reason=f"Expired at {credit.expires_at.isoformat()}",
            )
        )
    return expired


@transaction.atomic
def wallet_expire(*, wallet: Wallet, at: datetime) -> list[WalletTransaction]:
    """Write `expiry` transactions for what is left of the wallet's credits past their date."""
    wallet = _locked(wallet)
    expired = _expire(wallet=wallet, at=at)
    if expired:
        _low_balance_check(wallet=wallet, cause=expired[-1], at=at)
    return expired


def wallets_expire(*, at: datetime) -> int:
    """The expiry schedule (docs/operations.md, "Wallets"): every wallet holding a credit whose
    date passed; the number of expiry transactions written. One transaction per wallet."""
    wallet_ids = (
        WalletTransaction.objects.filter(kind__in=CREDIT_KINDS, expires_at__lte=at)
        .values_list("wallet_id", flat=True)
        .distinct()
    )
    written = 0
    for wallet in Wallet.objects.filter(pk__in=list(wallet_ids)).order_by("pk"):
        written += len(wallet_expire(wallet=wallet, at=at))
    return written


@transaction.atomic
def wallet_credit_void(
    *, credit: WalletTransaction, reason: str, created_by: str, at: datetime
) -> WalletTransaction | None:
    """Void what is left of one credit (an operator taking back a grant); None if nothing is."""
    wallet = _locked(credit.wallet)
    if credit.kind not in CREDIT_KINDS:
        raise AppError.conflict("Only a grant or a purchase can be voided.")
    left = dict((c.pk, rest) for c, rest in wallet_credits_left(wallet=wallet, at=None))
    if credit.pk not in left:
        return None
    void = _debit(
        credit=credit,
        kind=WalletTransactionKind.VOID,
        amount=left[credit.pk],
        source_key=f"void:{at.isoformat()}",
        at=at,
        reason=(reason or "")[:500],
        created_by=(created_by or "")[:255],
    )
    _low_balance_check(wallet=wallet, cause=void, at=at)
    return void


@transaction.atomic
def wallet_update(*, wallet: Wallet, low_balance_threshold: Decimal | None, at: datetime) -> Wallet:
    """Change the low-balance threshold (≥ 0, ≤ WALLET_MAX_AMOUNT; None: no warning)."""
    wallet = _locked(wallet)
    if low_balance_threshold is not None and not 0 <= low_balance_threshold <= WALLET_MAX_AMOUNT:
        raise AppError({"low_balance_threshold": [f"Must be between 0 and {WALLET_MAX_AMOUNT}."]})
    wallet.low_balance_threshold = low_balance_threshold
    wallet.save(update_fields=["low_balance_threshold", "updated_at"])
    latest = wallet.transactions.order_by("-created_at", "-id").first()
    _low_balance_check(wallet=wallet, cause=latest, at=at)
    return wallet


def _low_balance_check(*, wallet: Wallet, cause: WalletTransaction | None, at: datetime) -> None:
    """Flag the wallet and announce it (email, webhook) when its balance falls below the
    threshold; clear the flag once it is back at or above it: one warning per crossing."""
    threshold = wallet.low_balance_threshold
    below = threshold is not None and wallet_balance(wallet=wallet) < threshold
    if below and wallet.low_balance_since is None:
        wallet.low_balance_since = at
        wallet.save(update_fields=["low_balance_since", "updated_at"])
        if cause is not None:
            wallet_low_balance.send(sender=Wallet, wallet=wallet, transaction=cause, at=at)
    elif not below and wallet.low_balance_since is not None:
        wallet.low_balance_since = None
        wallet.save(update_fields=["low_balance_since", "updated_at"])
