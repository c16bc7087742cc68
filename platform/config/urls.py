from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("annotation.urls")),
    path("api/v1/", include("training.urls")),
    path("api/v1/", include("generation.urls")),
    path("", include("frontend.urls")),
]

# Errors Django answers itself: JSON under /api/ (and 503 + Retry-After when the database refused).
handler404 = "core.api.exception_handler.page_not_found"
handler500 = "core.api.exception_handler.server_error"
