"""API routes of the metering app, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from metering import api

urlpatterns = [
    path("events", api.EventCreateView.as_view(), name="event-create"),
    path("events/batch", api.EventBatchView.as_view(), name="event-batch"),
]
