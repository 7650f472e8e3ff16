"""Public (no login) pages: the hosted invoice and its PDF, behind signed links."""

from django.urls import path

from invoices import public_views

app_name = "invoices_public"

urlpatterns = [
    path("i/<str:token>/", public_views.hosted_invoice, name="hosted-invoice"),
    path("i/<str:token>/pdf", public_views.invoice_pdf, name="invoice-pdf"),
    path("cn/<str:token>/", public_views.hosted_credit_note, name="hosted-credit-note"),
    path("cn/<str:token>/pdf", public_views.credit_note_pdf, name="credit-note-pdf"),
]
