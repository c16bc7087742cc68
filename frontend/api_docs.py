"""The API docs pages (Swagger UI, ReDoc) from our own static files, never a CDN.

drf-spectacular-sidecar (pinned in pyproject.toml) ships Swagger UI and ReDoc; SPECTACULAR_SETTINGS points
the pages at it. ReDoc's page template is ours (no Google Fonts), and both pages carry a Content-Security-Policy
that allows only this site: ReDoc's bundle still shows a logo from cdn.redoc.ly, which the browser then never
fetches. Nothing leaves the machine, so the docs work offline and leak nothing."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

SAME_SITE_ONLY = (
    "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'"
)


class _SameSiteOnly:
    @extend_schema(exclude=True)  # pages, not API endpoints
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)  # type: ignore[misc]  # mixed into an APIView
        response["Content-Security-Policy"] = SAME_SITE_ONLY
        return response


class SwaggerView(_SameSiteOnly, SpectacularSwaggerView):
    pass


class RedocView(_SameSiteOnly, SpectacularRedocView):
    template_name = "frontend/api/redoc.html"
