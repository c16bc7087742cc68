from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from frontend.api_docs import RedocView, SwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and ReDoc come from drf-spectacular-sidecar's files in our static folder: no CDN.
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("annotation.urls")),
    path("api/v1/", include("training.urls")),
    path("api/v1/", include("generation.urls")),
    path("api/v1/", include("webhooks.urls")),
    path("", include("frontend.urls")),
    path("", include("webhooks.page_urls")),
]

# Errors Django answers itself: styled pages with the reason for people, JSON under /api/ (core's handler,
# with 503 + Retry-After when the database refused): frontend/errors.py.
handler400 = "frontend.errors.bad_request"
handler403 = "frontend.errors.permission_denied"
handler404 = "frontend.errors.page_not_found"
handler500 = "frontend.errors.server_error"
