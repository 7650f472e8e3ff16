"""Django settings for Tally, read from the environment (django-environ) with safe dev defaults."""

import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# "production" turns the safety checks on; anything else is a developer's machine.
TALLY_ENV = env("TALLY_ENV", default="development")
IS_PRODUCTION = TALLY_ENV == "production"

DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-0123456789abcdef"
# The key signs customers' invoice links: production refuses a short or guessable one (the
# same bar as Django's `check --deploy`: 50+ characters, 5+ distinct, not a known default).
MIN_SECRET_KEY_LENGTH = 50
if IS_PRODUCTION:
    if "SECRET_KEY" not in env.ENVIRON:
        raise ImproperlyConfigured("SECRET_KEY must be set when TALLY_ENV=production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when TALLY_ENV=production.")
    _key = env("SECRET_KEY")
    if (
        len(_key) < MIN_SECRET_KEY_LENGTH
        or len(set(_key)) < 5
        or _key == DEV_SECRET_KEY
        or _key.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} random characters when "
            "TALLY_ENV=production (it signs invoice links). Generate one with: python -c "
            '"import secrets; print(secrets.token_urlsafe(64))"'
        )
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Public base URL used to build absolute links (hosted invoice page, PDF) in API answers and email.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    # django.contrib.admin, with the console's site (dashboard home, navigation): console/apps.py.
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    # Before billing, whose admin replaces auditlog's log entry admin (billing/admin.py).
    "auditlog",
    "csp",
    "billing",
    "catalog",
    "customers",
    "metering",
    "invoices",
    "payments",
    # Outgoing webhooks and customer emails: at the top, hears the apps below by signals.
    "notifications",
    # The pricing lab (backtests): at the top, reads the billing apps, writes only its reports.
    "lab",
    # Finance (revenue recognition, exports, aging): at the top, reads invoices and payments.
    "finance",
    # The operator's console (dashboard, customer 360, usage across customers): reads every app.
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS/JS, the console's) served by the app itself, also with DEBUG
    # off under gunicorn (docs/operations.md, "Static files").
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # POST /api/v1/events and /events/batch answered here, without the middleware below or DRF's
    # dispatch; it adds the CSP and X-Frame-Options headers those two would (docs/performance.md,
    # "A lean path for the event endpoints").
    "metering.fast_path.ingest_fast_path",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who made a change, for the audit log: the admin user or the API key (billing/audit.py).
    "billing.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "billing.middleware.api_input_guard",
]

ROOT_URLCONF = "billing.urls"
WSGI_APPLICATION = "billing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so the web server and the q cluster queue up
    # instead of failing with "database is locked" halfway through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The two statements of every event request (the API key's lookup, the ingest statement) are
# prepared once per connection on PostgreSQL: no parse and plan per request, about a third of
# the database's CPU of a single event (docs/performance.md, "2026-12-07"). Turn it off behind a
# pooler that cannot keep prepared statements (PgBouncer < 1.21 in transaction mode).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # psycopg prepares nothing while the threshold is None (Django's default). Django's own
    # cursors bind client-side and never prepare; a plain psycopg cursor prepares a statement
    # only when it asks (`prepare=True`): the threshold is out of reach otherwise.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Where usage is read from (docs/scaling.md, "ClickHouse"): "database" (the Django database:
# PostgreSQL or SQLite) or "clickhouse" (accepted events are also written to ClickHouse and the
# usage reads answer from it; the database stays the system of record).
EVENTS_BACKEND = env("EVENTS_BACKEND", default="database")
if EVENTS_BACKEND not in ("database", "clickhouse"):
    raise ImproperlyConfigured("EVENTS_BACKEND must be 'database' or 'clickhouse'.")
# clickhouse://user:password@host:9000/database (native protocol, clickhouse-driver).
CLICKHOUSE_URL = env("CLICKHOUSE_URL", default="clickhouse://default@127.0.0.1:9000/tally")
# A cluster of ClickHouse's remote_servers: events go to a Distributed table over its shards.
CLICKHOUSE_CLUSTER = env("CLICKHOUSE_CLUSTER", default="")

# Set CACHE_URL=redis://host:6379/0 in production: the API rate limits are then shared by all
# workers and processes (the default per-process memory cache counts each one apart).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://tally")}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # django-environ names django-redis for redis:// URLs; Django's own backend needs no extra.
    CACHES["default"]["BACKEND"] = "django.core.cache.backends.redis.RedisCache"
    CACHES["default"].pop("OPTIONS", None)
CACHES["default"].setdefault("KEY_PREFIX", env("CACHE_KEY_PREFIX", default="tally"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise serves STATIC_ROOT (filled by `manage.py collectstatic`), compressed, in production.
# Plain names, not a hashed manifest: a page never fails because a deploy skipped collectstatic.
# Elsewhere it serves the files where the finders find them, so DEBUG off works without a
# collectstatic (the browser tests, `DEBUG=0 make demo`).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not IS_PRODUCTION)
if WHITENOISE_USE_FINDERS:
    # Without a collectstatic there is no STATIC_ROOT yet: nothing to warn about.
    warnings.filterwarnings("ignore", message="No directory at")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if not IS_PRODUCTION
    else "django.core.mail.backends.smtp.EmailBackend",
)
# For the file backend (`make demo`): the folder the emails are written to, one file each.
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=BASE_DIR / ".demo-emails")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="billing@tally.example")

# The seller printed on invoices.
TALLY_COMPANY = {
    "name": env("COMPANY_NAME", default="Tally Demo Inc."),
    "address": env("COMPANY_ADDRESS", default="1 Market Street, San Francisco, CA 94105"),
    "email": env("COMPANY_EMAIL", default="billing@tally.example"),
    "tax_id": env("COMPANY_TAX_ID", default=""),
    # Shown at the top of customer emails (an absolute https:// URL of an image).
    "logo_url": env("COMPANY_LOGO_URL", default=""),
}
# Renders the customer emails from the operator's templates (notifications app); invoices
# reaches it through this setting, since a lower app never imports a higher one.
CUSTOMER_EMAIL_COMPOSER = "notifications.services.emails.email_compose"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["billing.authentication.ApiKeyAuthentication"],
    # An API key within its scope (ingest/read/full): every view, including later ones.
    "DEFAULT_PERMISSION_CLASSES": ["billing.permissions.ApiKeyScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env("API_RATE_LIMIT", default="1000/s"),
        # Requests whose API key is missing or wrong, per client address (key guessing).
        "failed_auth": env("API_FAILED_AUTH_RATE_LIMIT", default="30/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["billing.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "billing.openapi.TallyAutoSchema",
    "EXCEPTION_HANDLER": "billing.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tally API",
    "DESCRIPTION": "Usage-based billing: events, meters, plans, customers, invoices.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the installed sidecar package: /api/docs/ works offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# django-q2: ORM broker by default (works on SQLite), Redis when Q_REDIS_URL is set.
Q_CLUSTER = {
    # The queue's name on the broker: clusters of one deployment share it; two deployments
    # (or a test) on one Redis use different names.
    "name": env("Q_NAME", default="tally"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),  # longer than timeout, or tasks run twice
    "catch_up": False,
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "sync": env.bool("Q_SYNC", default=False),
    "save_limit": 1000,
    "label": "Tasks",
}
if env("Q_REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env("Q_REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"
# The scheduled cycle close queues its due subscriptions in tasks of this many (1–100,000;
# docs/scaling.md "Cycle close across machines").
CLOSE_TASK_BATCH = env.int("CLOSE_TASK_BATCH", default=1000)
if not 1 <= CLOSE_TASK_BATCH <= 100_000:
    raise ImproperlyConfigured("CLOSE_TASK_BATCH must be between 1 and 100000.")

# Outgoing webhooks: attempts per message, exponential backoff (base × 2^(n-1), capped), timeout.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=60)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
# The "trial ending" email goes out this many days before a trial ends.
TRIAL_ENDING_NOTICE_DAYS = env.int("TRIAL_ENDING_NOTICE_DAYS", default=3)

# Audit log (django-auditlog; the audited models are listed in billing/audit.py).
AUDITLOG_STORE_JSON_CHANGES = True

# How often on-demand charges are invoiced: "hourly" or "daily".
ON_DEMAND_BILLING = env("ON_DEMAND_BILLING", default="hourly")
# Lifetime of the signed links to a customer's hosted invoice page and PDF.
INVOICE_LINK_MAX_AGE_DAYS = env.int("INVOICE_LINK_MAX_AGE_DAYS", default=30)

# Payments (docs/operations.md): the Stripe gateway is on only when STRIPE_SECRET_KEY is set;
# manual payments always work. STRIPE_API_BASE points the SDK elsewhere (tests: localstripe).
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Dunning: a failed payment is retried these many days after its first failure, then (when
# PAYMENT_UNCOLLECTIBLE_AFTER_LAST_RETRY) the invoice is marked uncollectible.
PAYMENT_RETRY_DAYS = [int(days) for days in env.list("PAYMENT_RETRY_DAYS", default=["1", "3", "7"])]
if any(days <= 0 for days in PAYMENT_RETRY_DAYS) or PAYMENT_RETRY_DAYS != sorted(
    set(PAYMENT_RETRY_DAYS)
):
    raise ImproperlyConfigured("PAYMENT_RETRY_DAYS must be increasing positive days, e.g. 1,3,7.")
PAYMENT_UNCOLLECTIBLE_AFTER_LAST_RETRY = env.bool(
    "PAYMENT_UNCOLLECTIBLE_AFTER_LAST_RETRY", default=True
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Behind a proxy, the client address for rate limits: the number of proxies that append to
# X-Forwarded-For (0: use REMOTE_ADDR). Never None: DRF would then trust any X-Forwarded-For a
# client sends, and a key guesser would pick a new address per request.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

# Content Security Policy (django-csp) on every page: scripts only from our own origin (the
# admin's and Swagger UI's are files; Swagger UI runs split so its init script is one too);
# inline style attributes are allowed because the admin, Swagger UI and the hosted invoice
# page use them, and styles cannot run code. docs/operations.md "Security headers".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # HSTS: browsers keep to HTTPS for a year. Turn preload/subdomains off with the variables
    # if other hosts under the domain still serve plain HTTP.
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
