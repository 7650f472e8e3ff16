"""API routes of the customers app, mounted under /api/v1/."""

urlpatterns: list = []
