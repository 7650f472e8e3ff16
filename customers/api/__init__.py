"""The customers and subscriptions REST API (docs/api.md): serializers and views."""
