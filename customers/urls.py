"""API routes of the customers app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from customers.api.features import SubscriptionFeatureView
from customers.api.views import (
    CustomerDetailView,
    CustomerListView,
    SubscriptionCancelView,
    SubscriptionChangePlanView,
    SubscriptionDetailView,
    SubscriptionListView,
)

urlpatterns = [
    path("customers", CustomerListView.as_view(), name="customer-list"),
    path("customers/<str:external_id>", CustomerDetailView.as_view(), name="customer-detail"),
    path("subscriptions", SubscriptionListView.as_view(), name="subscription-list"),
    path(
        "subscriptions/<str:subscription_id>",
        SubscriptionDetailView.as_view(),
        name="subscription-detail",
    ),
    path(
        "subscriptions/<str:subscription_id>/change-plan",
        SubscriptionChangePlanView.as_view(),
        name="subscription-change-plan",
    ),
    path(
        "subscriptions/<str:subscription_id>/cancel",
        SubscriptionCancelView.as_view(),
        name="subscription-cancel",
    ),
    path(
        "subscriptions/<str:subscription_id>/features/<str:feature>",
        SubscriptionFeatureView.as_view(),
        name="subscription-feature",
    ),
]
