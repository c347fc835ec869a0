"""Settings, all read from the environment.

HYBRIDPORTAL_ENV selects the mode: ``development`` (default: DEBUG, a generated local SECRET_KEY,
SQLite in var/), ``production`` (SECRET_KEY and ALLOWED_HOSTS required, secure cookies, HSTS) or
``test``. DATABASE_URL switches to PostgreSQL (``postgres://user:pass@host:5432/name``).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HYBRIDPORTAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENV = os.environ.get("HYBRIDPORTAL_ENV") or ("test" if "pytest" in sys.modules else "development")
if ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"HYBRIDPORTAL_ENV must be development, production or test, not {ENV!r}")
PRODUCTION = ENV == "production"


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """A development key generated once and kept in var/, so sessions survive restarts.

    Every web and worker process must share it: django-q2 signs task payloads with it.
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when HYBRIDPORTAL_ENV=production")
    SECRET_KEY = _local_secret_key()

DEBUG = _env_bool("DEBUG", ENV == "development")
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when HYBRIDPORTAL_ENV=production")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "ninja",  # serves the API docs' Swagger UI from static files, not a CDN
    "axes",
    "hybridportal",
    "budgets",
    "jobs",
    "benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "hybridportal.api_errors.ApiErrorMiddleware",  # JSON errors for every /api/ failure
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "hybridportal.not_found.PortalNotFoundMiddleware",  # the portal's 404 page with DEBUG on too
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hybridportal.urls"
WSGI_APPLICATION = "hybridportal.wsgi.application"

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
                "hybridportal.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# SQLite is the embedded default: WAL lets the web server read while a worker writes, and IMMEDIATE
# transactions take the write lock up front so two writers queue on the busy timeout instead of
# failing with "database is locked" when a read transaction tries to upgrade.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Persistent connections: opening a PostgreSQL connection costs more than a job's queries, and
# django-q2's pusher, workers and monitor each close theirs between tasks otherwise (once per poll, per
# task, per result). django-q2 closes every connection before it forks a process, and health checks
# replace one a restarted server dropped, so reuse is safe. 0 turns it off.
DB_CONN_MAX_AGE = int(os.environ.get("DB_CONN_MAX_AGE", "300"))
# Prepared statements: PostgreSQL plans each statement afresh under Django's default client-side
# binding, and for the submit's and worker's short statements planning costs more than running them.
# With Django's `server_side_binding`, psycopg prepares a statement on a connection once it has run
# DB_PREPARE_THRESHOLD times there. "off" keeps Django's default, for a
# connection pooler in transaction mode that cannot carry prepared statements (PgBouncer < 1.21).
DB_PREPARE_THRESHOLD = os.environ.get("DB_PREPARE_THRESHOLD", "5").strip().lower()
if DB_PREPARE_THRESHOLD != "off" and not DB_PREPARE_THRESHOLD.isdigit():
    raise ImproperlyConfigured(
        f"DB_PREPARE_THRESHOLD must be a whole number of runs or off, not {DB_PREPARE_THRESHOLD!r}"
    )
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)}
    if DB_PREPARE_THRESHOLD != "off" and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=int(DB_PREPARE_THRESHOLD)
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # HYBRIDPORTAL_SQLITE_PATH lets worker processes started by tests open the test database.
            "NAME": Path(os.environ.get("HYBRIDPORTAL_SQLITE_PATH", VAR_DIR / "hybridportal.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            },
            # A file, not memory, so worker processes started by tests see the test database.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock a username+IP after 5 failures for 15 minutes (its default lockout is permanent).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_ENABLED = _env_bool("AXES_ENABLED", ENV != "test")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
if not PRODUCTION:
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Request bodies: an oversized API body is answered 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2 * 1024 * 1024)))
# REST API: requests per token (or per signed-in user) per period ("120/min", "5000/hour"; empty: off).
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "120/min")

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "hybridportal@localhost")
# The portal's address as its users reach it, for the links in its e-mails (empty: paths only).
PORTAL_URL = os.environ.get("PORTAL_URL", "" if PRODUCTION else "http://127.0.0.1:8000").rstrip("/")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "hybridportal_cache",
    }
}
# How long a process keeps price overrides and the policy's run records; 0 reads them on every quote.
SLOW_READS_SECONDS = float(os.environ.get("SLOW_READS_SECONDS", "5"))

# --- Security (production) ------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): pages load only the portal's own static files. No inline
# scripts or styles, no eval (htmx runs with allowEval off; its trigger conditions live in
# static/js/portal.js; plotly's stylesheet is static/vendor/plotly.css, see templates/_plotly.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # the API docs (Swagger UI) and plotly draw some icons from data: URLs
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Money ----------------------------------------------------------------------------------------
CURRENCY = os.environ.get("HYBRIDPORTAL_CURRENCY", "USD")

# --- Orchestration (jobs.services / jobs.policy) --------------------------------------------------
# A pending approval request expires (and its job is rejected, hold released) after this many hours.
HYBRIDPORTAL_APPROVAL_TTL_HOURS = float(os.environ.get("HYBRIDPORTAL_APPROVAL_TTL_HOURS", "72"))
# Idempotency keys of POST /jobs are kept at least this long (never less than 24 h).
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_TTL_HOURS", "24"))
# How long a duplicate request waits for the first one with the same key before answering 409.
IDEMPOTENCY_WAIT_SECONDS = float(os.environ.get("IDEMPOTENCY_WAIT_SECONDS", "10"))
# The policy skips a backend when at least `failure_ratio` of its last `window_jobs` jobs finished in
# the last `window_minutes` failed with backend errors (and at least `min_jobs` finished).
CIRCUIT_BREAKER = {
    "window_jobs": int(os.environ.get("CIRCUIT_BREAKER_WINDOW_JOBS", "10")),
    "window_minutes": float(os.environ.get("CIRCUIT_BREAKER_WINDOW_MINUTES", "15")),
    "failure_ratio": float(os.environ.get("CIRCUIT_BREAKER_FAILURE_RATIO", "0.5")),
    "min_jobs": int(os.environ.get("CIRCUIT_BREAKER_MIN_JOBS", "4")),
}
# Quotes learn each backend's execute time from its latest ESTIMATE_RUNS_PER_BACKEND succeeded runs; a
# process keeps the fitted model until a newer run finishes, or at most ESTIMATE_MODEL_TTL_SECONDS.
ESTIMATE_RUNS_PER_BACKEND = int(os.environ.get("ESTIMATE_RUNS_PER_BACKEND", "100"))
ESTIMATE_MODEL_TTL_SECONDS = int(os.environ.get("ESTIMATE_MODEL_TTL_SECONDS", "300"))

# --- Workers (django-q2) --------------------------------------------------------------------------
# Why these values (django-q2's ORM broker and cluster):
# - ORM broker: at-least-once. A task pulled by a cluster is locked until now + `retry`; a worker that
#   dies (kill -9, OOM) saves nothing and the task reappears after `retry`. Our tasks claim the Job row
#   with a conditional UPDATE, so a second delivery does nothing; the Job row, not django-q2's tables,
#   is the truth, and the reaper (jobs.reaper) returns jobs whose worker died: within about
#   JOB_HEARTBEAT_STALE_SECONDS of its last heartbeat, not after `timeout` or `retry`.
# - `retry` > `timeout` (+ time in the cluster's in-memory queue), or a task still running is delivered
#   a second time. Checked below for every cluster.
# - `max_attempts` bounds redeliveries of one task (0 would retry forever); the job's own attempt limit
#   is JOB_MAX_ATTEMPTS. `ack_failures` so a task that raised is not redelivered: the job already
#   recorded the failure.
# - Tasks carry ids only (payloads are pickled and signed with SECRET_KEY, shared by every process, as
#   is `name`). Connections persist (DB_CONN_MAX_AGE, see DATABASES): django-q2 closes them all
#   before it forks, so no connection is shared across a fork.
# - Clusters: interactive (small simulator jobs, and the reaper), batch (sweeps, benchmarks) and
#   hardware (vendor submit/poll). `serve` starts one process each with Q_CLUSTER_NAME=<name> (the
#   `--name` flag does not take effect). Schedules name their cluster; the default one is not started.
# - A cluster prefetches up to `queue_limit` tasks and locks their rows for `retry`: their wait counts
#   against `retry`, and a cluster that dies strands them until `retry` passes (the reaper re-enqueues
#   such jobs sooner). So prefetch little.
Q_TIMEOUT = int(os.environ.get("Q_TIMEOUT", "600"))
Q_RETRY = int(os.environ.get("Q_RETRY", str(Q_TIMEOUT + 300)))
Q_HARDWARE_TIMEOUT = int(os.environ.get("Q_HARDWARE_TIMEOUT", "120"))
Q_HARDWARE_RETRY = int(os.environ.get("Q_HARDWARE_RETRY", str(Q_HARDWARE_TIMEOUT + 180)))
if Q_RETRY <= Q_TIMEOUT or Q_HARDWARE_RETRY <= Q_HARDWARE_TIMEOUT:
    raise ImproperlyConfigured("Q_RETRY must exceed Q_TIMEOUT, or running tasks are delivered twice")
Q_CLUSTER = {
    "name": "hybridportal",
    "orm": "default",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": int(os.environ.get("Q_MAX_ATTEMPTS", "3")),
    "ack_failures": True,
    # The ORM broker, plus LISTEN/NOTIFY on PostgreSQL: an idle cluster wakes when a task commits
    # (jobs/broker.py); `poll` is then only the fallback, e.g. for delayed tasks.
    "broker_class": "jobs.broker.NotifyORM",
    "poll": float(os.environ.get("Q_POLL", "0.05")),
    "catch_up": False,
    "recycle": 500,
    "max_rss": 2_000_000,
    # Successful results are kept (no per-result pruning: django-q2 locks and reads every stored
    # success on each save when save_limit > 0) and purged by age by the reaper. Job tasks store no
    # success at all: the Job row and its events are the record.
    "save_limit": 0,
    "queue_limit": 4,
    "label": "Workers",
    "ALT_CLUSTERS": {
        "interactive": {"workers": int(os.environ.get("Q_INTERACTIVE_WORKERS", "2"))},
        "batch": {"workers": int(os.environ.get("Q_BATCH_WORKERS", "1"))},
        "hardware": {
            "workers": int(os.environ.get("Q_HARDWARE_WORKERS", "1")),
            "timeout": Q_HARDWARE_TIMEOUT,
            "retry": Q_HARDWARE_RETRY,
        },
    },
}
# A job may be started this many times (worker deaths and transient backend errors both count).
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "3"))
# Transient backend errors: retry after base × 2^(attempt-1) seconds (±20 %), capped.
JOB_RETRY_BACKOFF_SECONDS = float(os.environ.get("JOB_RETRY_BACKOFF_SECONDS", "2"))
JOB_RETRY_BACKOFF_MAX_SECONDS = float(os.environ.get("JOB_RETRY_BACKOFF_MAX_SECONDS", "300"))
# A running simulator job is reaped this long after its cluster's task timeout (the backstop for a job
# without heartbeats; see below).
JOB_DEADLINE_MARGIN_SECONDS = float(os.environ.get("JOB_DEADLINE_MARGIN_SECONDS", "30"))
# Every cluster refreshes the heartbeat of the jobs its live workers run, and returns running jobs
# whose heartbeat is older than the stale limit to the queue (jobs.heartbeat), on this period. Several
# beats must fit in the limit, or a busy database that delays one beat makes a live worker look dead.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "5"))
JOB_HEARTBEAT_STALE_SECONDS = float(os.environ.get("JOB_HEARTBEAT_STALE_SECONDS", "30"))
if not 0 < JOB_HEARTBEAT_SECONDS * 3 <= JOB_HEARTBEAT_STALE_SECONDS:
    raise ImproperlyConfigured(
        f"JOB_HEARTBEAT_STALE_SECONDS ({JOB_HEARTBEAT_STALE_SECONDS:g}) must be at least three times "
        f"JOB_HEARTBEAT_SECONDS ({JOB_HEARTBEAT_SECONDS:g}), which must be above 0: otherwise one late "
        "heartbeat makes a live worker look dead"
    )
# A queued job whose task is missing from the broker this long after its last change is enqueued again.
JOB_LOST_ENQUEUE_SECONDS = float(os.environ.get("JOB_LOST_ENQUEUE_SECONDS", "60"))
# Most jobs one batch submission (POST /api/v1/jobs/batch) may hold: it is one transaction, so this
# bounds how long it holds the budget rows it reserves on.
JOB_BATCH_MAX = int(os.environ.get("JOB_BATCH_MAX", "500"))
# Successful django-q2 task records (schedules, sweeps) are kept this long.
Q_SUCCESS_KEEP_HOURS = float(os.environ.get("Q_SUCCESS_KEEP_HOURS", "72"))
# How often a submitted hardware job is polled.
HARDWARE_POLL_SECONDS = float(os.environ.get("HARDWARE_POLL_SECONDS", "2"))
# A hardware job fails after this many transient poll errors in a row: otherwise a vendor that lost the
# job is polled forever, its hold never released. Polls back off like retries, so 20 ride out ~1 h.
HARDWARE_POLL_MAX_ERRORS = int(os.environ.get("HARDWARE_POLL_MAX_ERRORS", "20"))
# A hardware job still queued/running at the vendor this long after submission is cancelled there and
# failed: its budget hold stays reserved the whole time, and a week-old vendor queue entry is stuck.
HARDWARE_MAX_WAIT_SECONDS = float(os.environ.get("HARDWARE_MAX_WAIT_SECONDS", str(7 * 24 * 3600)))

# --- Backends -------------------------------------------------------------------------------------
HYBRIDPORTAL_BACKENDS = {
    # Worker memory the statevector guard admits (bytes). 2^n × 8 (complex64) or × 16 (complex128).
    "memory_limit_bytes": int(os.environ.get("WORKER_MEMORY_LIMIT_BYTES", str(8 * 1024**3))),
    "qsim_threads": int(os.environ.get("QSIM_THREADS", str(os.cpu_count() or 1))),
    # Credentials for real vendors; without them hardware runs as an emulated device.
    "ibm_token": os.environ.get("IBM_QUANTUM_TOKEN", ""),
    "ibm_instance": os.environ.get("IBM_QUANTUM_INSTANCE", ""),
    # Emulated vendor queue: mean seconds a hardware job waits before it runs.
    "emulated_queue_seconds": float(os.environ.get("EMULATED_QUEUE_SECONDS", "5")),
    "state_dir": str(VAR_DIR / "adapters"),
}

# --- Observability --------------------------------------------------------------------------------
OTEL_EXPORTER = os.environ.get("OTEL_EXPORTER", "none")  # none | console | otlp
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "hybridportal.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")},
        "axes": {"level": "WARNING"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50
WHITENOISE_USE_FINDERS = not PRODUCTION

if ENV == "test":
    # Fast hashing for the many users tests create; real hashers everywhere else.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
