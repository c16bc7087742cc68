import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup(set_prefix=False)  # what get_wsgi_application does before making its handler

# Django's WSGI handler with the fast lane for the rating and the batch request in front of its middleware
# chain (core/api/lean_dispatch.py); every other request goes through the chain as before.
from core.api.lean_dispatch import LeanWSGIHandler  # noqa: E402

application = LeanWSGIHandler()

# Load every view module (and what they import: the services, numpy, scipy) now, not in each worker's first
# request; with gunicorn --preload it is loaded once, before the workers fork.
from django.urls import get_resolver  # noqa: E402

_views = get_resolver().url_patterns
