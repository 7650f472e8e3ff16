from django.apps import AppConfig


class LabConfig(AppConfig):
    """The pricing lab: backtests that re-rate real past usage on a draft plan.

    At the top of the layers (it reads invoices, customers, catalog, metering and rating; none
    imports it) and writes nothing but its own reports (docs/operations.md, "Pricing lab")."""

    name = "lab"
    verbose_name = "Pricing lab"
