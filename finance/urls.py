"""API routes of finance, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from finance import api

urlpatterns = [
    path("revenue", api.RevenueView.as_view(), name="revenue"),
    path("receivables-aging", api.ReceivablesAgingView.as_view(), name="receivables-aging"),
    *(
        path(f"exports/{kind}.csv", api.export_view(kind, what).as_view(), name=f"export-{kind}")
        for kind, what in (
            ("invoices", "Invoices issued"),
            ("lines", "The lines of the invoices issued"),
            ("credit-notes", "Credit notes issued"),
            ("payments", "Payments settled and refunds made"),
        )
    ),
]
