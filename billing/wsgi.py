"""WSGI entry point (gunicorn billing.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")
application = get_wsgi_application()

# Load the URL patterns (and so every view, serializer and form) now rather than on the first
# request, then move everything the loaded project holds into the permanent generation: the
# garbage collector's full collections then walk only what requests leave behind, instead of
# pausing a worker for ~100 ms now and then (docs/performance.md, "The garbage collector's
# pauses").
get_resolver().url_patterns  # noqa: B018 - imports the views
gc.collect()
gc.freeze()
