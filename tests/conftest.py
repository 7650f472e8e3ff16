"""Fixtures shared by every test: API clients with a real key, and the PostgreSQL marker."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing.services import api_key_create


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests need row locks and real concurrency: skip them on SQLite."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL to a postgres:// URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clickhouse(db):
    """EVENTS_BACKEND=clickhouse on one local ClickHouse server (skips when none answers)."""
    from tests.clickhouse_support import clickhouse_store, require_clickhouse

    require_clickhouse()
    with clickhouse_store():
        yield


@pytest.fixture
def clickhouse_cluster(db):
    """EVENTS_BACKEND=clickhouse on a Distributed table over two local shards."""
    from tests.clickhouse_support import clickhouse_store, require_clickhouse

    require_clickhouse(cluster=True)
    with clickhouse_store(cluster=True):
        yield


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def api_key(db):
    api_key, raw_key = api_key_create(name="test integration")
    return raw_key


@pytest.fixture
def api_client(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()
