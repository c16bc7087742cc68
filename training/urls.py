"""API v1 routes of the training app (mounted at /api/v1/)."""
urlpatterns = []
