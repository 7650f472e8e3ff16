"""OpenAPI: how /api/schema/ describes the API-key auth (`Authorization: Bearer <key>`).

Loaded by CatalogConfig.ready(); drf-spectacular registers extensions when they are imported.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "billing.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>` (manage.py create_api_key).",
        }
