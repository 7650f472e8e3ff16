"""API routes of the catalog app, mounted under /api/v1/ (no trailing slashes, docs/api.md)."""

from django.urls import path

from catalog import api

urlpatterns = [
    path("meters", api.MeterListView.as_view(), name="meter-list"),
    path("meters/<slug:code>", api.MeterDetailView.as_view(), name="meter-detail"),
    path("plans", api.PlanListView.as_view(), name="plan-list"),
    path("plans/<slug:code>", api.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<slug:code>/versions", api.PlanVersionsView.as_view(), name="plan-versions"),
    path("features", api.FeatureListView.as_view(), name="feature-list"),
    path("features/<slug:code>", api.FeatureDetailView.as_view(), name="feature-detail"),
    path("price-preview", api.PricePreviewView.as_view(), name="price-preview"),
]
