"""API routes of the catalog app, mounted under /api/v1/."""

urlpatterns: list = []
