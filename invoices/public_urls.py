"""Public (no login) pages: the hosted invoice and its PDF, behind signed links."""

urlpatterns: list = []
