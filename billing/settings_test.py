"""Settings for the test suite: the real settings with tasks run inline and fast hashing."""

import tempfile

from billing.settings import *  # noqa: F403
from billing.settings import Q_CLUSTER, REST_FRAMEWORK

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = tempfile.mkdtemp(prefix="tally-test-media-")
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"api_key": "100000/s", "failed_auth": "100000/s"},
}
PUBLIC_BASE_URL = "http://testserver"
