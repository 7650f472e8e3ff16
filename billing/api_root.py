"""`GET /api/v1/`: what the API is and where its reference lives, open without a key so the
link printed by `make demo` answers in a browser (docs/api.md, "API root")."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# The resource collections, for a person exploring (docs/api.md lists every endpoint).
RESOURCES = [
    "events",
    "meters",
    "plans",
    "customers",
    "subscriptions",
    "invoices",
    "payments",
    "webhook-endpoints",
    "backtests",
]


class ApiRootView(APIView):
    # Open without a key, whatever a key's scope (tests/billing/test_api_key_scopes.py).
    api_public_endpoint = True
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="API root: name, version and links to the reference",
        responses=inline_serializer(
            "ApiRoot",
            fields={
                "name": serializers.CharField(),
                "version": serializers.CharField(),
                "docs": serializers.URLField(),
                "schema": serializers.URLField(),
                "authentication": serializers.CharField(),
                "resources": serializers.DictField(child=serializers.URLField()),
            },
        ),
    )
    def get(self, request):
        base = settings.PUBLIC_BASE_URL
        return Response(
            {
                "name": "Tally API",
                "version": "v1",
                "docs": f"{base}/api/docs/",
                "schema": f"{base}/api/schema/",
                "authentication": "Authorization: Bearer <api key> (manage.py create_api_key NAME)",
                "resources": {name: f"{base}/api/v1/{name}" for name in RESOURCES},
            }
        )
