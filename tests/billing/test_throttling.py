"""Issue 9, item 5: rate limits shared by every worker, atomic, and on failed authentication.

The counter is the cache's atomic add + incr: on the shared Redis (CACHE_URL=redis://...) a
limit of 30 lets exactly 30 of 100 concurrent requests through.
"""

import threading
import uuid

import pytest
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

from billing.throttling import ApiKeyRateThrottle, FailedAuthThrottle

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/7"  # a db of its own: other test runs use others


def redis_cache() -> RedisCache:
    redis_cache = RedisCache(REDIS_URL, {"KEY_PREFIX": "tally-test-throttle"})
    try:
        redis_cache.get("ping")
    except Exception as error:  # noqa: BLE001 - any connection error means "no Redis here"
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    return redis_cache


class Limited(ApiKeyRateThrottle):
    rate = "30/min"


def test_thirty_per_minute_from_eight_threads_lets_exactly_thirty_through_on_redis():
    shared = redis_cache()
    key = f"throttle_test_{uuid.uuid4().hex}"  # fresh: never collides with another run
    allowed = []
    barrier = threading.Barrier(8)

    def worker():
        throttle = Limited()
        throttle.cache = shared
        barrier.wait(timeout=10)
        for _ in range(13):  # 8 × 13 = 104 requests
            if throttle.hit(key) is None:
                allowed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # 30 per window; a run that straddles a minute boundary may start a second window.
    assert len(allowed) in (30, 60)
    window = int(Limited().timer() // 60)
    shared.delete_many([f"{key}:{n}" for n in range(window - 2, window + 1)])


def test_wrong_keys_are_throttled_per_client_address(client, api_key, monkeypatch):
    cache.clear()
    monkeypatch.setattr(FailedAuthThrottle, "THROTTLE_RATES", {"failed_auth": "3/min"})
    wrong = {"HTTP_AUTHORIZATION": "Bearer not-a-key"}

    # A client-chosen X-Forwarded-For does not make a new address (NUM_PROXIES is 0).
    statuses = [
        client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}", **wrong).status_code
        for n in range(5)
    ]
    elsewhere = client.get("/api/v1/customers", REMOTE_ADDR="10.9.9.9", **wrong)
    # Once over the limit, even the right key from that address waits: guessing gains nothing.
    right = client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {api_key}")

    assert statuses == [401, 401, 401, 429, 429]
    assert elsewhere.status_code == 401
    assert right.status_code == 429
    assert int(right["Retry-After"]) <= 60
    cache.clear()


def test_no_key_at_all_counts_as_a_failure_too(client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(FailedAuthThrottle, "THROTTLE_RATES", {"failed_auth": "2/min"})

    statuses = [client.get("/api/v1/customers").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]
    cache.clear()
