"""API routes of the webhooks app (mounted at /api/v1/)."""

from .api import urlpatterns  # noqa: F401
