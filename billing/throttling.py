"""API rate limits (429 with Retry-After), counted atomically in the shared cache.

Per API key (`API_RATE_LIMIT`) and, for requests whose key is missing or wrong, per client
address (`API_FAILED_AUTH_RATE_LIMIT`), so keys cannot be guessed at speed. Each limit is a
fixed window counted with the cache's atomic add + incr (Redis INCR with an expiry when
CACHE_URL is redis://): every worker and process shares one count, and concurrent requests
can never both take the last slot. docs/operations.md "Rate limits".
"""

from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle


class AtomicRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's rates and keys, with an atomic fixed-window counter.

    DRF's own keeps a list of timestamps per key that it reads, changes and writes back: two
    workers at once both pass (a 30/min limit let 38 of 100 through from 8 threads).
    """

    retry_after: float | None = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.retry_after = self.hit(self.key)
        return self.retry_after is None

    def hit(self, key: str) -> float | None:
        """Count one request under `key`; None when allowed, else the seconds to wait."""
        now = self.timer()
        window = int(now // self.duration)
        bucket = f"{key}:{window}"
        expiry = self.duration + 1
        self.cache.add(bucket, 0, timeout=expiry)
        try:
            count = self.cache.incr(bucket)
        except ValueError:  # expired between add and incr
            self.cache.add(bucket, 1, timeout=expiry)
            count = 1
        if count > self.num_requests:
            return max((window + 1) * self.duration - now, 1)
        return None

    def wait(self):
        return self.retry_after


class ApiKeyRateThrottle(AtomicRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if api_key is None or not hasattr(api_key, "pk"):
            return None
        return self.key_of(api_key)

    def key_of(self, api_key) -> str:
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}


class FailedAuthThrottle(AtomicRateThrottle):
    """Requests that failed authentication, per client address (REMOTE_ADDR, or
    X-Forwarded-For with NUM_PROXIES)."""

    scope = "failed_auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked_for(self, request) -> float | None:
        """Seconds this address must still wait, without counting a failure (None: not blocked)."""
        if self.rate is None:
            return None
        now = self.timer()
        window = int(now // self.duration)
        count = self.cache.get(f"{self.get_cache_key(request, None)}:{window}", 0)
        if count >= self.num_requests:
            return max((window + 1) * self.duration - now, 1)
        return None


def failed_auth_guard(request) -> None:
    """Before a key is checked: 429 for an address over its failed-authentication limit."""
    wait = FailedAuthThrottle().blocked_for(request)
    if wait is not None:
        raise Throttled(wait=wait, detail="Too many requests with a missing or wrong API key.")


def failed_auth_record(request) -> None:
    """Count one failed authentication for the request's client address."""
    throttle = FailedAuthThrottle()
    if throttle.rate is not None:
        throttle.hit(throttle.get_cache_key(request, None))
