"""Platform-level models: the API keys integrations authenticate with."""

import hashlib
import secrets

from django.db import models


class TimestampedModel(models.Model):
    """Abstract base: when a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 is enough (no slow KDF needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_api_key() -> str:
    return "tally_" + secrets.token_urlsafe(32)


class ApiKeyScope(models.TextChoices):
    """What a key may do (docs/api.md, "API keys and scopes")."""

    INGEST = "ingest", "Ingest: send events only"
    READ = "read", "Read: GET only, every resource"
    FULL = "full", "Full: read and write everything"


class ApiKey(TimestampedModel):
    """An integration's credential. Only the hash is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.FULL)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="api_key_scope_valid", condition=models.Q(scope__in=ApiKeyScope.values)
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
