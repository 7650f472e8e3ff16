"""The customers and subscriptions REST API (DESIGN §4): serializers and views."""
