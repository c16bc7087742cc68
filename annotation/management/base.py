# moved to core: remove once every branch is merged (core/management/base.py; JobCommand: ./job_command.py)
from core.management.base import CommandError, ServiceCommand  # noqa: F401

from .job_command import JobCommand  # noqa: F401,E402
