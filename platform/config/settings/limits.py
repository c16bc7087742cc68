"""Bounds, quotas, retention and fault tolerance: every value settable from the environment, with safe
defaults. Imported by base.py (so production and test inherit them; test.py lowers a few).

See docs/operations.md for what each one protects against and how they were chosen.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


GiB, MiB = 1024**3, 1024**2

# --- uploads and imports ---------------------------------------------------------------------------------
# Any request body larger than this is refused with 413 before it is read (zips, media to score; API and pages).
QEVAL_MAX_UPLOAD_BYTES = _int("QEVAL_MAX_UPLOAD_BYTES", 2 * GiB)
# An import zip may unpack to at most this many bytes (counted while unpacking, not trusted from the zip)...
IMPORT_MAX_UNZIPPED_BYTES = _int("QEVAL_IMPORT_MAX_UNZIPPED_BYTES", 20 * GiB)
# ... and no member may expand more than this many times its compressed size (zip bombs; media barely
# compress, a CSV manifest about 5-10x).
IMPORT_MAX_MEMBER_RATIO = _float("QEVAL_IMPORT_MAX_MEMBER_RATIO", 100)
# Prompts (imports of items and of prompt sets): V2S's long prompts are a few hundred characters.
QEVAL_MAX_PROMPT_CHARS = _int("QEVAL_MAX_PROMPT_CHARS", 4000)
# Media probing: images are refused from their header before any pixel is decoded.
QEVAL_MAX_IMAGE_PIXELS = _int("QEVAL_MAX_IMAGE_PIXELS", 40_000_000)
QEVAL_MAX_VIDEO_SECONDS = _float("QEVAL_MAX_VIDEO_SECONDS", 600)
QEVAL_MAX_VIDEO_SIDE = _int("QEVAL_MAX_VIDEO_SIDE", 4096)
QEVAL_MAX_VIDEO_FRAMES = _int("QEVAL_MAX_VIDEO_FRAMES", 36_000)

# --- quotas ----------------------------------------------------------------------------------------------
# Jobs (imports, aggregations, exports, prompt imports), training runs and generation jobs one user may have
# queued or running at once; the next one is refused with 429.
QEVAL_MAX_ACTIVE_JOBS_PER_USER = _int("QEVAL_MAX_ACTIVE_JOBS_PER_USER", 10)
# New exports are refused (507) when the export folder's disk has less free space than this.
QEVAL_EXPORT_MIN_FREE_BYTES = _int("QEVAL_EXPORT_MIN_FREE_BYTES", 2 * GiB)
# Retention (`manage.py retention`, daily on beat): exports not downloaded for this many days are removed,
# and dataset versions older than this that nothing uses (no training run, no export kept, not among the
# newest QEVAL_RETENTION_KEEP_VERSIONS of their campaign). 0 switches retention off.
QEVAL_RETENTION_DAYS = _int("QEVAL_RETENTION_DAYS", 30)
QEVAL_RETENTION_KEEP_VERSIONS = _int("QEVAL_RETENTION_KEEP_VERSIONS", 3)
# django-axes: this many failed logins for one username from one address lock them out for the cool-off.
AXES_FAILURE_LIMIT = _int("QEVAL_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = _float("QEVAL_LOGIN_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.auth_backends.lockout_response"
AXES_VERBOSE = False

# --- no leaks --------------------------------------------------------------------------------------------
# Workers load base models and pipelines from local folders or the Hugging Face cache only, unless this is
# on (then they may download from the Hub at run time).
QEVAL_ALLOW_HUB_DOWNLOADS = os.environ.get("QEVAL_ALLOW_HUB_DOWNLOADS", "false").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
if not QEVAL_ALLOW_HUB_DOWNLOADS:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# --- jobs that survive faults ----------------------------------------------------------------------------
# A running job (and a training run) writes a heartbeat this often; one whose heartbeat is older than
# JOB_HEARTBEAT_STALE_S has lost its worker: the sweep re-queues it (up to JOB_MAX_ATTEMPTS starts in all)
# and then fails it with the reason.
JOB_HEARTBEAT_S = _float("QEVAL_JOB_HEARTBEAT_S", 10)
JOB_HEARTBEAT_STALE_S = _float("QEVAL_JOB_HEARTBEAT_STALE_S", 60)
JOB_MAX_ATTEMPTS = _int("QEVAL_JOB_MAX_ATTEMPTS", 3)
JOB_SWEEP_EVERY_S = _float("QEVAL_JOB_SWEEP_EVERY_S", 30)
# A job still queued this long after its message was published is published again (a broker that lost
# its messages); repeats are harmless, a job runs once.
JOB_QUEUED_RESEND_S = _float("QEVAL_JOB_QUEUED_RESEND_S", 1800)
TRAINING_HEARTBEAT_S = _float("QEVAL_TRAINING_HEARTBEAT_S", 20)
TRAINING_HEARTBEAT_STALE_S = _float("QEVAL_TRAINING_HEARTBEAT_STALE_S", 120)
# The outbox relay publishes messages the broker could not take when their transaction committed.
OUTBOX_RELAY_EVERY_S = _float("QEVAL_OUTBOX_RELAY_EVERY_S", 10)
OUTBOX_KEEP_SENT_DAYS = _int("QEVAL_OUTBOX_KEEP_SENT_DAYS", 7)
# Closed batches whose scrutiny has not run this long after closing are scrutinized by the sweep.
SCRUTINY_SWEEP_EVERY_S = _float("QEVAL_SCRUTINY_SWEEP_EVERY_S", 60)
SCRUTINY_SWEEP_AFTER_S = _float("QEVAL_SCRUTINY_SWEEP_AFTER_S", 120)
# Seconds a 503 asks the client to wait (Retry-After).
QEVAL_RETRY_AFTER_S = _int("QEVAL_RETRY_AFTER_S", 5)

# Broker visibility timeout per queue: what the longest piece of work on that queue needs before another
# worker may take its message over (docs/operations.md). A worker uses the longest of the queues it
# consumes (QEVAL_WORKER_QUEUES, set per service in docker-compose.yml).
CELERY_VISIBILITY_TIMEOUTS = {
    "default": _int("QEVAL_VISIBILITY_TIMEOUT_DEFAULT", 15 * 60),  # jobs: minutes; heartbeats guard longer ones
    "generation": _int("QEVAL_VISIBILITY_TIMEOUT_GENERATION", 60 * 60),  # a batch of videos; leases 30 min
    "training": _int("QEVAL_VISIBILITY_TIMEOUT_TRAINING", 3 * 60 * 60),  # runs resume from checkpoints
}


def worker_visibility_timeout() -> int:
    queues = [q.strip() for q in os.environ.get("QEVAL_WORKER_QUEUES", "default").split(",") if q.strip()]
    return max(CELERY_VISIBILITY_TIMEOUTS.get(q, CELERY_VISIBILITY_TIMEOUTS["default"]) for q in queues)
