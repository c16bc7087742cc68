"""The Django project package: settings, urls, the Celery app, wsgi/asgi.

Importing it loads the Celery app so that ``shared_task`` binds to it in every process.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
