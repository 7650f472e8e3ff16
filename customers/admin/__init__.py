"""Admin of customers and subscriptions (registered on import by Django's autodiscovery)."""

from customers.admin import customers, subscriptions, wallets  # noqa: F401
