"""Actions on platform objects: issuing and revoking API keys."""

from datetime import datetime

from django.db import transaction

from billing.models import ApiKey, ApiKeyScope, generate_api_key, hash_api_key


@transaction.atomic
def api_key_create(*, name: str, scope: str = ApiKeyScope.FULL) -> tuple[ApiKey, str]:
    """Create a key with its scope and return it with the raw secret, which is never stored."""
    name = name.strip()
    if not name:
        raise ValueError("An API key needs a name.")
    if len(name) > 100:
        raise ValueError("An API key's name has at most 100 characters.")
    if scope not in ApiKeyScope.values:
        raise ValueError(f"Unknown scope '{scope}': choose one of {', '.join(ApiKeyScope.values)}.")
    raw_key = generate_api_key()
    api_key = ApiKey.objects.create(
        name=name, scope=scope, prefix=raw_key[:12], key_hash=hash_api_key(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, at: datetime) -> ApiKey:
    """Refuse the key from now on (idempotent: a revoked key keeps its first revocation time)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = at
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key
