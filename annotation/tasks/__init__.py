"""Celery tasks of the annotation app: thin, load by id, call the service. Idempotent and acks_late.

Submodules hold the tasks of each area; importing them here lets Celery's autodiscovery find them.
"""

from . import assignment, jobs, mos, reliability, scrutiny  # noqa: F401
