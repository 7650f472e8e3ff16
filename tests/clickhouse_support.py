"""ClickHouse for the tests: the servers of scripts/clickhouse_local.sh, a database per test
process, emptied before each use. Tests that need it skip when no server answers, so the
default `make test` needs no ClickHouse (docs/operations.md, "Running with ClickHouse")."""

import functools
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from metering.clickhouse import (
    LOCAL_TABLE,
    ROLLUP_LOCAL_TABLE,
    clickhouse_migrate,
    clickhouse_reachable,
    client,
    database_name,
)

URL = os.environ.get("CLICKHOUSE_TEST_URL", "clickhouse://default@127.0.0.1:19000")
CLUSTER = os.environ.get("CLICKHOUSE_TEST_CLUSTER", "tally_two_shards")
_migrated: dict[str, list[str]] = {}


# Test runs from several checkouts may share one ClickHouse (each with workers gw0, gw1…):
# the checkout's path names its databases, so that one run never drops another's tables.
CHECKOUT = hashlib.sha256(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:8]


def _url(*, cluster: bool) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = URL.rstrip("/").rsplit("/", 1)[0] if urlsplit(URL).path.strip("/") else URL
    return f"{base}/test_tally_{CHECKOUT}_{worker}{'_sharded' if cluster else ''}"


def _missing(reason: str) -> None:
    """Skip, or fail when REQUIRE_CLICKHOUSE is set (CI, where the servers must be running)."""
    if os.environ.get("REQUIRE_CLICKHOUSE"):
        pytest.fail(f"{reason}, and REQUIRE_CLICKHOUSE is set")
    pytest.skip(reason)


@functools.cache
def _reachable(url: str) -> bool:  # asked once per test process
    return clickhouse_reachable(url)


def require_clickhouse(*, cluster: bool = False) -> None:
    """Skip the test unless ClickHouse answers (both shards of CLUSTER for `cluster`)."""
    if not _reachable(URL):
        _missing(f"no ClickHouse at {URL} (scripts/clickhouse_local.sh start)")
    if cluster:
        found = client(URL).execute(
            "SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s", {"c": CLUSTER}
        )
        nodes = [f"clickhouse://default@{host}:{port}" for host, port in found]
        if len(nodes) < 2 or not all(_reachable(node) for node in nodes):
            _missing(f"ClickHouse's cluster {CLUSTER} is not two reachable shards")


@contextmanager
def clickhouse_store(*, cluster: bool = False):
    """EVENTS_BACKEND=clickhouse on an empty test database (Distributed over two shards when
    `cluster`); the Django database stays the test's own."""
    url = _url(cluster=cluster)
    with override_settings(
        EVENTS_BACKEND="clickhouse",
        CLICKHOUSE_URL=url,
        CLICKHOUSE_CLUSTER=CLUSTER if cluster else "",
    ):
        if url not in _migrated:  # a fresh database per test process, the current schema
            _migrated[url] = _nodes(url, cluster=cluster)
            for node in _migrated[url]:
                client(node).execute(f"DROP DATABASE IF EXISTS {database_name(url)}")
            clickhouse_migrate()
        for node in _migrated[url]:
            for table in (LOCAL_TABLE, ROLLUP_LOCAL_TABLE):
                client(node).execute(f"TRUNCATE TABLE {database_name(url)}.{table}")
        yield


def _nodes(url: str, *, cluster: bool) -> list[str]:
    if not cluster:
        return [url]
    found = client(url).execute(
        "SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s", {"c": CLUSTER}
    )
    return [f"clickhouse://default@{host}:{port}/{database_name(url)}" for host, port in found]
