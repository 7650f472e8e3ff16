"""Root URLs: admin, the versioned API (one include per app), schema and docs, public pages."""

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.api import api_error_response
from billing.api_root import ApiRootView

api_v1 = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("catalog.urls")),
    path("", include("customers.urls")),
    path("", include("metering.urls")),
    path("", include("invoices.urls")),
    path("", include("notifications.urls")),
    path("", include("payments.urls")),
    path("", include("lab.urls")),
    path("", include("finance.urls")),
]


def favicon(request):
    """The favicon's static URL, resolved per request (hashed names exist after collectstatic)."""
    return RedirectView.as_view(url=static_url("console/favicon.svg"))(request)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", authentication_classes=[]),
        name="api-docs",
    ),
    path("", include("invoices.public_urls")),
    path("", include("payments.public_urls")),
    path("", include("billing.dashboard_urls")),
    # Browsers ask every site for /favicon.ico; the pages link the SVG one (templates/admin/).
    path("favicon.ico", favicon),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)


# Every answer under /api/ is JSON, also where no view answers (docs/api.md "Errors").
def handler404(request, exception):
    return api_error_response(
        request, status_code=404, default=defaults.page_not_found(request, exception)
    )


def handler500(request):
    if request.path.startswith("/api/"):
        return api_error_response(request, status_code=500, default=None)
    return defaults.server_error(request)


def handler400(request, exception):
    return api_error_response(
        request, status_code=400, default=defaults.bad_request(request, exception)
    )
