import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()

# Load every view module (and what they import: the services, numpy, scipy) now, not in each worker's first
# request; with gunicorn --preload it is loaded once, before the workers fork.
from django.urls import get_resolver  # noqa: E402

_views = get_resolver().url_patterns
