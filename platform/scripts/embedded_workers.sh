#!/usr/bin/env bash
# The embedded default's Celery workers, one per kind of work, so they never wait for each other:
#   default   imports, scrutiny, aggregation, exports, webhooks (quick platform jobs)
#   training  training and evaluation runs, generation jobs (long GPU work: one at a time)
# A long training run then never delays an export or a batch's scrutiny, as with the separate `worker` and
# `training-worker` services of docker-compose.yml. Runs both in the foreground; stopping this script (its
# process group) stops both. Logs: var/worker.log and var/worker-training.log (or $QEVAL_VAR_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
CELERY="${CELERY:-.venv/bin/celery}"
VAR="${QEVAL_VAR_DIR:-var}"
mkdir -p "$VAR/broker/queue" "$VAR/broker/processed" "$VAR/broker/control"
LEVEL="${WORKER_LOGLEVEL:-WARNING}"
# The default worker also runs beat (-B): lease expiry, the outbox relay, the stale-job and pending-scrutiny
# sweeps, retention and the closed-loop tick, with no separate process (its schedule file lives in var/).
QEVAL_WORKER_QUEUES=default "$CELERY" -A config worker -Q default -n "default@%h" --pool=solo --loglevel="$LEVEL" \
    -B --schedule="$VAR/celerybeat-schedule" >"$VAR/worker.log" 2>&1 &
QEVAL_WORKER_QUEUES=training,generation "$CELERY" -A config worker -Q training,generation -n "training@%h" \
    --pool=solo --loglevel="$LEVEL" >"$VAR/worker-training.log" 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM
wait
