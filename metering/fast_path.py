"""The event endpoints' fast path: POST /api/v1/events and /events/batch without DRF's dispatch
and the session, CSRF, auth, audit and messages middleware (docs/performance.md, "A lean path
for the event endpoints").

A middleware placed under SecurityMiddleware (HSTS, nosniff, referrer policy, the HTTPS
redirect), which still wraps its answers, and above the CSP and X-Frame-Options middleware,
whose headers it adds itself: the same on every answer of these views, so each is built once
(by those middleware) and reused; django-csp builds its policy twice per response, ~0.1 ms.
It answers the requests it recognises with the same checks, in the same order, as the DRF views
in metering/api.py (which stay the endpoints' definition, and the OpenAPI schema's):

1. only a POST with a JSON body, no query string and no Accept other than JSON, carrying a
   `Bearer` key: anything else goes down the full stack, where DRF answers it (401, 405, 406,
   415, an empty body, OPTIONS…) exactly as before;
2. the key is read from the database on every request (revoked → the full stack's 401 on the
   very next request), its scope checked (a `read` key → the full stack's 403), the rate limits
   counted (over them → the full stack's 429): until here nothing was written, or nothing the
   full stack would not count again (a refused request);
3. the body is parsed, validated and stored by the views' own functions (a batch first
   offered to metering.batch_decoder, which gives the same rows or declines); errors are
   mapped by the API's exception handler and rendered by DRF's JSON renderer, as the views do.

tests/metering/test_fast_path.py asserts that both ways give the same status, body and headers.
"""

from csp.middleware import CSPMiddleware
from django.core.handlers.exception import response_for_exception
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from rest_framework.authentication import get_authorization_header
from rest_framework.renderers import JSONRenderer

from billing.api import exception_handler
from billing.authentication import api_key_find, api_key_touch
from billing.models import hash_api_key
from billing.permissions import scope_refusal
from billing.throttling import ApiKeyRateThrottle, FailedAuthThrottle
from metering import api

# The paths of metering/urls.py under billing/urls.py's "api/v1/" (a test checks them against
# reverse()), with each view and the function that answers its request body.
ROUTES = {
    "/api/v1/events": (api.EventCreateView, api.event_answer_stream),
    "/api/v1/events/batch": (api.EventBatchView, api.batch_answer_stream),
}
ACCEPTED_ACCEPT = ("", "*/*", "application/json")


def ingest_fast_path(get_response):
    renderer = JSONRenderer()
    # What DRF's finalize_response adds to every answer of these views.
    allow = {path: ", ".join(view().allowed_methods) for path, (view, _) in ROUTES.items()}
    headers_below = _HeadersBelow()

    def middleware(request):
        route = ROUTES.get(request.path_info)
        if route is None or request.method != "POST":
            return get_response(request)
        try:
            # CommonMiddleware's check, which this path skips: an unknown Host is a 400.
            request.get_host()
            api_key = _authorized(request, ingestion=route[0].api_ingestion_endpoint)
        except Exception as error:  # noqa: BLE001 - answered as Django answers what a middleware raises
            response = response_for_exception(request, error)
            headers_below.add(request, response)
            return response
        if api_key is None:
            return get_response(request)
        try:
            body, status_code = route[1](request)
        except Exception as error:  # noqa: BLE001 - mapped as the API maps every error
            answer = exception_handler(error, {"request": request, "view": None})
            body, status_code = answer.data, answer.status_code
        response = HttpResponse(
            renderer.render(body), status=status_code, content_type="application/json"
        )
        response["Allow"] = allow[request.path_info]
        response["Content-Length"] = str(len(response.content))
        # The full stack's audit middleware reads the session user: its answers vary on Cookie.
        response["Vary"] = "Cookie"
        headers_below.add(request, response)
        return response

    return middleware


class _HeadersBelow:
    """The headers the CSP and X-Frame-Options middleware (below the fast path in
    settings.MIDDLEWARE) add to an answer: asked of them once per path and status, then copied.

    They depend only on the settings, the path and the status (django-csp: per-view decorators
    and nonces, neither of which these answers have; DEBUG's exemptions of 404 and 500)."""

    def __init__(self):
        self.middleware = (CSPMiddleware(_unused), XFrameOptionsMiddleware(_unused))
        self.added: dict[tuple[str, int], list[tuple[str, str]]] = {}

    def add(self, request, response) -> None:
        key = (request.path_info, response.status_code)
        added = self.added.get(key)
        if added is None:
            before = set(response.headers)
            for middleware in self.middleware:
                middleware.process_response(request, response)
            self.added[key] = [(n, v) for n, v in response.headers.items() if n not in before]
            return
        for name, value in added:
            response.headers[name] = value


def _unused(request):
    raise AssertionError("only the middleware's process_response is used")


def _authorized(request, *, ingestion: bool):
    """The request's API key when it may go on (counted against its rate limit), or None when
    the full stack must answer: nothing that would count twice has been done then."""
    meta = request.META
    if (
        meta.get("QUERY_STRING")
        or meta.get("HTTP_ACCEPT", "") not in ACCEPTED_ACCEPT
        or request.content_type != "application/json"
        or not _content_length(meta)
    ):
        return None
    header = get_authorization_header(request).split()
    if len(header) != 2 or header[0].lower() != b"bearer":
        return None
    try:
        raw_key = header[1].decode()
    except UnicodeError:
        return None
    if FailedAuthThrottle().blocked_for(request) is not None:
        return None
    try:
        api_key = api_key_find(key_hash=hash_api_key(raw_key))
    except Exception:  # noqa: BLE001 - a read: the full stack runs it again and answers
        return None
    if api_key is None or not api_key.is_active:
        return None
    if scope_refusal(api_key.scope, method=request.method, ingestion=ingestion) is not None:
        return None
    api_key_touch(api_key)
    throttle = ApiKeyRateThrottle()
    if throttle.rate is not None and throttle.hit(throttle.key_of(api_key)) is not None:
        return None
    return api_key


def _content_length(meta) -> int:
    """DRF's reading of the body's length (an empty body parses as {} there, not here)."""
    try:
        return int(meta.get("CONTENT_LENGTH", meta.get("HTTP_CONTENT_LENGTH", 0)))
    except (ValueError, TypeError):
        return 0
