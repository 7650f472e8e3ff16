"""Per-API-key rate limit (429 with Retry-After), rate from `API_RATE_LIMIT`."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if api_key is None or not hasattr(api_key, "pk"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}
