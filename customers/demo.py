"""Demo data for the customers app, loaded by `manage.py seed_demo` (idempotent).

A handful of customers, each subscribed to one of the demo plans from the start of the previous
month (three hours back, for the hourly plan), so the demo opens with closed periods already
invoiced and a current period under way.
"""

from datetime import datetime

from catalog.models import Plan
from catalog.selectors import plan_latest
from customers.models import Customer
from customers.services import customer_create, subscription_create
from rating.periods import add_interval, calendar_floor

DEMO_CUSTOMERS = [
    {
        "external_id": "acme",
        "name": "Acme Corp",
        "email": "billing@acme.example",
        "address_line1": "1 Road Runner Way",
        "city": "Phoenix",
        "postal_code": "85001",
        "state": "AZ",
        "country": "US",
        "tax_id": "US-94-1234567",
        "net_payment_terms_days": 30,
        "plan": "pro",
    },
    {
        "external_id": "globex",
        "name": "Globex Corporation",
        "email": "accounts.payable@globex.example",
        "address_line1": "500 Cypress Creek Road",
        "city": "Cypress Creek",
        "postal_code": "97401",
        "state": "OR",
        "country": "US",
        "net_payment_terms_days": 15,
        "invoice_grace_period_hours": 2,
        "plan": "growth",
    },
    {
        "external_id": "initech",
        "name": "Initech",
        "email": "finance@initech.example",
        "address_line1": "4120 Freidrich Lane",
        "city": "Austin",
        "postal_code": "78744",
        "state": "TX",
        "country": "US",
        "plan": "free-tier",
    },
    {
        "external_id": "umbrella",
        "name": "Umbrella Corporation",
        "email": "ap@umbrella.example",
        "address_line1": "545 S Birdneck Road",
        "city": "Raccoon City",
        "postal_code": "23451",
        "state": "VA",
        "country": "US",
        "net_payment_terms_days": 45,
        "plan": "scale",
    },
    {
        "external_id": "hooli",
        "name": "Hooli",
        "email": "billing@hooli.example",
        "address_line1": "1 Hacker Way",
        "city": "Palo Alto",
        "postal_code": "94301",
        "state": "CA",
        "country": "US",
        "plan": "hourly-demo",
        "periods_back": 3,
    },
]


def seed(*, at: datetime) -> str:
    """Create the demo customers and subscriptions that do not exist yet; say what was created."""
    new_customers, new_subscriptions = [], []
    for fields in DEMO_CUSTOMERS:
        fields = dict(fields)
        plan_code = fields.pop("plan")
        periods_back = fields.pop("periods_back", 1)
        try:
            plan = plan_latest(code=plan_code)
        except Plan.DoesNotExist:
            continue  # the catalog demo did not create it: nothing to subscribe to
        customer = Customer.objects.filter(external_id=fields["external_id"]).first()
        if customer is None:
            customer = customer_create(**fields)
            new_customers.append(customer.external_id)
        if customer.subscriptions.exists():
            continue
        subscription_create(
            customer=customer,
            plan=plan,
            started_at=add_interval(
                calendar_floor(at, interval=plan.interval),
                interval=plan.interval,
                count=-periods_back,
            ),
            anchor="anniversary",
            at=at,
        )
        new_subscriptions.append(f"{customer.external_id} on {plan.code}")
    return (
        f"Customers: {len(new_customers)} created ({', '.join(new_customers) or 'none new'}), "
        f"{len(new_subscriptions)} subscription(s) ({', '.join(new_subscriptions) or 'none new'})."
    )


# --- prepaid credits, a coupon and a tax rate (docs/operations.md, "Wallets", "Coupons") ------

DEMO_CREDIT = {"customer": "acme", "amount": "25.00", "threshold": "10.00"}
DEMO_COUPON = {"code": "welcome10", "name": "Welcome: 10 % off three invoices", "customer": "acme"}
DEMO_TAX_RATE = {"name": "Sales tax", "percentage": "8.875", "jurisdiction": "US-NY"}


def seed_extras(*, at: datetime) -> str:
    """Acme's wallet with a welcome grant, a welcome coupon given to Acme and a sales tax rate
    (for Acme's next invoices): idempotent, run after the demo invoices so those stay as they
    were."""
    from decimal import Decimal

    from catalog.models import Coupon, TaxRate
    from catalog.services.finance import coupon_create, tax_rate_create
    from customers.models import AppliedCoupon
    from customers.services.coupons import customer_coupon_apply
    from customers.services.wallets import wallet_credit, wallet_update

    done = []
    acme = Customer.objects.filter(external_id=DEMO_CREDIT["customer"]).first()
    if acme is None:
        return "Extras: no demo customer acme, nothing added."
    if not acme.wallets.exists():
        credit = wallet_credit(
            customer=acme,
            currency=acme.currency or "USD",
            amount=Decimal(DEMO_CREDIT["amount"]),
            reason="Welcome credits (demo)",
            source_key="demo:welcome-credits",
            at=at,
        )
        wallet_update(
            wallet=credit.wallet, low_balance_threshold=Decimal(DEMO_CREDIT["threshold"]), at=at
        )
        done.append(f"{DEMO_CREDIT['amount']} of credits for acme")
    coupon = Coupon.objects.filter(code=DEMO_COUPON["code"]).first() or coupon_create(
        code=DEMO_COUPON["code"],
        name=DEMO_COUPON["name"],
        kind="percentage",
        percentage=Decimal("10"),
        duration="repeating",
        duration_periods=3,
    )
    if not AppliedCoupon.objects.filter(customer=acme, coupon=coupon).exists():
        customer_coupon_apply(customer=acme, coupon=coupon, at=at)
        done.append(f"coupon {coupon.code} for acme")
    if not TaxRate.objects.filter(name=DEMO_TAX_RATE["name"]).exists():
        rate = tax_rate_create(
            name=DEMO_TAX_RATE["name"],
            percentage=Decimal(DEMO_TAX_RATE["percentage"]),
            jurisdiction=DEMO_TAX_RATE["jurisdiction"],
        )
        acme.tax_rates.add(rate)
        done.append(f"tax rate {rate} for acme")
    return f"Extras: {', '.join(done) or 'none new'}."
