"""Settings for Filespace Portal, read from the environment.

Every variable is documented in ``.env.example`` and the README. Bad values stop start-up
with a message that names the variable (see ``portal.envparse``).
"""

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal import queues
from portal.envparse import (
    env_bool,
    env_int,
    env_int_value,
    env_list,
    env_mailer,
    env_networks,
    env_str,
    env_url,
)
from portal.observability.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")
# The SQLite file, the filesystem broker and beat's schedule live here on a bare laptop.
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is not true.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

MSP_NAME = env_str("MSP_NAME", "Example MSP")
PORTAL_BASE_URL = env_url("PORTAL_BASE_URL", "http://127.0.0.1:8000", schemes={"http", "https"})
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "support@example.com")
# The seller on invoices (docs/billing.md, "Tax"): legal name, address lines separated by "|",
# ISO country code (decides domestic tax and EU reverse charge) and the MSP's own tax number.
MSP_LEGAL_NAME = env_str("MSP_LEGAL_NAME") or MSP_NAME
MSP_ADDRESS = [line.strip() for line in env_str("MSP_ADDRESS").split("|") if line.strip()]
MSP_COUNTRY = env_str("MSP_COUNTRY", "DE").upper()
if not re.fullmatch(r"[A-Z]{2}", MSP_COUNTRY):
    raise ImproperlyConfigured(f"MSP_COUNTRY must be a two-letter ISO code, not {MSP_COUNTRY!r}.")
MSP_TAX_NUMBER = env_str("MSP_TAX_NUMBER")
# Printed at the foot of every invoice: payment terms, bank details, registration.
MSP_INVOICE_FOOTER = env_str("MSP_INVOICE_FOOTER")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "portal",
    "portal.customers",
    "portal.plans",
    "portal.orders",
    "provisioning",
    "billing",
    "billing.payments",
    "billing.tax",
    "portal.actions",
    "portal.audit",
    "portal.staff",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.apikeys",
    "portal.api",
    "portal.webhooks",
]

MIDDLEWARE = [
    # First, so every later middleware and view logs with the request id and is timed.
    "portal.observability.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.security.middleware.RejectNulMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.customers.middleware.StaffMFAMiddleware",
    "portal.security.staff.StaffIdleTimeoutMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.branding",
                "portal.customers.context_processors.membership",
                "portal.navigation.main_navigation",
            ],
        },
    },
]

# Database: PostgreSQL in production and CI; a SQLite file under var/ on a bare laptop.
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg 3 pool replaces persistent connections; each checkout is health-checked.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=2)},
    }
else:
    # IMMEDIATE transactions and a busy timeout let the web server and a worker share one file.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss", "unix"})
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Accounts (django-allauth): email is the login, verified before first use; MFA by TOTP with
# recovery codes, optional for customers and enforced for staff by StaffMFAMiddleware.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_ADAPTER = "portal.customers.adapter.AccountAdapter"
ACCOUNT_ALLOW_SIGNUP = env_bool("ACCOUNT_ALLOW_SIGNUP", default=True)
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{MSP_NAME}] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# allauth's default rate limits (login, signup, reset, email confirmation) count in the default
# cache, which is Redis when REDIS_URL is set, so every web process shares one count.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# TOTP secrets and recovery seeds are Fernet-encrypted with FIELD_ENCRYPTION_KEYS.
MFA_ADAPTER = "portal.security.mfa.MFAAdapter"
MFA_TOTP_ISSUER = MSP_NAME
# Paths only reachable by staff who have TOTP set up (the Django admin and staff pages).
STAFF_MFA_PATH_PREFIXES = ["/admin/", "/staff/", "/billing/staff/", "/api-keys/msp/"]
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7, minimum=1)
# Staff are signed out after this many minutes without a request (docs/security.md).
STAFF_SESSION_IDLE_MINUTES = env_int("STAFF_SESSION_IDLE_MINUTES", 30, minimum=1)
# Abuse caps (docs/security.md): organisations one person may create (staff are exempt), and
# invitation emails one person may send an hour across all their organisations.
ORGANISATIONS_PER_USER = env_int("ORGANISATIONS_PER_USER", 3, minimum=1)
INVITATIONS_PER_USER_PER_HOUR = env_int("INVITATIONS_PER_USER_PER_HOUR", 30, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Email: console in development; smtp+tls://user:pass@host:587 in production.
MAILERS = {"default": env_mailer("EMAIL_URL", "console://")}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{MSP_NAME} <no-reply@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security: strict unless DEBUG. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=true.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (docs/security.md): scripts and styles only from the portal's own
# static files, or inline with the per-response nonce (`{{ csp_nonce }}`); no framing, no
# plugins, forms post only to the portal. Swagger UI's icons are data: images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# Payments through Stripe (docs/payments.md). Keys only from the environment, never logged.
# STRIPE_API_BASE and STRIPE_JS_URL point at localstripe under `make run` and in the tests.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_url("STRIPE_API_BASE", "https://api.stripe.com", schemes={"http", "https"})
STRIPE_JS_URL = env_url("STRIPE_JS_URL", "https://js.stripe.com/v3/", schemes={"http", "https"})
# A card (or invoice terms granted by staff) before the first order. On by default whenever a
# Stripe key is configured; without one the portal cannot take cards, so it cannot ask for one.
PAYMENT_METHOD_REQUIRED = env_bool("PAYMENT_METHOD_REQUIRED", default=bool(STRIPE_SECRET_KEY))
# Stripe.js is a script from STRIPE_JS_URL's origin that talks to Stripe's API and shows 3-D
# Secure in a frame from the same origin: the CSP allows exactly those origins, nothing else.
STRIPE_JS_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_JS_URL))
STRIPE_API_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_API_BASE))
if STRIPE_PUBLISHABLE_KEY:
    SECURE_CSP["script-src"].append(STRIPE_JS_ORIGIN)
    SECURE_CSP["frame-src"] = [CSP.SELF, STRIPE_JS_ORIGIN]
    SECURE_CSP["connect-src"] = sorted({CSP.SELF, STRIPE_JS_ORIGIN, STRIPE_API_ORIGIN})
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz answers over plain HTTP so load balancers and compose health checks can reach it.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$", r"^metrics$"]

# Secrets at rest (bucket keys, root passwords): Fernet keys, newest first; older keys still
# decrypt, so a key can be rotated by prepending a new one and running `manage.py rotate_keys`.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required when DEBUG is not true.")
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

# LucidLink Service API. The defaults point at the local simulator (`python -m lucidsim`).
LUCIDLINK_API_URL = env_url(
    "LUCIDLINK_API_URL", "http://127.0.0.1:8001/api/v1", schemes={"http", "https"}
)
LUCIDLINK_TOKEN_URL = env_url(
    "LUCIDLINK_TOKEN_URL", "http://127.0.0.1:8001/oauth2/token", schemes={"http", "https"}
)
LUCIDLINK_CLIENT_ID = env_str("LUCIDLINK_CLIENT_ID", "portal-demo")
LUCIDLINK_CLIENT_SECRET = env_str("LUCIDLINK_CLIENT_SECRET", "portal-demo-secret")
LUCIDLINK_CONNECT_TIMEOUT = env_int("LUCIDLINK_CONNECT_TIMEOUT", 5, minimum=1)
LUCIDLINK_READ_TIMEOUT = env_int("LUCIDLINK_READ_TIMEOUT", 30, minimum=1)
LUCID_CLI_PATH = env_str("LUCID_CLI_PATH", "lucidsim-cli")
# Managed operations through the CLI (docs/managed-operations.md): seconds before a call is
# abandoned, where each filespace's client state lives, and how the root password reaches the
# CLI (stdin or env keep it out of the process list; argv is the vendor's documented --password).
LUCID_CLI_TIMEOUT = env_int("LUCID_CLI_TIMEOUT", 60, minimum=1)
LUCID_CLI_STATE_DIR = Path(env_str("LUCID_CLI_STATE_DIR") or VAR_DIR / "lucid-cli")
LUCID_CLI_PASSWORD_VIA = env_str("LUCID_CLI_PASSWORD_VIA", "stdin")
if LUCID_CLI_PASSWORD_VIA not in ("stdin", "env", "argv"):
    raise ImproperlyConfigured("LUCID_CLI_PASSWORD_VIA must be stdin, env or argv.")

# Provisioning (docs/provisioning.md). Seconds unless named otherwise.
PROVISIONING_POLL_INTERVAL = env_int("PROVISIONING_POLL_INTERVAL", 10, minimum=1)
PROVISIONING_FIRST_POLL_DELAY = env_int("PROVISIONING_FIRST_POLL_DELAY", 5, minimum=1)
PROVISIONING_MAX_POLL_BACKOFF = env_int("PROVISIONING_MAX_POLL_BACKOFF", 300, minimum=1)
PROVISIONING_DEADLINE = env_int("PROVISIONING_DEADLINE", 1800, minimum=60)
PROVISIONING_LEASE = env_int("PROVISIONING_LEASE", 15, minimum=5)
PROVISIONING_MAX_ATTEMPTS = env_int("PROVISIONING_MAX_ATTEMPTS", 8, minimum=1)
PROVISIONING_RETRY_BASE = env_int("PROVISIONING_RETRY_BASE", 2, minimum=1)
PROVISIONING_RETRY_CAP = env_int("PROVISIONING_RETRY_CAP", 300, minimum=1)
PROVISIONING_RECONCILE_GRACE = env_int("PROVISIONING_RECONCILE_GRACE", 60, minimum=1)
PROVISIONING_POLL_BATCH = env_int("PROVISIONING_POLL_BATCH", 100, minimum=1)
# First attempts one create task takes on at once (provisioning/services/batch.py).
PROVISIONING_CREATE_BATCH = env_int("PROVISIONING_CREATE_BATCH", 50, minimum=1)
# From this many due rows on, one GET /filespaces answers a whole sweep batch.
PROVISIONING_LIST_THRESHOLD = env_int("PROVISIONING_LIST_THRESHOLD", 10, minimum=1)
PROVISIONING_RECONCILE_INTERVAL = env_int("PROVISIONING_RECONCILE_INTERVAL", 10, minimum=1)
# Seconds between status checks of a `provisioned` row (it only changes when initialized).
PROVISIONING_READY_POLL_INTERVAL = env_int("PROVISIONING_READY_POLL_INTERVAL", 900, minimum=1)
# Seconds between orphan sweeps (filespaces at LucidLink that no live row tracks).
PROVISIONING_ORPHAN_SWEEP_INTERVAL = env_int("PROVISIONING_ORPHAN_SWEEP_INTERVAL", 900, minimum=10)

# Celery. With no CELERY_BROKER_URL a filesystem broker under var/ needs no server.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    schemes={"filesystem", "redis", "rediss", "amqp", "memory"},
)
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    BROKER_DIR.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        # Broadcasts (worker control, pings) would otherwise land in ./control of the cwd.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any countdown or ETA a task uses, so Redis never redelivers a waiting task.
        "visibility_timeout": 6 * 3600,
        # A worker serving several queues empties them in the order -Q names them (provisioning
        # first, portal/queues.py PRIORITY) instead of taking turns.
        "queue_order_strategy": "priority",
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# One queue per concern (portal/queues.py: routes, priorities, time limits). Tests give each
# real worker its own prefix, so parallel runs on one Redis never share work.
CELERY_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "")
if not re.fullmatch(r"[A-Za-z0-9_.-]*", CELERY_QUEUE_PREFIX):
    raise ImproperlyConfigured(
        "CELERY_QUEUE_PREFIX may hold letters, digits, '_', '.' and '-', "
        f"not {CELERY_QUEUE_PREFIX!r}."
    )
CELERY_TASK_DEFAULT_QUEUE = queues.queue_name(queues.DEFAULT, CELERY_QUEUE_PREFIX)
CELERY_TASK_ROUTES = (queues.route_task,)
CELERY_TASK_ANNOTATIONS = queues.annotations()
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# The worker-wide limits; each routed task carries its queue's own (portal/queues.py LIMITS).
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# acks_late is decided per task (only idempotent tasks get it), so the default stays early ack.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Usage and billing (docs/billing.md). One sample per filespace per slot of this many seconds.
USAGE_SAMPLE_INTERVAL_SECONDS = env_int("USAGE_SAMPLE_INTERVAL_SECONDS", 3600, minimum=60)
USAGE_SAMPLE_CONCURRENCY = env_int("USAGE_SAMPLE_CONCURRENCY", 8, minimum=1)
# Raw samples and gaps are kept in whole UTC months: a month goes once its last slot is older
# than this (on PostgreSQL its partition is dropped). Beat creates the partitions of this month
# and the next USAGE_PARTITION_MONTHS_AHEAD months every day (docs/scaling.md).
USAGE_RAW_RETENTION_DAYS = env_int("USAGE_RAW_RETENTION_DAYS", 400, minimum=35)
USAGE_PARTITION_MONTHS_AHEAD = env_int("USAGE_PARTITION_MONTHS_AHEAD", 2, minimum=1)
BILLING_DRIFT_PERCENT = env_int("BILLING_DRIFT_PERCENT", 5, minimum=0)
# Customer termination (docs/staff.md): days between the second approval and the deletion of
# the customer's filespaces at LucidLink.
TERMINATION_GRACE_DAYS = env_int("TERMINATION_GRACE_DAYS", 14, minimum=0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "portal.beat:ScheduleFileScheduler"
CELERY_BEAT_SCHEDULE: dict = {
    "poll-filespaces": {
        "task": "provisioning.tasks.poll_filespaces",
        "schedule": float(PROVISIONING_POLL_INTERVAL),
    },
    "reconcile-filespaces": {
        "task": "provisioning.tasks.reconcile_filespaces",
        "schedule": float(PROVISIONING_RECONCILE_INTERVAL),
    },
    "reconcile-initializations": {
        "task": "provisioning.managed_tasks.reconcile_initializations",
        "schedule": float(PROVISIONING_RECONCILE_INTERVAL),
    },
    "sweep-orphan-filespaces": {
        "task": "provisioning.tasks.sweep_orphans",
        "schedule": float(PROVISIONING_ORPHAN_SWEEP_INTERVAL),
    },
    "collect-usage": {
        "task": "billing.tasks.collect_usage",
        "schedule": float(USAGE_SAMPLE_INTERVAL_SECONDS),
    },
    "rollup-usage": {"task": "billing.tasks.rollup_usage", "schedule": crontab(minute=20)},
    "prune-usage-samples": {
        "task": "billing.tasks.prune_usage_samples",
        "schedule": crontab(hour=4, minute=10),
    },
    "ensure-usage-partitions": {
        "task": "billing.tasks.ensure_usage_partitions",
        "schedule": crontab(hour=0, minute=5),
    },
    "check-upstream-billing": {
        "task": "billing.tasks.check_upstream_billing",
        "schedule": crontab(hour=2, minute=30),
    },
    "run-invoices": {
        "task": "billing.tasks.run_invoices",
        "schedule": crontab(day_of_month="1", hour=3, minute=0),
    },
    "carry-out-terminations": {
        "task": "portal.staff.tasks.carry_out_terminations",
        "schedule": crontab(minute=40),
    },
}
# One heartbeat per queue, so every worker group shows in WorkerHeartbeat and /healthz.
for _queue in queues.PRIORITY:
    CELERY_BEAT_SCHEDULE[f"worker-heartbeat-{_queue}"] = {
        "task": "portal.tasks.record_worker_heartbeat",
        "schedule": 60.0,
        "options": {"queue": queues.queue_name(_queue, CELERY_QUEUE_PREFIX)},
    }

# REST API (docs/api.md): bearer API keys, one error shape, cursor pages, per-key rate limits
# counted in the default cache (Redis when REDIS_URL is set, so every web process shares them).
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", API_RATE_LIMIT):
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT must look like 600/min or 10/s, not {API_RATE_LIMIT!r}."
    )
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"apikey": API_RATE_LIMIT, "anon": API_RATE_LIMIT},
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.IdCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{MSP_NAME} Filespace Portal API",
    "DESCRIPTION": "Plans, customers, orders, filespaces, usage, invoices and audit entries. "
    "See docs/api.md for keys, errors, pagination and webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No call-outs to swagger.io's validator (the CSP would refuse them anyway).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "portal.customers.models.Customer.Status",
        "OrderStateEnum": "portal.orders.models.Order.State",
        "FilespaceStateEnum": "provisioning.models.Filespace.State",
        "ProvisioningEventKindEnum": "provisioning.models.ProvisioningEvent.Kind",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "InvoiceKindEnum": "billing.models.Invoice.Kind",
        "InvoiceLineKindEnum": "billing.models.InvoiceLine.Kind",
    },
}
# Webhooks: signed POSTs with retries (docs/api.md, "Webhooks"). Seconds unless named otherwise.
WEBHOOK_CONNECT_TIMEOUT = env_int("WEBHOOK_CONNECT_TIMEOUT", 5, minimum=1)
WEBHOOK_READ_TIMEOUT = env_int("WEBHOOK_READ_TIMEOUT", 10, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE = env_int("WEBHOOK_RETRY_BASE", 30, minimum=1)
WEBHOOK_RETRY_CAP = env_int("WEBHOOK_RETRY_CAP", 3600, minimum=1)
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 60, minimum=10)
# Plain http to loopback receivers, for development and the tests; production needs public https.
WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)
# Ports a webhook URL may name besides 443 (docs/security.md): each one the MSP opens here is a
# port customers can make the portal connect to on any public host.
WEBHOOK_ALLOWED_PORTS = [
    env_int_value("WEBHOOK_ALLOWED_PORTS", port) for port in env_list("WEBHOOK_ALLOWED_PORTS")
]
if not all(0 < port < 65536 for port in WEBHOOK_ALLOWED_PORTS):
    raise ImproperlyConfigured("WEBHOOK_ALLOWED_PORTS must list ports between 1 and 65535.")
# The outbox relay runs after every action's commit; this sweep catches a message lost to a crash.
CELERY_BEAT_SCHEDULE["relay-outbox"] = {
    "task": "portal.webhooks.tasks.relay_outbox",
    "schedule": 15.0,
}
CELERY_BEAT_SCHEDULE["send-due-webhooks"] = {
    "task": "portal.webhooks.tasks.send_due_webhooks",
    "schedule": 30.0,
}
CELERY_BEAT_SCHEDULE["prune-webhook-history"] = {
    "task": "portal.webhooks.tasks.prune_webhook_history",
    "schedule": crontab(hour=4, minute=30),
}
CELERY_BEAT_SCHEDULE["prune-idempotent-responses"] = {
    "task": "portal.api.tasks.prune_idempotent_responses",
    "schedule": crontab(hour=4, minute=40),
}

# Payments: find charges whose answer or webhook never came (docs/payments.md). The lease
# outlasts a Stripe call (its read timeout is 30 s); the reconciler resends a charge left pending
# PAYMENT_RECONCILE_GRACE seconds after its last change, once its lease is free.
PAYMENT_LEASE_SECONDS = env_int("PAYMENT_LEASE_SECONDS", 120, minimum=30)
PAYMENT_RECONCILE_GRACE = env_int("PAYMENT_RECONCILE_GRACE", 300, minimum=1)
PAYMENT_RECONCILE_INTERVAL = env_int("PAYMENT_RECONCILE_INTERVAL", 300, minimum=1)
# Dunning: reminder e-mails (each also retries the card) this many days after a failed charge,
# then suspension for non-payment DUNNING_SUSPEND_AFTER_DAYS after it; paying resumes.
DUNNING_REMINDER_DAYS = sorted(
    env_int_value("DUNNING_REMINDER_DAYS", day)
    for day in env_list("DUNNING_REMINDER_DAYS", ["1", "3", "7"])
)
DUNNING_SUSPEND_AFTER_DAYS = env_int("DUNNING_SUSPEND_AFTER_DAYS", 10, minimum=1)
if DUNNING_REMINDER_DAYS and DUNNING_REMINDER_DAYS[-1] > DUNNING_SUSPEND_AFTER_DAYS:
    raise ImproperlyConfigured("DUNNING_SUSPEND_AFTER_DAYS must come after the last reminder day.")
CELERY_BEAT_SCHEDULE["run-dunning"] = {
    "task": "billing.payments.tasks.run_dunning",
    "schedule": crontab(minute=50),
}
CELERY_BEAT_SCHEDULE["reconcile-payments"] = {
    "task": "billing.payments.tasks.reconcile_payments",
    "schedule": float(PAYMENT_RECONCILE_INTERVAL),
}

# Observability (docs/observability.md). /metrics answers a bearer METRICS_TOKEN or a caller
# whose address is in METRICS_ALLOWED_IPS; nobody when both are empty. A Celery worker serves its
# pool's metrics on WORKER_METRICS_PORT (0: off). Logs are JSON lines unless LOG_FORMAT=plain.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_networks(
    "METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"] if DEBUG else []
)
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0, minimum=0)
WORKER_METRICS_ADDRESS = env_str("WORKER_METRICS_ADDRESS", "127.0.0.1")
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
