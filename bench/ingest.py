"""Event ingestion benchmark: the API behind gunicorn on PostgreSQL, against a plain COPY.

    .venv/bin/python bench/ingest.py [--events 1000000] [--workers 3] [--rate 200]

One command, about 3 minutes, bounded by --time-limit (default 300 s); it only talks to
127.0.0.1. It creates a scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_ingest), migrates it, starts gunicorn on it
with production settings, and prints:

1. batch ingestion: events/s over --events events sent as 1,000-event batches by
   --clients concurrent connections (request bodies are built before the clock starts), half
   of them "live" (timestamps of the last ten seconds: on-time events mark no rollup hour
   dirty, docs/scaling.md "Sealed hours"), then half "backfill" (each event of a batch in
   another hour of the last month: a dirty mark each; with --backfill history, each batch
   one customer's history in time order: a mark per event name and hour);
2. single events (live timestamps): p50/p90/p99/max latency at a steady --rate requests/s
   (open loop: latency is measured from each request's scheduled time, so a slow server
   cannot hide behind a slow client), on the table the batch phase just filled;
3. the ceiling: the same rows (read back from the events table) written by plain COPY into
   an empty table with the same indexes and unique constraint, in the order the API stored
   them, a phase's rows at a time (COPY_PARTS), and each batch phase's share of the COPY of
   its own rows.

Beside each phase it prints the CPU the gunicorn workers and the database's backends used
(from /proc: unaffected by other load on the machine), and the COPY backend's CPU.
Targets (issue 14): batch ≥ 85 % of the COPY (of its own rows) in the same run; single-event
p99 ≤ 10 ms at 200/s. The figures and the machine go in docs/performance.md.
"""

import argparse
import http.client
import io
import json
import os
import platform
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from scratch import cpu_seconds, database_name, local_only, maintenance_url, recreate_database

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
BATCH = 1000
COLUMNS = "event_id, event_name, external_customer_id, timestamp, properties, received_at, is_late"
EVENT_NAMES = ("api_call", "llm_tokens", "credits_used", "storage")
MODELS = ("small", "large", "vision")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (>1: gthread, keep-alive)"
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent batch connections")
    parser.add_argument("--rate", type=int, default=200, help="single events per second")
    parser.add_argument("--duration", type=int, default=30, help="seconds of single events")
    parser.add_argument("--time-limit", type=int, default=300, help="whole run, seconds")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--backfill",
        choices=["spread", "history"],
        default="spread",
        help="phase 1b's events: each in another customer's hour (spread, a mark each), or "
        "each batch one customer's history in time order (history)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_ingest"
        ),
    )
    return parser.parse_args()


# --- the scratch database and the server -------------------------------------------------


def drop_database(database_url: str) -> None:
    """scratch.drop_database without Django (this process never sets it up)."""
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')


def server_environment(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TALLY_ENV": "production",
        "DEBUG": "off",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "off",  # plain HTTP on 127.0.0.1
        "API_RATE_LIMIT": "1000000/s",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def start_server(env: dict, *, port: int, workers: int, threads: int) -> subprocess.Popen:
    gunicorn = str(Path(PYTHON).parent / "gunicorn")
    command = [
        gunicorn,
        "billing.wsgi:application",
        f"--bind={HOST}:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        f"--worker-class={'gthread' if threads > 1 else 'sync'}",
        "--backlog=2048",
        "--timeout=120",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    sys.exit("gunicorn did not start within 30 s.")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def worker_pids(server: subprocess.Popen) -> list[int]:
    """The gunicorn workers: the processes whose parent is the server's master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == server.pid:
                pids.append(int(entry.name))
    return pids


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving clients of the scratch database (not this query's)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in found]


class CpuMeter:
    """CPU used by the gunicorn workers and by the database's backends between start() and
    stop(): where a phase's time goes, unaffected by what else runs on the machine."""

    def __init__(self, server: subprocess.Popen, database_url: str):
        self.server, self.database_url = server, database_url

    def sample(self) -> tuple[dict[int, float], dict[int, float]]:
        workers = {pid: cpu_seconds(pid) for pid in worker_pids(self.server)}
        backends = {pid: cpu_seconds(pid) for pid in backend_pids(self.database_url)}
        return workers, backends

    def start(self) -> None:
        self.before = self.sample()

    def stop(self) -> tuple[float, float]:
        """(workers, backends) CPU seconds since start(); a backend opened since counts whole."""
        after = self.sample()
        return tuple(
            sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
            for now, before in zip(after, self.before, strict=True)
        )


# --- events --------------------------------------------------------------------------------


class Events:
    """Deterministic events: 1,000 customers, four names, a month of timestamps (`spread`:
    each event of a batch in another hour, as a backfill sends them) or the last ten seconds
    (`live`: as a metering integration sends them)."""

    def __init__(self, now: datetime, *, live: bool = False, history: bool = False):
        step = timedelta(milliseconds=10) if live else timedelta(seconds=2_591)
        first = timedelta(0) if live else timedelta(seconds=17)
        self.prefix = "live" if live else "bench"
        self.history = history
        if history:
            # `--backfill history`: each batch is one customer's history in time order, an
            # event every 10 s from 25 days ago (a batch spans under 3 hours).
            step, first = timedelta(seconds=-10), timedelta(days=25)
        self.timestamps = [
            (now - step * n - first).isoformat().replace("+00:00", "Z") for n in range(BATCH)
        ]

    def one(self, n: int, prefix: str = "") -> str:
        prefix = prefix or self.prefix
        if self.history:
            timestamp, customer = self.timestamps[n % BATCH], (n // BATCH) % 1000
        else:
            timestamp, customer = self.timestamps[n % 997], n % 1000
        return (
            f'{{"event_id":"{prefix}-{n}","event_name":"{EVENT_NAMES[n % 4]}",'
            f'"external_customer_id":"customer-{customer}","timestamp":"{timestamp}",'
            f'"properties":{{"tokens":{n % 5000},"cost":{n % 97}.{n % 10000:04d},'
            f'"model":"{MODELS[n % 3]}","region":"{REGIONS[n % 3]}"}}}}'
        )

    def batch(self, index: int) -> bytes:
        first = index * BATCH
        body = ",".join(self.one(n) for n in range(first, first + BATCH))
        return ('{"events":[' + body + "]}").encode()


def post(connection: http.client.HTTPConnection, path: str, body: bytes, key: str):
    connection.request(
        "POST",
        path,
        body=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    payload = response.read()
    if response.status != 202:
        raise RuntimeError(f"{path} answered {response.status}: {payload[:300]!r}")
    return json.loads(payload)


# --- the three measurements ----------------------------------------------------------------


def batch_phase(events: Events, *, total: int, clients: int, port: int, key: str, budget: float):
    bodies = [events.batch(index) for index in range(total // BATCH)]
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for body in bodies:
        todo.put(body)
    accepted = [0] * clients
    errors: list[str] = []
    deadline = time.monotonic() + budget

    def client(position: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        while time.monotonic() < deadline:
            try:
                body = todo.get_nowait()
            except queue.Empty:
                return
            try:
                accepted[position] += post(connection, "/api/v1/events/batch", body, key)[
                    "accepted"
                ]
            except Exception as error:  # noqa: BLE001 - reported below, the run goes on
                errors.append(str(error))
                connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(accepted), elapsed, errors


def warm_up(events: Events, *, workers: int, port: int, key: str) -> None:
    """A few single events from as many connections as there are workers, so that every
    worker has loaded the project and opened its database connection before the clock (and
    the CPU meter) starts: that one-off cost is not ingestion's."""

    def client(position: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        for n in range(8):
            post(connection, "/api/v1/events", events.one(position * 8 + n, "warmup").encode(), key)
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(workers * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _maintenance(conn) -> dict[str, int]:
    """Per table, how many times autovacuum and autoanalyze have run on it."""
    rows = conn.execute(
        "SELECT relname, autovacuum_count + autoanalyze_count FROM pg_stat_user_tables"
    ).fetchall()
    return dict(rows)


class WalMeter:
    """WAL written and checkpoints started between start() and stop(), server-wide: a row
    changed on an index page for the first time since the last checkpoint writes the whole
    page to the WAL, so the same rows cost more WAL (and time) right after a checkpoint."""

    def __init__(self, database_url: str):
        self.database_url = database_url

    def sample(self) -> tuple[int, int]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, "
                "checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
            ).fetchone()

    def start(self) -> None:
        self.before = self.sample()

    def stop(self, rows: int) -> str:
        wal, checkpoints = (
            now - before for now, before in zip(self.sample(), self.before, strict=True)
        )
        return (
            f"WAL {int(wal) // max(rows, 1):,} bytes per row, {checkpoints} checkpoint(s) started"
        )


def single_phase(events: Events, *, rate: int, duration: int, port: int, key: str):
    """Open loop: request k is due at start + k/rate; latency counts from that moment."""
    warmup = 3
    count = rate * (duration + warmup)
    due: queue.SimpleQueue = queue.SimpleQueue()
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def sender() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while True:
            item = due.get()
            if item is None:
                return
            number, scheduled = item
            wait = scheduled - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            body = events.one(number, prefix="single").encode()
            try:
                post(connection, "/api/v1/events", body, key)
            except Exception as error:  # noqa: BLE001
                errors.append(str(error))
                connection.close()
                continue
            with lock:
                latencies.append((scheduled, time.perf_counter() - scheduled))

    # Hand the GIL over every 0.2 ms instead of 5 ms, so a sender that is due is not kept
    # waiting by another one parsing its response: the client must not add to the latency.
    sys.setswitchinterval(0.0002)
    senders = [threading.Thread(target=sender) for _ in range(32)]
    for thread in senders:
        thread.start()
    start = time.perf_counter() + 0.2
    for number in range(count):
        due.put((number, start + number / rate))
    for _ in senders:
        due.put(None)
    for thread in senders:
        thread.join()
    kept = [(scheduled - start - warmup, latency) for scheduled, latency in latencies]
    kept = [(at, latency) for at, latency in kept if at >= 0]
    # When the slow requests came: a few stalls (bursts of them) or spread over the run.
    slow = sorted(at for at, latency in kept if latency > 0.010)
    bursts = sum(1 for before, at in zip([-1.0, *slow], slow, strict=False) if at - before > 0.5)
    return sorted(latency for _, latency in kept), errors, (len(slow), bursts)


# Phase 3 copies the rows in the order the API stored them, a phase's rows at a time: 1a's,
# then 1b's into a table already holding 1a's (as 1b's batches met it), then the rest (the
# warm-up's and phase 2's single events).
COPY_PARTS = (
    ("1a", "event_id LIKE 'live-%'"),
    ("1b", "event_id LIKE 'bench-%'"),
    ("rest", "event_id NOT LIKE 'live-%' AND event_id NOT LIKE 'bench-%'"),
)


def copy_phase(database_url: str) -> tuple[dict[str, tuple[int, float, float]], str]:
    """Read the stored rows back, then time COPYs of them into an empty twin table: per part
    of COPY_PARTS, its rows, wall seconds and backend CPU seconds (each part committed, as
    each batch is), and the WAL of the whole."""
    with psycopg.connect(database_url) as conn:
        chunks = {}
        with conn.cursor() as cursor:
            for part, condition in COPY_PARTS:
                buffer = io.BytesIO()
                with cursor.copy(
                    f"COPY (SELECT {COLUMNS} FROM metering_event WHERE {condition} "
                    "ORDER BY received_at, id) TO STDOUT"
                ) as copy:
                    for chunk in copy:
                        buffer.write(chunk)
                chunks[part] = buffer.getvalue()
            cursor.execute("DROP TABLE IF EXISTS bench_copy")
            cursor.execute("CREATE TABLE bench_copy (LIKE metering_event INCLUDING ALL)")
            # Partitioned events (docs/scaling.md): the unique key lives in metering_eventkey,
            # so the twin gets it back, to stay "the same indexes and unique constraint".
            cursor.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS bench_copy_key "
                "ON bench_copy (external_customer_id, event_id)"
            )
        conn.commit()
        backend = conn.info.backend_pid
        wal = WalMeter(database_url)
        wal.start()
        parts = {}
        for part, data in chunks.items():
            cpu_before = cpu_seconds(backend)
            started = time.perf_counter()
            with conn.cursor() as cursor:
                with cursor.copy(f"COPY bench_copy ({COLUMNS}) FROM STDIN") as copy:
                    view = memoryview(data)
                    for offset in range(0, len(data), 1 << 20):
                        copy.write(view[offset : offset + (1 << 20)])
            conn.commit()
            elapsed, cpu = time.perf_counter() - started, cpu_seconds(backend) - cpu_before
            parts[part] = (data.count(b"\n"), elapsed, cpu)
        return parts, wal.stop(sum(rows for rows, _, _ in parts.values()))


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] * 1000


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().split()[1]
        memory_gb = f"{int(memory) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        memory_gb = "unknown RAM"
    return f"{os.cpu_count()} cores ({cpu}), {memory_gb}, {platform.system()} {platform.release()}"


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    args = options()
    local_only(args.database_url)
    run_deadline = time.monotonic() + args.time_limit
    recreate_database(args.database_url)
    env = server_environment(args.database_url)
    manage(env, "migrate", "--noinput", "-v0")
    key = manage(env, "create_api_key", "bench").split()[-1]
    with psycopg.connect(args.database_url) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    server = start_server(env, port=args.port, workers=args.workers, threads=args.threads)
    events = Events(datetime.now(UTC))
    try:
        print(f"Machine: {machine()}; PostgreSQL {postgres}; Python {platform.python_version()}")
        print(f"Start: {load()}")
        kind = f"gthread, {args.threads} threads each" if args.threads > 1 else "sync"
        print(f"Server: gunicorn, {args.workers} workers ({kind}), on {HOST}:{args.port}\n")

        budget = max(run_deadline - time.monotonic() - args.duration - 60, 10)
        warm_up(events, workers=args.workers, port=args.port, key=key)
        meter = CpuMeter(server, args.database_url)
        wal = WalMeter(args.database_url)
        batches = {}
        for number, live in (("1a", True), ("1b", False)):
            history = not live and args.backfill == "history"
            batch_events = Events(datetime.now(UTC), live=live, history=history)
            total = args.events // 2
            meter.start()
            wal.start()
            accepted, batch_elapsed, errors = batch_phase(
                batch_events,
                total=total,
                clients=args.clients,
                port=args.port,
                key=key,
                budget=budget / 2,
            )
            batches[number] = (accepted, batch_elapsed)
            note = "" if accepted >= total else f" (stopped by the time limit at {accepted:,})"
            what = (
                "live: timestamps of the last 10 s, no dirty mark"
                if live
                else "backfill: each batch a customer's history in time order, a mark per hour"
                if history
                else "backfill: each event of a batch in another hour, a dirty mark each"
            )
            print(
                f"{number}. Batch ingestion, {what}: {accepted:,} events in {batch_elapsed:.1f} s "
                f"= {accepted / batch_elapsed:,.0f} events/s ({args.clients} clients × 1,000-event "
                f"batches){note}; errors: {len(errors)}"
            )
            for error in errors[:3]:
                print(f"   {error}")
            workers_cpu, backends_cpu = meter.stop()
            if accepted:
                per_thousand = 1000 * 1000 / accepted
                batch_cpu = (workers_cpu * per_thousand, backends_cpu * per_thousand)
                print(
                    f"   CPU per 1,000 events: gunicorn workers {batch_cpu[0]:.1f} ms (HTTP, API "
                    f"key, JSON, validation, binding), PostgreSQL backends {batch_cpu[1]:.1f} ms"
                )
                print(f"   {wal.stop(accepted)}")

        # The batch phase leaves a million new rows in every table it wrote (the events'
        # partitions, their dedup keys, the rollup marks) and ~1 GB of dirty pages and WAL:
        # vacuum them, then flush everything (the vacuum dirties every page it visits), so
        # that the latency phase measures steady single events, not the previous phase's
        # checkpoint or writeback, or the autovacuum it sets off.
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
            maintenance_before = _maintenance(conn)
        meter.start()
        # Single events as an integration sends them: timestamps of the moment (live).
        latencies, errors, (slow, bursts) = single_phase(
            Events(datetime.now(UTC), live=True),
            rate=args.rate,
            duration=args.duration,
            port=args.port,
            key=key,
        )
        if latencies:
            print(
                f"2. Single events at {args.rate}/s for {args.duration} s ({len(latencies):,} "
                f"requests): p50 {percentile(latencies, 0.50):.1f} ms, "
                f"p90 {percentile(latencies, 0.90):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms; "
                f"errors: {len(errors)}"
            )
            workers_cpu, backends_cpu = meter.stop()
            requests = args.rate * (args.duration + 3)  # the warm-up's requests included
            print(
                f"   CPU per request: gunicorn workers {workers_cpu * 1000 / requests:.2f} ms, "
                f"PostgreSQL backends {backends_cpu * 1000 / requests:.2f} ms"
            )
            print(
                f"   requests over 10 ms: {slow:,}, in {bursts:,} bursts (slow requests less than "
                "0.5 s apart count as one)"
            )
            with psycopg.connect(args.database_url, autocommit=True) as conn:
                during = sorted(set(_maintenance(conn).items()) - set(maintenance_before.items()))
            print(
                "   autovacuum/autoanalyze during this phase: "
                + (", ".join(table for table, _ in during) or "none")
            )
    finally:
        stop_server(server)

    if time.monotonic() < run_deadline:
        parts, copy_wal = copy_phase(args.database_url)
        rows = sum(part_rows for part_rows, _, _ in parts.values())
        elapsed = sum(part_elapsed for _, part_elapsed, _ in parts.values())
        copy_cpu = sum(part_cpu for _, _, part_cpu in parts.values())
        print(
            f"3. Ceiling, plain COPY of the same {rows:,} rows into an empty table with the same "
            f"indexes: {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s; "
            f"its backend's CPU: {copy_cpu * 1000 * 1000 / rows:.1f} ms per 1,000 rows"
        )
        print(f"   {copy_wal}")
        for number, (accepted, batch_elapsed) in batches.items():
            if not accepted:
                continue
            part_rows, part_elapsed, part_cpu = parts[number]
            same_rows = accepted / batch_elapsed / (part_rows / part_elapsed)
            whole = accepted / batch_elapsed / (rows / elapsed)
            print(
                f"   Batch ingestion {number} = {same_rows:.0%} of the COPY of its own rows "
                f"({part_rows:,} rows at {part_rows / part_elapsed:,.0f} rows/s, "
                f"{part_cpu * 1000 * 1000 / part_rows:.1f} ms CPU per 1,000; issue 14's "
                f"target: ≥ 85 %), {whole:.0%} of the whole COPY's rate"
            )
    else:
        print("3. Ceiling skipped: the time limit was reached.")
    print(f"End: {load()}")
    if not args.keep:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
