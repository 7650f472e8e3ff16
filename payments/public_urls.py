"""Stripe's webhook and the hosted invoice page's payment buttons (no login)."""

from django.urls import path

from payments import views

app_name = "payments_public"

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
    path("i/<str:token>/pay", views.pay_now, name="pay-now"),
    path("i/<str:token>/save-card", views.save_payment_method, name="save-card"),
]
