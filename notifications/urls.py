"""API routes of the notifications app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("webhook-endpoints", api.WebhookEndpointListView.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook-endpoints/<str:endpoint_id>",
        api.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
]
