"""The operator's console: the admin site with a billing dashboard as its home page, the
navigation, the customer 360 page, usage across customers and CSV exports (docs/operations.md,
"The console")."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the console's site as the default one (Django's documented
    way of overriding the default admin site)."""

    default = False
    default_site = "console.site.ConsoleAdminSite"


class ConsoleConfig(AppConfig):
    default = True
    name = "console"
    verbose_name = "Console"
