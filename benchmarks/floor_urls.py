"""The floor of this stack, for benchmarks/annotation_load.py only (mounted by benchmarks/floor_settings.py,
never by config.urls): an authenticated POST that inserts one row in one transaction, through the same
gunicorn, middleware, DRF token authentication, database pool and prepared statements as the rating API.
Ratings/s as a share of its requests/s says how much the rating's own work costs over the bare stack."""

from django.db import transaction
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.sql import sql_rows

# The table is created by the benchmark in its own database (annotation_load.py: FLOOR_CREATE_SQL).
INSERT_SQL = "INSERT INTO bench_floor (user_id, value) VALUES (%(u)s::bigint, %(v)s::integer) RETURNING id"


class FloorApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request):
        value = request.data.get("quality") if isinstance(request.data, dict) else None
        with transaction.atomic():
            (row_id,) = sql_rows(INSERT_SQL, {"u": request.user.pk, "v": value if isinstance(value, int) else None})[0]
        return Response({"id": row_id}, status=201)


urlpatterns = [
    path("bench/floor/", FloorApi.as_view(), name="bench-floor"),
    path("", include("config.urls")),
]

# The error handlers of the platform's URLconf (Django reads them from the root URLconf).
from config.urls import handler400, handler403, handler404, handler500  # noqa: E402,F401
