"""API v1 routes of the annotation app (mounted at /api/v1/). One module per area under api/."""

from django.urls import include, path

urlpatterns = [
    path("", include("annotation.api.jobs")),
    path("", include("annotation.api.imports")),
    path("", include("annotation.api.users")),
    path("", include("annotation.api.batches")),
    path("", include("annotation.api.media")),
    path("", include("annotation.api.scrutiny")),
    path("", include("annotation.api.datasets")),
    path("", include("annotation.api.collection")),
    path("", include("annotation.api.flags")),
]
