"""API routes of the pricing lab, mounted under /api/v1/ (no trailing slashes)."""

from django.urls import path

from lab import api

urlpatterns = [
    path("backtests", api.BacktestListView.as_view(), name="backtest-list"),
    path("backtests/<str:backtest_id>", api.BacktestDetailView.as_view(), name="backtest-detail"),
]
