"""The Celery app: a `default` queue for platform jobs, and `training` and `generation` queues for GPU workers.

Tasks are idempotent and acks_late (settings), so a killed worker loses nothing and a repeat changes
nothing. Workers on many machines just point CELERY_BROKER_URL and DATABASE_URL at the same servers.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("qeval")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("training"), Queue("generation"))
app.autodiscover_tasks()
