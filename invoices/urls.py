"""API routes of the invoices app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from invoices.api import finance, views, wallets

urlpatterns = [
    path("invoices", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/<str:invoice_id>", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path(
        "invoices/<str:invoice_id>/lines/<str:line_id>/events",
        views.InvoiceLineEventsView.as_view(),
        name="invoice-line-events",
    ),
    path(
        "invoices/<str:invoice_id>/finalize",
        views.InvoiceFinalizeView.as_view(),
        name="invoice-finalize",
    ),
    path("invoices/<str:invoice_id>/void", views.InvoiceVoidView.as_view(), name="invoice-void"),
    path(
        "invoices/<str:invoice_id>/mark-uncollectible",
        views.InvoiceMarkUncollectibleView.as_view(),
        name="invoice-mark-uncollectible",
    ),
    path(
        "invoices/<str:invoice_id>/credit-notes",
        finance.InvoiceCreditNotesView.as_view(),
        name="invoice-credit-notes",
    ),
    path("credit-notes", finance.CreditNoteListView.as_view(), name="credit-note-list"),
    path(
        "credit-notes/<str:credit_note_id>",
        finance.CreditNoteDetailView.as_view(),
        name="credit-note-detail",
    ),
    path("tax-rates", finance.TaxRatesView.as_view(), name="tax-rate-list"),
    path("coupons", finance.CouponsView.as_view(), name="coupon-list"),
    path(
        "customers/<str:external_id>/coupons",
        finance.CustomerCouponsView.as_view(),
        name="customer-coupons",
    ),
    path(
        "customers/<str:external_id>/coupons/<str:code>",
        finance.CustomerCouponDetailView.as_view(),
        name="customer-coupon-detail",
    ),
    path(
        "customers/<str:external_id>/usage",
        views.CustomerUsageView.as_view(),
        name="customer-usage",
    ),
    path(
        "customers/<str:external_id>/upcoming-invoice",
        views.UpcomingInvoiceView.as_view(),
        name="customer-upcoming-invoice",
    ),
    path("customers/<str:external_id>/wallet", wallets.WalletView.as_view(), name="wallet"),
    path(
        "customers/<str:external_id>/wallet/transactions",
        wallets.WalletTransactionsView.as_view(),
        name="wallet-transactions",
    ),
]
