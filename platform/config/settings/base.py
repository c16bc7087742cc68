"""Base settings, driven by environment variables.

With no environment at all this is the embedded default that `make run` uses: a SQLite file, media
in a local folder, Celery on a filesystem transport (a real worker process, no broker server).
Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY, ALLOWED_HOSTS and
either MEDIA_ROOT (a shared volume) or the S3 settings (django-storages).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[3]  # the repository root
VAR_DIR = Path(os.environ.get("QEVAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-dev-key-change-me-" + "x" * 40)
# Off unless asked for: `make run` (platform/scripts/run_local.sh) turns it on for the embedded default.
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files (no CDN)
    "axes",  # login lockout after repeated failures (django-axes)
    "core",  # what every app shares: errors, roles, the job state machine, the API's edges
    "annotation",
    "training",
    "generation",
    "frontend",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.api.exception_handler.ApiErrorsMiddleware",  # JSON (and 503 + Retry-After) under /api/
    "core.api.limits.RequestSizeLimitMiddleware",  # 413 before a too-large upload is read
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.input_guard.NulCharacterMiddleware",  # 400 for a NUL in the address, query or a page's form
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
# django-axes checks the lockout before the password; the project's backend skips the check where there is
# no request to attribute (management commands, the test client's login()).
AUTHENTICATION_BACKENDS = [
    "core.auth_backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'qeval.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite serialises writers; a busy timeout lets the web server and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DB_POOL", True):
    # Django's own psycopg 3 pool, one per process: every gunicorn/Celery process holds at most
    # DB_POOL_MAX_SIZE connections (threads wait for a free one up to DB_POOL_TIMEOUT seconds, then the API
    # answers 503 with Retry-After) instead of one connection per request thread. Chosen over a pgbouncer
    # service: no extra server to run in the embedded default or the tests, session features (advisory
    # locks for imports, SELECT ... FOR UPDATE) keep working, and the bound is per process, so capacity is
    # processes x DB_POOL_MAX_SIZE; size max_connections for that (docs/operations.md).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
        "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "8")),
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "5")),
        "max_idle": float(os.environ.get("DB_POOL_MAX_IDLE", "300")),
    }
# The hot paths (token authentication, rating, batch requests) send prepared raw SQL on PostgreSQL (core/sql.py);
# QEVAL_SQL_FAST_PATH=false runs their ORM path instead (the one SQLite always runs), QEVAL_SQL_PREPARE=false
# keeps the raw SQL but prepares nothing (a pooler in transaction mode that cannot keep prepared statements).
QEVAL_SQL_FAST_PATH = env_bool("QEVAL_SQL_FAST_PATH", True)
QEVAL_SQL_PREPARE = env_bool("QEVAL_SQL_PREPARE", True)
# The rating and the batch request answered by the lean request cycle (core/api/lean.py) where it can; off,
# their DRF views answer every request (the same contract, more CPU per request).
QEVAL_LEAN_API = env_bool("QEVAL_LEAN_API", True)
# The lean answers above without Django's middleware chain (core/api/lean_dispatch.py); off: they answer inside it.
QEVAL_FAST_LANE = env_bool("QEVAL_FAST_LANE", True)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))

# Media: a local folder (a shared volume in production) or S3-compatible storage via django-storages.
MEDIA_URL = "/media/"  # never served directly: media goes through the access-checked view
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": os.environ["AWS_STORAGE_BUCKET_NAME"],
                "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
# Behind nginx with the media folder mounted (docker-compose's proxy), the media views check access and hand the
# file to nginx with X-Accel-Redirect under this prefix (an `internal` location aliasing MEDIA_ROOT), so a video
# download never holds a web thread; empty: the web process streams the file itself. Local storage only.
QEVAL_MEDIA_ACCEL_PREFIX = os.environ.get("QEVAL_MEDIA_ACCEL_PREFIX", "")
# Where researchers may point server-side imports ("import from a folder on the server").
IMPORT_ROOTS = [Path(p) for p in env_list("QEVAL_IMPORT_ROOTS", str(VAR_DIR / "imports"))]
EXPORT_ROOT = Path(os.environ.get("QEVAL_EXPORT_ROOT", VAR_DIR / "exports"))
TRAINING_ROOT = Path(os.environ.get("QEVAL_TRAINING_ROOT", VAR_DIR / "training"))
# Training runs: the base model when a run's config names none (a local folder or a hub id in the workers'
# cache), and how a run exports its dataset version (sft): the split (by prompt, stratified by generator; or
# "given"), its seed, the media (copy, or link: hard links when the export and the media share a filesystem) and
# golden items (keep, exclude-train, exclude).
TRAINING_BASE_MODEL = os.environ.get("QEVAL_SCORER_BASE_MODEL", "Qwen/Qwen2-VL-7B-Instruct")
TRAINING_EXPORT_SPLIT = os.environ.get("QEVAL_TRAINING_EXPORT_SPLIT", "train=0.8,val=0.1,test=0.1")
TRAINING_EXPORT_SEED = int(os.environ.get("QEVAL_TRAINING_EXPORT_SEED", "0"))
TRAINING_EXPORT_MEDIA = os.environ.get("QEVAL_TRAINING_EXPORT_MEDIA", "copy")
TRAINING_EXPORT_GOLDEN = os.environ.get("QEVAL_TRAINING_EXPORT_GOLDEN", "keep")
# Scoring through the API is synchronous up to this many files; more go through the training.score_batch task.
TRAINING_SCORE_SYNC_MAX_FILES = int(os.environ.get("QEVAL_SCORE_SYNC_MAX_FILES", "8"))
# Generation workers: tiny pipelines are built under GENERATION_ROOT/models; a claimed output whose worker
# has not written it within GENERATION_LEASE_S seconds is handed to another worker.
GENERATION_ROOT = Path(os.environ.get("QEVAL_GENERATION_ROOT", VAR_DIR / "generation"))
GENERATION_LEASE_S = int(os.environ.get("QEVAL_GENERATION_LEASE_S", "1800"))
# The OpenAI-compatible endpoints that may classify prompts (comma-separated base URLs, e.g.
# http://vllm.internal:8000/v1) and their key. The workers call these only, and send the key to these only:
# an endpoint a researcher types is otherwise a way to reach inside the deployment or to collect the key.
QEVAL_LLM_ENDPOINTS = [u.strip().rstrip("/") for u in os.environ.get("QEVAL_LLM_ENDPOINTS", "").split(",") if u.strip()]
QEVAL_LLM_API_KEY = os.environ.get("QEVAL_LLM_API_KEY", "")
# How often the rating page extends its leases while the annotator is active (seconds).
QEVAL_HEARTBEAT_SECONDS = int(os.environ.get("QEVAL_HEARTBEAT_SECONDS", "60"))
# Who is told when new items enter a campaign (annotation/services/item_events.py): the scorer screens them.
QEVAL_ITEMS_CREATED_HOOKS = ["training.services.screening.items_created"]
# Who hears of events (core/events.py: a batch decided, a version or an export ready, a training run finished).
QEVAL_EVENT_RECEIVERS = ["webhooks.events.receive"]
# Every kind of job (core/jobs.py's state machine): counted together for QEVAL_MAX_ACTIVE_JOBS_PER_USER ...
QEVAL_JOB_MODELS = ["annotation.Job", "training.TrainingRun", "generation.GenerationJob"]
# ... and swept for lost workers by the beat task annotation.jobs_sweep (and `manage.py sweep_jobs`), by name.
QEVAL_JOB_SWEEPS = {"jobs": "annotation.services.jobs.jobs_sweep", "training_runs": "training.services.runs.runs_sweep"}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # bodies that are not files
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.TokenAuthentication",  # DRF's, with the user and roles in one prepared query
        "core.api.auth.SessionAuthentication",  # DRF's, with the session, user and roles in one prepared query
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",  # names nested Input/Output per view
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
    # JSON bodies by default; the views that take files name their multipart parsers themselves, so the
    # schema documents only the bodies a view really reads.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's rates, counted in one Redis round trip where CACHE_URL is Redis (core/api/throttles.py)
        "core.api.throttles.AnonRateThrottle",
        "core.api.throttles.UserRateThrottle",
        "core.api.throttles.JobStartThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("QEVAL_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("QEVAL_THROTTLE_USER", "1200/min"),
        "job_start": os.environ.get("QEVAL_THROTTLE_JOB_START", "60/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Q-Eval dataset platform API",
    "DESCRIPTION": "Annotation, Sample-and-Scrutinize, MOS, exports and the Q-Eval-Score scorer.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every error is {"detail": reason}: each operation documents the statuses it can answer (schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.schema.document_errors"],
    # The docs pages load Swagger UI / ReDoc from drf-spectacular-sidecar (pinned), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a `status` with different choices: name their enums instead of "Status398Enum".
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "annotation.models.Job.Status",
        "TrainingRunStatusEnum": "training.models.TrainingRun.Status",
        "GenerationJobStatusEnum": "generation.models.GenerationJob.Status",
        "GenerationOutputStatusEnum": "generation.models.GenerationOutput.Status",
        "GeneratorSpecKindEnum": "generation.models.GeneratorSpec.Kind",
        "TrainingRunKindEnum": "training.models.TrainingRun.Kind",
        "GeneratorRegisterKindEnum": "generation.api.REGISTER_KINDS",
        "MediaTypeEnum": "annotation.models.MediaType",
        "ItemCheckDecisionEnum": [("release", "release"), ("broken", "broken")],
        "BatchDecisionInputEnum": [("approve", "approve"), ("reject", "reject")],
    },
}

# Throttle counters and the login lockout live in this cache: Redis when CACHE_URL names one (shared by every
# web process), else each process's memory (the embedded default: one process).
if os.environ.get("CACHE_URL", "").startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["CACHE_URL"]}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

from .limits import *  # noqa: E402,F401,F403  (input bounds, quotas, retention, jobs' fault tolerance)

# Celery. The embedded default uses kombu's filesystem transport: a real worker process, no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control in the cwd
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # How long a message a worker took (acks_late) stays invisible before the broker hands it to another
        # worker. Set per queue (CELERY_VISIBILITY_TIMEOUTS in limits.py) and applied per worker: the longest
        # of the queues the worker consumes (QEVAL_WORKER_QUEUES). Heart-beating jobs make a redelivery of
        # work that is still running harmless; the sweep, not this timeout, is what recovers a dead worker.
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT") or worker_visibility_timeout()),
        # A broker that does not answer must not hold a web request: fail fast, the outbox keeps the intent.
        "socket_connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
        "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "10")),
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None  # progress and results live in our own Job / TrainingRun rows
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# The closed-loop tick is light bookkeeping: the default queue, never behind a GPU run.
CELERY_TASK_ROUTES = {
    "training.closed_loop_tick": {"queue": "default"},
    "training.*": {"queue": "training"},
    "generation.*": {"queue": "generation"},
}
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "annotation.expire_leases", "schedule": 60.0},
    # The closed loop: retraining rounds advance, and value-selection priorities follow scorer-human
    # disagreement and coverage (training/services/retraining.py, selection_refresh).
    "closed-loop": {"task": "training.closed_loop_tick", "schedule": 300.0},
    # Fault tolerance (docs/operations.md): publish what the outbox holds, re-queue or fail jobs whose worker
    # stopped heart-beating, scrutinize closed batches still pending, prune unused exports and versions.
    "outbox-relay": {"task": "annotation.outbox_relay", "schedule": OUTBOX_RELAY_EVERY_S},
    "sweep-stale-jobs": {"task": "annotation.jobs_sweep", "schedule": JOB_SWEEP_EVERY_S},
    "sweep-pending-scrutiny": {"task": "annotation.scrutiny_sweep", "schedule": SCRUTINY_SWEEP_EVERY_S},
    "retention": {"task": "annotation.retention_apply", "schedule": 24 * 3600.0},
    "webhooks-resend-due": {"task": "webhooks.resend_due", "schedule": 60.0},
}
# Webhook deliveries (webhooks/services.py): per-attempt timeout, first retry delay (doubling), tries in all.
WEBHOOK_TIMEOUT_S = float(os.environ.get("QEVAL_WEBHOOK_TIMEOUT_S", "5"))
WEBHOOK_BACKOFF_S = float(os.environ.get("QEVAL_WEBHOOK_BACKOFF_S", "10"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("QEVAL_WEBHOOK_MAX_ATTEMPTS", "6"))
# A try's limit in all (the timeout above counts per read: a receiver sending a byte at a time is cut here).
WEBHOOK_DEADLINE_S = float(os.environ.get("QEVAL_WEBHOOK_DEADLINE_S", "15"))
# Deliveries go to public internet addresses only (webhooks/network.py: no calls into the deployment);
# these networks (comma-separated CIDRs) are allowed besides, for a deployment's own receivers inside.
WEBHOOK_ALLOWED_NETWORKS = [
    n.strip() for n in os.environ.get("QEVAL_WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()
]
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"QEVAL_WEBHOOK_ALLOWED_NETWORKS: {_exc} (give CIDRs like 10.20.0.0/16)") from None
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # upper case: LOG_LEVEL=info, as gunicorn's settings take it, is a level name logging does not know
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
