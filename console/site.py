"""The admin site of the console: the dashboard is its home page, and it adds the pages that
belong to no single model (usage across customers, the list of every model). docs/operations.md,
"The console"."""

from django.contrib import admin
from django.urls import path

# The site's own pages: (URL, view name, view in console/views.py). tests/billing/test_roles.py
# lists each with the permission it needs.
SITE_VIEWS = [
    ("usage/", "console_usage", "usage_view"),
    ("export/<str:app_label>/<str:model_name>/", "console_export", "export_view"),
    ("models/", "console_models", "app_index_view"),
]


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Tally"
    site_title = "Tally billing"
    index_title = "Dashboard"
    index_template = "admin/console/dashboard.html"
    # The console's navigation bar (templates/admin/base_site.html) replaces the app sidebar,
    # which left lists too narrow at 1,400 px.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        from console.views import dashboard_view

        return dashboard_view(self, request)

    def get_urls(self):
        from console import views

        def bound(name):
            view = getattr(views, name)
            return self.admin_view(lambda request, **kwargs: view(self, request, **kwargs))

        custom = [path(url, bound(view), name=name) for url, name, view in SITE_VIEWS]
        return custom + super().get_urls()
