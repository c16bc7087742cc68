#!/usr/bin/env bash
# `make run`: the embedded default. SQLite file, media in var/, Celery workers on kombu's filesystem
# transport (real worker processes, no broker server; one for platform jobs, one for training and
# generation, so neither waits for the other), the demo campaign, and Django's web server.
# DEBUG is off, as in production, so people see the styled error pages; `DEBUG=true make run` for
# Django's debug pages. runserver --insecure serves the static files (the API docs' too) without DEBUG.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
export PYTHONPATH="$PWD:$PWD/platform"
export DJANGO_SETTINGS_MODULE=config.settings.base
# DEBUG stays off (base settings' default): people see the styled error pages a deployment shows, and no
# debug page lists settings or URL patterns. `DEBUG=true make run` brings Django's debug pages back.
export DEBUG="${DEBUG:-false}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var/broker/queue var/broker/processed var/broker/control

$PY manage.py migrate --noinput >/dev/null
$PY manage.py seed_demo

# Two workers (platform jobs; GPU work), beat inside the first: platform/scripts/embedded_workers.sh.
setsid bash platform/scripts/embedded_workers.sh &
WORKERS=$!
trap 'kill -- -$WORKERS 2>/dev/null || true' EXIT INT TERM
# A tiny CPU scorer for the demo's scoring page; built in the background (about 10-40 s) so the web
# server starts at once. It is a toy: real scorers come from training runs on GPU workers.
($PY manage.py register_scorer --tiny >var/demo-scorer.log 2>&1 || echo "demo scorer failed: see var/demo-scorer.log") &

cat <<MSG

  Q-Eval platform is running at http://$HOST:$PORT/
  Demo logins (username / password):
    annotator  annotator1 / demo-pass-1      expert  expert1 / demo-pass-1
    admin      admin1     / demo-pass-1      researcher  researcher1 / demo-pass-1
  API docs: http://$HOST:$PORT/api/docs/    Django admin: http://$HOST:$PORT/admin/
  Worker logs: var/worker.log (platform jobs), var/worker-training.log (training, generation)
  Stop with Ctrl-C.

MSG
$PY manage.py runserver "$HOST:$PORT" --noreload --insecure
