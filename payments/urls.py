"""API routes of the payments app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from payments import api

urlpatterns = [
    path("payments", api.PaymentListView.as_view(), name="payment-list"),
    path(
        "invoices/<str:invoice_id>/payments",
        api.InvoicePaymentsView.as_view(),
        name="invoice-payments",
    ),
    path("invoices/<str:invoice_id>/pay", api.InvoicePayView.as_view(), name="invoice-pay"),
    path(
        "payments/<str:payment_id>/refund",
        api.PaymentRefundView.as_view(),
        name="payment-refund",
    ),
]
