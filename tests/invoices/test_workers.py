"""Issue 9, item 7: `close_cycles --workers` children die with their parent, even on kill -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts two workers the way close_cycles does (fork, the same initializer),
# gives them work that never ends, prints their pids and waits.
PARENT = """
import multiprocessing, os, sys, threading
from concurrent.futures import ProcessPoolExecutor
import django
django.setup()
from invoices.services.workers import _worker_init

def forever(_):
    threading.Event().wait()

pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"),
                           initializer=_worker_init, initargs=(os.getpid(),))
pool.map(forever, [1, 2])
while len(pool._processes) < 2:
    threading.Event().wait(0.01)
print(" ".join(str(pid) for pid in pool._processes), flush=True)
threading.Event().wait()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by init) counts as gone.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_workers_end_when_their_parent_is_killed():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "billing.settings_test"}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2 and all(_alive(pid) for pid in children)

    parent.send_signal(signal.SIGKILL)
    parent.wait()

    deadline = time.monotonic() + 10  # a bound on waiting, not a timing assertion
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not any(_alive(pid) for pid in children)
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
