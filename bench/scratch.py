"""The benchmarks' scratch PostgreSQL database: local only, created fresh, dropped at the end,
and Django set up on it. Shared by the scripts of bench/ (each one command, see README.md)."""

import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far, from /proc (0 when it is gone): what a
    phase cost a process, whatever else runs on the machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_limit(seconds: int) -> None:
    """End the run with a message once `seconds` have passed (each script's --time-limit)."""
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"Time limit of {seconds} s hit."))
    signal.alarm(seconds)


def local_only(database_url: str) -> None:
    """Refuse any database that is not on this machine: a benchmark only talks to 127.0.0.1."""
    host = urlparse(database_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"The benchmarks only talk to 127.0.0.1; refusing host {host!r}.")


def maintenance_url(database_url: str) -> str:
    return urlunparse(urlparse(database_url)._replace(path="/postgres"))


def database_name(database_url: str) -> str:
    return urlparse(database_url).path.lstrip("/")


def recreate_database(database_url: str) -> None:
    name = database_name(database_url)
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- shared by the scripts that time reads (bench/entitlements.py) -------------------------

EVENT_COLUMNS = (
    "event_id, event_name, external_customer_id, timestamp, properties, received_at, is_late"
)


def machine() -> str:
    """Cores, CPU model, Python and the load average now: printed beside every figure."""
    import os
    import platform

    cpu = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, load {load}"


def copy_events(text: str, *, table: str = "metering_event") -> None:
    """COPY tab-separated event rows (EVENT_COLUMNS) into `table`: loading, not timed."""
    from django.db import connection

    connection.ensure_connection()
    with connection.connection.cursor().copy(f"COPY {table} ({EVENT_COLUMNS}) FROM STDIN") as copy:
        copy.write(text)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def timings(action, runs: int) -> tuple[float, float, object]:
    """p50 and p99 in ms of `runs` calls of `action` after one warm-up, and its result."""
    import statistics
    import time

    result = action()  # warm-up, not counted
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return statistics.median(samples), p99, result
