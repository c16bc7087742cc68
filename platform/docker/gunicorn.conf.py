"""gunicorn settings for the web container (`gunicorn config.wsgi -c platform/docker/gunicorn.conf.py`)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core with four threads each: a request holds the GIL for most of its ~1-3 ms, so more
# processes than cores compete with each other (and with PostgreSQL) for the cores. Measured with the load
# benchmark on 2 cores, alternating: 5 x 2 (gunicorn's usual 2 x cores + 1) spent ~20% more web CPU per
# rating than 2 x 4 (docs/assign.md, fifth pass). Keep DB_POOL_MAX_SIZE >= threads.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, min(multiprocessing.cpu_count(), 16))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Zip uploads of generated content can be large: give a request time to arrive and be checked.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then (memory growth in long-lived processes)
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# nginx (the `proxy` service) sits in front on the compose network and sets X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
