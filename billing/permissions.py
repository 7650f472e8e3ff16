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


def scope_refusal(scope: str, *, method: str, ingestion: bool) -> str | None:
    """Why a key of this scope may not make this request (the 403's message), or None."""
    if scope == ApiKeyScope.FULL:
        return None
    if scope == ApiKeyScope.READ:
        if method in permissions.SAFE_METHODS:
            return None
        return f"This API key has the 'read' scope: it may only read ({method} refused)."
    if scope == ApiKeyScope.INGEST:
        if ingestion:
            return None
        return "This API key has the 'ingest' scope: it may only send events."
    return f"This API key has an unknown scope '{scope}'."


class ApiKeyScopePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        api_key = getattr(request.user, "api_key", None)
        if api_key is None:
            # Not authenticated (401 through the authenticator's header) or no key at all.
            return False
        refusal = scope_refusal(
            api_key.scope, method=request.method, ingestion=view_is_ingestion_endpoint(view)
        )
        if refusal is not None:
            self.message = refusal
            return False
        return True
