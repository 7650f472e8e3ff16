"""API routes of the metering app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from metering import api, entitlements_api

urlpatterns = [
    path("events", api.EventCreateView.as_view(), name="event-create"),
    path("events/batch", api.EventBatchView.as_view(), name="event-batch"),
    path(
        "customers/<str:external_id>/entitlements",
        entitlements_api.EntitlementListView.as_view(),
        name="entitlement-list",
    ),
    path(
        "customers/<str:external_id>/entitlements/<str:feature>",
        entitlements_api.EntitlementDetailView.as_view(),
        name="entitlement-detail",
    ),
]
