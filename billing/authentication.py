"""`Authorization: Bearer <api key>` for the public API."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from billing.models import ApiKey, hash_api_key
from billing.throttling import failed_auth_guard


class ApiKeyUser:
    """The request's principal when it came with an API key (not a Django user)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = f"key:{api_key.pk}"

    def __str__(self) -> str:
        return f"api-key:{self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        failed_auth_guard(request)  # an address guessing keys is refused before any lookup
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw_key = header[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Malformed API key.") from error
        api_key = ApiKey.objects.filter(key_hash=hash_api_key(raw_key)).first()
        if api_key is None or not api_key.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        # Touch last_used_at at most once a minute: no write on every event request.
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword
