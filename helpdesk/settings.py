"""Every setting, read once from the environment.

Defaults are safe for a laptop: a SQLite file in the project folder, eager Celery, and mail kept
in files under the project. With DEBUG off the process refuses to start on an insecure secret
key or an empty host list, naming the variable to set.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_INSECURE_KEY = "insecure-development-key-do-not-use-in-production"


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")

if not DEBUG:
    if SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "DEBUG is off and SECRET_KEY is unset or too short: set SECRET_KEY to a random "
            "string of at least 32 characters."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG is off and ALLOWED_HOSTS is empty: set ALLOWED_HOSTS to the comma-separated "
            "host names the helpdesk is served under."
        )

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "support",
    "mailgateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "support.api.ratelimit.ApiRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "support.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# Attachments are stored through Django's storage API: a local folder by default, any
# S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (django-storages).
_bucket = env_str("AWS_STORAGE_BUCKET_NAME")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _bucket,
                "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
        if _bucket
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Celery: eager in the embedded default so that nothing needs starting by hand.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
# A task is acknowledged only after it ran: a worker that dies mid-task leaves the message in Redis
# and, once the visibility timeout has passed, another worker takes it. A pool child that is killed
# puts its task back at once (reject_on_worker_lost). The timeout must exceed the longest retry
# countdown (Redis would otherwise hand a waiting retry to a second worker): 2 hours. Mail whose
# worker died is not left waiting that long: the sweeper queues it again after 10 minutes.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 7200)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # A broker that does not answer must not hold a provider's webhook for long: the mail is
    # already stored and the sweeper queues it later.
    "socket_timeout": 5,
    "socket_connect_timeout": 3,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# The soft limit raises inside the task (it is retried with backoff); the hard limit kills it.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Three queues, so that a burst of one kind of work never delays another: run one worker (or more)
# per queue (`celery -A helpdesk worker -Q inbound`). A task without a route goes to housekeeping,
# never to a queue that nobody reads.
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    "mailgateway.process_inbound": {"queue": "inbound"},
    "mailgateway.poll_imap": {"queue": "inbound"},
    "mailgateway.send*": {"queue": "outbound"},
    "mailgateway.outbound*": {"queue": "outbound"},
    "support.notify*": {"queue": "outbound"},
    "helpdesk.*": {"queue": "housekeeping"},
}
CELERY_QUEUE_NAMES = ("inbound", "outbound", "housekeeping")
CELERY_IMPORTS = ("helpdesk.tasks",)  # helpdesk is the project, not an app: autodiscovery misses it

CACHES = {
    "default": (
        {
            "BACKEND": "helpdesk.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that hangs must cost a page a second, not the client's default of none.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "helpdesk"}
    )
}

# Mail. Out of the box every sent mail is written as a file under the project so that a person
# can read it; any Anymail ESP is one EMAIL_BACKEND away.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "sent_mail"))
# Date headers in the site's zone: `+0000` for UTC, where Django's default writes `-0000`, which
# RFC 5322 3.3 keeps for "the local zone is not known".
EMAIL_USE_LOCALTIME = True
# The console's sent-mail page, where staff read what was sent and answer it as its recipient
# through the inbound path (mailgateway/dev_outbox.py): a way to try the loop, never for production.
DEV_OUTBOX = env_bool("DEV_OUTBOX", DEBUG)
if DEV_OUTBOX and not DEBUG:
    raise ImproperlyConfigured(
        "DEV_OUTBOX is on while DEBUG is off: the sent-mail page lets staff write as the people mail "
        "went to, a way to try the helpdesk, never for production. Unset DEV_OUTBOX."
    )
# For EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend (a relay, or the compose stack's
# mail catcher on mailpit:1025).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SewaBazaar Support <support@example.com>")
SUPPORT_ADDRESS = env_str("SUPPORT_ADDRESS", "support@example.com")
# Anymail: every `ANYMAIL_<NAME>` environment variable becomes ANYMAIL["<NAME>"], so each provider's
# keys are set without code: ANYMAIL_WEBHOOK_SECRET ("user:password", the basic auth of every
# webhook URL), ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY, ANYMAIL_POSTAL_WEBHOOK_KEY,
# ANYMAIL_MAILERSEND_INBOUND_SECRET, ANYMAIL_RESEND_INBOUND_SECRET, ANYMAIL_MAILGUN_API_KEY, ...
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_") and value
}
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# How long the signed link in a mail opens its ticket signed in (support/links.py).
TICKET_LINK_MAX_AGE_DAYS = env_int("TICKET_LINK_MAX_AGE_DAYS", 30)
# Signs reply tokens (support+<token>@...); changing it retires every reply address at once.
REPLY_TOKEN_KEY = env_str("REPLY_TOKEN_KEY", SECRET_KEY)

# --- Outbound mail (mailgateway/outbound.py, mailgateway/notifications.py) -------------------
# At most this many acknowledgements to one address per hour (a sender opening many tickets, or
# a robot we failed to recognise, gets no more automatic answers within the hour).
OUTBOUND_ACK_PER_HOUR = env_int("OUTBOUND_ACK_PER_HOUR", 5)
# Retries of a mail the provider refused, with exponential backoff from OUTBOUND_RETRY_SECONDS
# (30 s, 60 s, ... at most 1 h, each +-50% so that retries do not arrive together); then `failed`.
OUTBOUND_MAX_RETRIES = env_int("OUTBOUND_MAX_RETRIES", 6)
OUTBOUND_RETRY_SECONDS = max(1, env_int("OUTBOUND_RETRY_SECONDS", 30))
# A send task that finds other mails queued behind its own (a backlog) sends up to this many in
# one batch (mailgateway/outbox.py); 1 sends each mail alone.
OUTBOUND_DRAIN_BATCH = max(1, env_int("OUTBOUND_DRAIN_BATCH", 100))
# One task for a burst of mail: a commit that queues mail starts a run of the outbox unless one
# already waits in the queue (a mark in the shared cache), and each run sends up to
# OUTBOUND_DRAIN_BATCH mails; otherwise every mail has its own task. Needs PostgreSQL and a cache
# that web and workers share (Redis), so on by default only with REDIS_URL and real workers.
OUTBOUND_COALESCE = env_bool("OUTBOUND_COALESCE", bool(REDIS_URL) and not CELERY_TASK_ALWAYS_EAGER)
# A batch starts no mail after this many seconds (a slow provider): the rest stay queued and their
# tasks are queued again, so that a batch commits well inside CELERY_TASK_SOFT_TIME_LIMIT.
OUTBOUND_BATCH_SECONDS = env_int("OUTBOUND_BATCH_SECONDS", 60)
# A mail whose sending ended the worker's process (out of memory, a crash, the hard time limit) is
# sent alone from then on, and failed with the reason once this many workers died sending it
# (mailgateway/worker_deaths.py; needs the shared cache). At least 2: the first death may have
# been another mail's of the same batch, so each mail is sent alone at least once.
OUTBOUND_MAX_WORKER_DEATHS = max(2, env_int("OUTBOUND_MAX_WORKER_DEATHS", 3))
# Who hears of an escalation: these staff addresses; empty means every active superuser.
SUPERVISOR_ADDRESSES = env_list("SUPERVISOR_ADDRESSES")
# Who hears of new tickets and of customer replies on unassigned tickets: these staff addresses;
# empty means every active staff user.
STAFF_NOTIFY_ADDRESSES = env_list("STAFF_NOTIFY_ADDRESSES")
# Optional provider-side templates: `name=template-id,...` (the names of templates/emails/); such
# a mail is sent with Anymail's template_id and the context as merge_global_data.
OUTBOUND_ESP_TEMPLATES = dict(item.split("=", 1) for item in env_list("OUTBOUND_ESP_TEMPLATES") if "=" in item)
# --- end of outbound mail ----------------------------------------------------------------------

# Inbound mail gateway (mailgateway/). Every door stores the raw mail first.
# POST /mailgateway/raw/ is closed until a token is set: `Authorization: Bearer <token>`.
INBOUND_RAW_TOKEN = env_str("INBOUND_RAW_TOKEN")
INBOUND_MAX_BYTES = env_int("INBOUND_MAX_BYTES", 50 * 1024 * 1024)
# More mails than this from one sender within an hour are recorded and ignored (a flood or a loop).
INBOUND_FLOOD_PER_HOUR = env_int("INBOUND_FLOOD_PER_HOUR", 30)
# Addresses of other helpdesks or robots whose mail is always ignored (comma-separated).
INBOUND_IGNORE_SENDERS = env_list("INBOUND_IGNORE_SENDERS", "")
# The site's own forms (contact form, app feedback) that mail From these addresses with the person
# in Reply-To: their mail is taken as that person's, never as staff's (mailgateway/form_mail.py).
INBOUND_FORM_SENDERS = env_list("INBOUND_FORM_SENDERS", "")
# A plain mailbox polled over IMAPS (IMAP_SECURITY=ssl) or STARTTLS; off while IMAP_HOST is empty.
IMAP_HOST = env_str("IMAP_HOST")
IMAP_PORT = env_int("IMAP_PORT", 993)
IMAP_SECURITY = env_str("IMAP_SECURITY", "ssl")  # ssl | starttls
IMAP_USER = env_str("IMAP_USER")
IMAP_PASSWORD = env_str("IMAP_PASSWORD")
# oauth2: an XOAUTH2 login with an access token from the token endpoint (Microsoft 365, Google):
# client credentials (CLIENT_ID + CLIENT_SECRET + SCOPE), or a REFRESH_TOKEN grant.
IMAP_AUTH = env_str("IMAP_AUTH", "password")
IMAP_OAUTH_TOKEN_URL = env_str("IMAP_OAUTH_TOKEN_URL")
IMAP_OAUTH_CLIENT_ID = env_str("IMAP_OAUTH_CLIENT_ID")
IMAP_OAUTH_CLIENT_SECRET = env_str("IMAP_OAUTH_CLIENT_SECRET")
IMAP_OAUTH_REFRESH_TOKEN = env_str("IMAP_OAUTH_REFRESH_TOKEN")
IMAP_OAUTH_SCOPE = env_str("IMAP_OAUTH_SCOPE")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX")
# After a mail is stored: mark it seen, or move it to this folder when set.
IMAP_PROCESSED_FOLDER = env_str("IMAP_PROCESSED_FOLDER")
IMAP_CA_FILE = env_str("IMAP_CA_FILE")  # a private CA for a self-hosted server
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 60)
# Celery beat polls the mailbox only when one is configured; a poll not started within its interval
# expires, so polls do not pile up behind a stopped worker.
CELERY_BEAT_SCHEDULE = (
    {
        "poll-imap": {
            "task": "mailgateway.poll_imap",
            "schedule": float(IMAP_POLL_SECONDS),
            "options": {"expires": IMAP_POLL_SECONDS},
        }
    }
    if IMAP_HOST
    else {}
)

# Production housekeeping (helpdesk/tasks.py), all on the housekeeping queue.
# A mail still `received` this long after it arrived (or after it was last re-queued) lost its task,
# for example because Redis was down when the webhook committed: the sweeper queues it again.
INBOUND_STUCK_AFTER_SECONDS = env_int("INBOUND_STUCK_AFTER_SECONDS", 600)
# The same for outbound mail still `queued`.
OUTBOUND_STUCK_AFTER_SECONDS = env_int("OUTBOUND_STUCK_AFTER_SECONDS", 600)
SWEEP_SECONDS = env_int("SWEEP_SECONDS", 60)
SWEEP_BATCH = env_int("SWEEP_BATCH", 1000)
# An inbound mail whose processing failed has a retry scheduled (attempts > 0): the sweeper leaves
# it to that retry unless it is still waiting after this long (longer than every backoff together).
# Outbound mail is found once its next try is overdue by OUTBOUND_STUCK_AFTER_SECONDS.
SWEEP_RETRYING_AFTER_SECONDS = env_int("SWEEP_RETRYING_AFTER_SECONDS", 10800)
# A resolved ticket nobody answered for this many days is closed (0: never).
AUTO_CLOSE_RESOLVED_DAYS = env_int("AUTO_CLOSE_RESOLVED_DAYS", 7)
# The raw bytes of handled mail older than this many days are removed; the messages, attachments
# and the mail's record (sender, subject, verdicts, outcome) stay (0: keep raw mail forever).
RAW_MAIL_RETENTION_DAYS = env_int("RAW_MAIL_RETENTION_DAYS", 90)
HOUSEKEEPING_SECONDS = env_int("HOUSEKEEPING_SECONDS", 3600)
CELERY_BEAT_SCHEDULE |= {
    "sweep-stuck-mail": {
        "task": "helpdesk.sweep_stuck_mail",
        "schedule": float(SWEEP_SECONDS),
        "options": {"expires": SWEEP_SECONDS},
    },
    "close-resolved-tickets": {
        "task": "helpdesk.close_resolved_tickets",
        "schedule": float(HOUSEKEEPING_SECONDS),
        "options": {"expires": HOUSEKEEPING_SECONDS},
    },
    "purge-raw-mail": {
        "task": "helpdesk.purge_raw_mail",
        "schedule": float(HOUSEKEEPING_SECONDS),
        "options": {"expires": HOUSEKEEPING_SECONDS},
    },
}
# /metrics (Prometheus): open to a scraper that sends `Authorization: Bearer $METRICS_TOKEN`; with
# no token it answers 404, unless METRICS_PUBLIC=true (a port only the scraper can reach).
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", False)
# Counters shared by gunicorn and Celery processes of one host (prometheus-client's multiprocess
# mode): a writable folder, emptied when the stack starts.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")

# Helpdesk rules that an operator may tune.
TICKET_REFERENCE_PREFIX = env_str("TICKET_REFERENCE_PREFIX", "SB")
TICKET_REFERENCE_START = env_int("TICKET_REFERENCE_START", 1000)
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
ATTACHMENT_ALLOWED_TYPES = env_list(
    "ATTACHMENT_ALLOWED_TYPES",
    ",".join(
        [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "text/csv",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
        ]
    ),
)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
RATE_LIMIT_TICKET_CREATE = env_str("RATE_LIMIT_TICKET_CREATE", "30/min")
RATE_LIMIT_DEFAULT = env_str("RATE_LIMIT_DEFAULT", "100/min")
# The reverse proxies in front of the web process (nginx, a load balancer) that append the
# client's address to X-Forwarded-For, as addresses or ranges ("127.0.0.1,10.0.0.0/8"): the failed
# sign-ins and anonymous API calls count per client address, which behind a proxy is not
# REMOTE_ADDR. The header is believed only from these (support/network.py). Empty: no proxy.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:  # a count of hops, as the setting first was, or a typo
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or a range; name the proxies: 127.0.0.1,10.0.0.0/8"
        ) from None
# Seconds a ticket list's count is kept in the cache (support/ticket_counts.py); any ticket write
# makes every kept count stale at once. Only with a cache that all processes share (Redis).
TICKET_COUNT_CACHE_SECONDS = env_int("TICKET_COUNT_CACHE_SECONDS", 60 if REDIS_URL else 0)
# Seconds a ticket's conversation (its messages' rows) is kept in the cache
# (support/conversation_cache.py); it is kept per version, so a new message is never missed.
CONVERSATION_CACHE_SECONDS = env_int("CONVERSATION_CACHE_SECONDS", 600 if REDIS_URL else 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "support.api.renderers.OrjsonRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",  # with DEBUG on only (JsonNegotiation)
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "support.api.renderers.JsonNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "support.api.pagination.TicketPagination",
    "EXCEPTION_HANDLER": "support.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SewaBazaar Helpdesk API",
    "DESCRIPTION": "Tickets, messages and attachments of the email-first helpdesk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "support.api.schema.add_error_responses",
    ],
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
# How often an open ticket page (customer or console) asks for new messages, in seconds.
WEB_POLL_SECONDS = env_int("WEB_POLL_SECONDS", 15)

# LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, process, the
# Celery task, the exception, and any `extra=` fields), for a log collector; `text` for people.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
        "json": {"()": "helpdesk.jsonlog.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
