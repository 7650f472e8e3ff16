"""Request guards for the API: text the database cannot store never reaches a view."""

from django.http import JsonResponse

from billing.parsers import UNSTORABLE


def api_input_guard(get_response):
    """/api/ requests: a NUL or lone surrogate in the path → 404, in the query string → 400.

    No resource has such a name, and PostgreSQL would refuse the text with an error (a 500).
    """

    def middleware(request):
        if request.path.startswith("/api/"):
            if UNSTORABLE.search(request.path):
                return JsonResponse({"detail": "Not found."}, status=404)
            for name, values in request.GET.lists():
                if UNSTORABLE.search(name) or any(UNSTORABLE.search(v) for v in values):
                    return JsonResponse(
                        {name: ["Must not contain NUL characters or unpaired surrogates."]},
                        status=400,
                    )
        return get_response(request)

    return middleware
