"""Root URLs: admin, the versioned API (one include per app), schema and docs, public pages."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("catalog.urls")),
    path("", include("customers.urls")),
    path("", include("metering.urls")),
    path("", include("invoices.urls")),
    path("", include("notifications.urls")),
    path("", include("lab.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[]),
        name="api-docs",
    ),
    path("", include("invoices.public_urls")),
    path("", include("billing.dashboard_urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
