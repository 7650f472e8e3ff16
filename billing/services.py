"""Actions on platform objects: issuing and revoking API keys."""

from datetime import datetime

from django.db import transaction

from billing.models import ApiKey, generate_api_key, hash_api_key


@transaction.atomic
def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored."""
    name = name.strip()
    if not name:
        raise ValueError("An API key needs a name.")
    raw_key = generate_api_key()
    api_key = ApiKey.objects.create(name=name, prefix=raw_key[:12], key_hash=hash_api_key(raw_key))
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, at: datetime) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = at
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key
