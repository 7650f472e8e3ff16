"""Stripe without the internet: localstripe (a stateful fake Stripe server) started once per
test session on a free loopback port, behind a small local HTTP endpoint that adds what
localstripe lacks (Checkout sessions) and records each request's Idempotency-Key. The real
`stripe` SDK talks to it through STRIPE_API_BASE. Webhooks are signed with Stripe's scheme."""

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

SECRET_KEY = "sk_test_tally"
WEBHOOK_SECRET = "whsec_tally_test"
# localstripe's own start() listens on every interface (IPv6 "::") and writes its whole store
# to /tmp/localstripe.pickle on every change. Run its aiohttp app on the loopback port only,
# without the file, so parallel test workers neither share it nor slow down on it.
LOCALSTRIPE = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=0.5)
    except urllib.error.HTTPError:
        return True  # 401 without a key: it is up
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def localstripe_url():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", LOCALSTRIPE, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not _answers(f"{url}/v1/customers"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.skip("localstripe could not start (is it installed? pip install localstripe)")
        time.sleep(0.05)
    yield url
    process.kill()
    process.wait()


class FakeStripeEdge:
    """The SDK's api base: Checkout sessions answered here, everything else sent on to
    localstripe; every request is recorded (method, path, Idempotency-Key, form)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.requests: list[dict] = []
        self.sessions: dict[str, dict] = {}
        self.refuse_next: dict[str, int] = {}  # path → how many requests to answer 503
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: bytes, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                form = dict(parse_qsl(body.decode()))
                path = self.path.split("?")[0]
                edge.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "idempotency_key": self.headers.get("Idempotency-Key"),
                        "form": form,
                    }
                )
                if edge.refuse_next.get(path):
                    edge.refuse_next[path] -= 1
                    error = {"error": {"type": "api_error", "message": "Try again later."}}
                    return self._answer(
                        503, json.dumps(error).encode(), [("Stripe-Should-Retry", "false")]
                    )
                if self.command == "POST" and path == "/v1/checkout/sessions":
                    return self._answer(200, json.dumps(edge.create_session(form)).encode())
                request = urllib.request.Request(
                    edge.upstream + self.path, data=body or None, method=self.command
                )
                for name in ("Authorization", "Content-Type", "Idempotency-Key"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        return self._answer(answer.status, answer.read())
                except urllib.error.HTTPError as error:
                    return self._answer(error.code, error.read())

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def create_session(self, form: dict) -> dict:
        number = len(self.sessions) + 1
        session_id = f"cs_test_{number:06d}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "customer": form.get("customer"),
            "client_reference_id": form.get("client_reference_id"),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "metadata": {
                key[len("metadata[") : -1]: value
                for key, value in form.items()
                if key.startswith("metadata[")
            },
            "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0) or 0),
            "currency": form.get("line_items[0][price_data][currency]") or form.get("currency"),
            "payment_status": "unpaid",
            "status": "open",
            "payment_intent": None,
            "setup_intent": None,
            "url": f"https://checkout.stripe.test/c/{session_id}",
        }
        self.sessions[session_id] = session
        return session

    def keys(self, path: str) -> list[str]:
        return [r["idempotency_key"] for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def stripe_edge(localstripe_url):
    edge = FakeStripeEdge(localstripe_url)
    yield edge
    edge.close()


@pytest.fixture
def stripe_on(settings, stripe_edge):
    """The Stripe gateway on, pointed at the local edge; the edge's log starts empty."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = stripe_edge.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    stripe_edge.requests.clear()
    stripe_edge.refuse_next.clear()
    return stripe_edge


def stripe_get(edge: FakeStripeEdge, path: str) -> dict:
    """A Stripe object as JSON, straight from localstripe (for building webhook events)."""
    request = urllib.request.Request(f"{edge.upstream}{path}")
    request.add_header("Authorization", f"Bearer {SECRET_KEY}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def stripe_post(edge: FakeStripeEdge, path: str, form: dict) -> dict:
    from urllib.parse import urlencode

    request = urllib.request.Request(
        f"{edge.upstream}{path}", data=urlencode(form).encode(), method="POST"
    )
    request.add_header("Authorization", f"Bearer {SECRET_KEY}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


_events = iter(range(1, 10**9))


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test_{next(_events):08d}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header for `body`: t=<unix time>,v1=<HMAC-SHA256 of "t.body">."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def deliver(client, event: dict, *, signature: str | None = None):
    """POST the event to /webhooks/stripe/ as Stripe does, signed unless told otherwise."""
    body = json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature if signature is not None else signed(body),
    )
