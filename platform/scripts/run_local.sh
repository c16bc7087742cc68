#!/usr/bin/env bash
# `make run`: the embedded default. SQLite file, media in var/, a Celery worker on kombu's filesystem
# transport (a real worker process, no broker server), the demo campaign, and Django's web server.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
export PYTHONPATH="$PWD:$PWD/platform"
export DJANGO_SETTINGS_MODULE=config.settings.base
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var/broker/queue var/broker/processed var/broker/control

$PY manage.py migrate --noinput >/dev/null
$PY manage.py seed_demo

.venv/bin/celery -A config worker -Q default,training,generation --pool=solo --loglevel=WARNING >var/worker.log 2>&1 &
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
