"""`manage.py retry_payments [--at ISO] [--invoice ID]`: the dunning run on demand."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invoices.models import Invoice
from payments.gateway import GatewayDisabled, GatewayError, stripe_enabled
from payments.services import (
    NoPaymentMethod,
    PaymentStateError,
    invoice_attempt_payment,
    payments_retry_due,
)


class Command(BaseCommand):
    help = (
        "Retry the failed payments whose retry is due (the schedule's run), or charge one "
        "invoice's saved payment method now with --invoice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", help="Act as of this ISO 8601 moment (default: now).")
        parser.add_argument("--invoice", type=int, help="Attempt this invoice now.")

    def handle(self, *args, at=None, invoice=None, **options):
        moment = timezone.now()
        if at:
            moment = parse_datetime(at)
            if moment is None or moment.tzinfo is None:
                raise CommandError("--at must be an ISO 8601 date and time with its offset.")
        if not stripe_enabled():
            self.stdout.write("The Stripe gateway is off (no STRIPE_SECRET_KEY): nothing to retry.")
            return
        if invoice is not None:
            target = Invoice.objects.select_related("customer").filter(pk=invoice).first()
            if target is None:
                raise CommandError(f"There is no invoice {invoice}.")
            try:
                payment = invoice_attempt_payment(invoice=target, at=moment)
            except (PaymentStateError, NoPaymentMethod, GatewayDisabled, GatewayError) as error:
                raise CommandError(str(error)) from None
            if payment is None:
                self.stdout.write(f"Nothing to charge on invoice {target}.")
            else:
                self.stdout.write(f"Invoice {target}: payment {payment.pk} {payment.status}.")
            return
        attempts = payments_retry_due(at=moment)
        for payment in attempts:
            self.stdout.write(f"Invoice {payment.invoice}: payment {payment.pk} {payment.status}.")
        self.stdout.write(f"{len(attempts)} payment attempt(s).")
