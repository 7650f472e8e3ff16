"""Non-API endpoints: Stripe's webhook, and the hosted invoice page's "Pay now" and "Save a
card" buttons, which send the customer to Stripe Checkout."""

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invoices.documents import (
    PAGE_LINK,
    InvoiceLinkExpired,
    InvoiceLinkInvalid,
    invoice_from_link,
)
from payments.gateway import GatewayDisabled, GatewayError
from payments.services import (
    PaymentStateError,
    WebhookRefused,
    invoice_checkout_url,
    webhook_process,
    webhook_process_failed,
    webhook_store,
)
from payments.services.webhooks import MAX_BODY

logger = logging.getLogger(__name__)


@csrf_exempt
@transaction.non_atomic_requests
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """POST /webhooks/stripe/: stored first, then verified and processed (docs/operations.md)."""
    at = timezone.now()
    body = request.body[: MAX_BODY + 1]
    delivery = webhook_store(body=body, headers=dict(request.headers), at=at)
    try:
        outcome = webhook_process(delivery=delivery, at=at)
    except WebhookRefused as refusal:
        return JsonResponse({"detail": str(refusal)}, status=400)
    except Exception as error:
        # Stored, not processed: Stripe delivers it again later and the admin shows why.
        logger.exception("Stripe webhook delivery %s could not be processed", delivery.pk)
        webhook_process_failed(delivery=delivery, error=error)
        return JsonResponse({"detail": "Could not process the event now."}, status=503)
    return JsonResponse({"received": True, "outcome": outcome})


def _checkout(request: HttpRequest, token: str, mode: str) -> HttpResponse:
    try:
        invoice = invoice_from_link(token=token, purpose=PAGE_LINK)
    except (InvoiceLinkExpired, InvoiceLinkInvalid):
        return render(request, "invoices/link_invalid.html", status=404)
    try:
        return HttpResponseRedirect(invoice_checkout_url(invoice=invoice, mode=mode))
    except PaymentStateError:
        return HttpResponseRedirect(request.build_absolute_uri(f"/i/{token}/"))
    except (GatewayDisabled, GatewayError):
        return render(
            request,
            "payments/checkout_unavailable.html",
            {"back": f"/i/{token}/"},
            status=503,
        )


@require_POST
def pay_now(request: HttpRequest, token: str) -> HttpResponse:
    return _checkout(request, token, "payment")


@require_POST
def save_payment_method(request: HttpRequest, token: str) -> HttpResponse:
    return _checkout(request, token, "setup")
