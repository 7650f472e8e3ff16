"""Run the demo's two processes (the web server and the task cluster) and stop both cleanly.

`make demo` runs this. Each child gets its own session, so a Ctrl-C in the terminal reaches only
this script, which then asks each child to stop (SIGTERM: django-q2 lets its workers finish,
runserver exits), waits, and kills what is left: no stray task cluster, no crash message.
"""

import os
import signal
import subprocess
import sys
import time

STOP_TIMEOUT_SECONDS = 15


def main(python: str, address: str) -> int:
    children = [
        subprocess.Popen([python, "manage.py", "qcluster"], start_new_session=True),
        subprocess.Popen([python, "manage.py", "runserver", address], start_new_session=True),
    ]
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.3)
    print("\nStopping the web server and the task cluster...", flush=True)
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
