"""The real URLs plus three views that fail the way production fails, for tests/reliability/test_errors.py."""

from django.db import OperationalError
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class _Fails(APIView):
    permission_classes = []
    authentication_classes = []
    error: Exception = RuntimeError("a bug at /srv/secret/app.py")

    def get(self, request):
        raise self.error


class _Fine(APIView):
    permission_classes = []
    authentication_classes = []

    def get(self, request):
        return Response({"ok": True})


def _page_db_down(request):
    raise OperationalError("connection failed: FATAL: sorry, too many clients already")


urlpatterns = [
    path("api/v1/test/bug/", _Fails.as_view()),
    path("api/v1/test/db-full/", _Fails.as_view(error=OperationalError("FATAL: sorry, too many clients already"))),
    path("api/v1/test/fine/", _Fine.as_view()),
    path("test/page-db-down/", _page_db_down),
    path("", include("config.urls")),
]
handler404 = "core.api.exception_handler.page_not_found"
handler500 = "core.api.exception_handler.server_error"
