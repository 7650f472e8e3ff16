"""The API's default permission: an authenticated API key, within its scope (docs/api.md,
"API keys and scopes"). Set as DEFAULT_PERMISSION_CLASSES, so every view added later is covered
unless it says otherwise.

- `full`: everything.
- `read`: safe methods (GET, HEAD, OPTIONS) only.
- `ingest`: only views that declare `api_ingestion_endpoint = True` (sending events).
"""

from rest_framework import permissions

from billing.models import ApiKeyScope

INGESTION_ATTRIBUTE = "api_ingestion_endpoint"


def view_is_ingestion_endpoint(view) -> bool:
    return getattr(view, INGESTION_ATTRIBUTE, False) is True


class ApiKeyScopePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        api_key = getattr(request.user, "api_key", None)
        if api_key is None:
            # Not authenticated (401 through the authenticator's header) or no key at all.
            return False
        if api_key.scope == ApiKeyScope.FULL:
            return True
        if api_key.scope == ApiKeyScope.READ:
            self.message = (
                f"This API key has the 'read' scope: it may only read ({request.method} refused)."
            )
            return request.method in permissions.SAFE_METHODS
        if api_key.scope == ApiKeyScope.INGEST:
            self.message = "This API key has the 'ingest' scope: it may only send events."
            return view_is_ingestion_endpoint(view)
        self.message = f"This API key has an unknown scope '{api_key.scope}'."
        return False
