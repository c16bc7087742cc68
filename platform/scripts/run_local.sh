#!/usr/bin/env bash
# `make run`: the embedded default. SQLite file, media in var/, a Celery worker on kombu's filesystem
# transport (a real worker process, no broker server), the demo campaign, and Django's web server.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
export PYTHONPATH="$PWD:$PWD/platform"
export DJANGO_SETTINGS_MODULE=config.settings.base
# The embedded default is for one person on their own machine: Django's debug pages are on here, and only
# here (base settings keep DEBUG off unless it is asked for).
export DEBUG="${DEBUG:-true}"
export QEVAL_WORKER_QUEUES=default,training,generation
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var/broker/queue var/broker/processed var/broker/control

$PY manage.py migrate --noinput >/dev/null
$PY manage.py seed_demo

# -B runs beat inside the worker: lease expiry, the outbox relay, the stale-job and pending-scrutiny sweeps and
# retention run here too, with no separate process (its schedule file lives in var/).
.venv/bin/celery -A config worker -Q default,training,generation --pool=solo --loglevel=WARNING \
    -B --schedule=var/celerybeat-schedule >var/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
# A tiny CPU scorer for the demo's scoring page; built in the background (about 10-40 s) so the web
# server starts at once. It is a toy: real scorers come from training runs on GPU workers.
($PY manage.py register_scorer --tiny >var/demo-scorer.log 2>&1 || echo "demo scorer failed: see var/demo-scorer.log") &

cat <<MSG

  Q-Eval platform is running at http://$HOST:$PORT/
  Demo logins (username / password):
    annotator  annotator1 / demo-pass-1      expert  expert1 / demo-pass-1
    admin      admin1     / demo-pass-1      researcher  researcher1 / demo-pass-1
  API docs: http://$HOST:$PORT/api/docs/    Django admin: http://$HOST:$PORT/admin/
  Celery worker log: var/worker.log          Stop with Ctrl-C.

MSG
exec $PY manage.py runserver "$HOST:$PORT" --noreload
