"""gunicorn settings for the web container (`gunicorn config.wsgi -c platform/docker/gunicorn.conf.py`).

The load benchmark serves the platform with this file (benchmarks/annotation_load.py, `--gunicorn-config`), so its
figures are this file's. Measured there on 2 cores (docs/assign.md, eighth pass): the settings this file had
until 2026-12-01 (a worker recycled every ~2,000 requests, each new worker importing Django itself) gave about
half the ratings/s of the same server with the app preloaded and recycled rarely.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core with four threads each: a request holds the GIL for most of its ~1-3 ms, so more
# processes than cores compete with each other (and with PostgreSQL) for the cores. Measured with the load
# benchmark on 2 cores, alternating: 5 x 2 (gunicorn's usual 2 x cores + 1) spent ~20% more web CPU per
# rating than 2 x 4 (docs/assign.md, fifth pass). Keep DB_POOL_MAX_SIZE >= threads.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, min(multiprocessing.cpu_count(), 16))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# The app is imported once, in the master, and every worker is forked from it: a new worker (at start, after a
# crash, when recycled) serves at once instead of spending a second or two of CPU importing Django, the views and
# scipy (config/wsgi.py loads them all). Deploying new code means restarting the container (or the master), not
# a HUP, which would keep the old code in the master.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in ("0", "false", "no", "off")
# Zip uploads of generated content can be large: give a request time to arrive and be checked.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory growth in long-lived processes), but rarely: a new worker opens its
# database connections and prepares its statements again. Every 2,000 requests meant a new worker every few
# seconds under load; 0 never recycles.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
# No access log of gunicorn's own unless asked for (GUNICORN_ACCESS_LOG="-": standard output): nginx (the `proxy`
# service) logs each request already, and formatting gunicorn's line took ~6% of a worker's GIL time under load
# (py-spy, docs/assign.md, eighth pass).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# nginx (the `proxy` service) sits in front on the compose network and sets X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
