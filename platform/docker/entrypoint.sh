#!/bin/sh
# Container entry point. The web container (DJANGO_MIGRATE=1) applies migrations, syncs the role groups
# and collects static files before it starts; workers just run their command.
set -e
mkdir -p "${MEDIA_ROOT:-/data/media}" "${QEVAL_IMPORT_ROOTS:-/data/imports}" 2>/dev/null || true
if [ "${DJANGO_MIGRATE:-0}" = "1" ]; then
    python manage.py migrate --noinput
    python -c "import django; django.setup(); from annotation.roles import roles_sync; roles_sync()"
    python manage.py collectstatic --noinput --verbosity 0
fi
exec "$@"
