"""The floor of this stack, for benchmarks/annotation_load.py only (mounted by benchmarks/floor_settings.py,
never by config.urls): an authenticated POST that inserts one row in one transaction, through the same
gunicorn, middleware, request cycle (core/api/lean.py, with its DRF view behind it, as the rating's),
authentication, throttles, database pool and prepared statements as the rating API. Ratings/s as a share of
its requests/s says how much the rating's own work costs over the bare stack."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.lean import lean_view
from core.roles import ROLES
from core.sql import sql_rows

# The table is created by the benchmark in its own database (annotation_load.py: FLOOR_CREATE_SQL).
INSERT_SQL = "INSERT INTO bench_floor (user_id, value) VALUES (%(u)s::bigint, %(v)s::integer) RETURNING id"


def floor_answer(request, user, data: dict) -> tuple[int, dict]:
    value = data.get("quality")
    # one statement, its own transaction (no BEGIN and COMMIT round trips), as a rating that does not close
    # its batch is stored (annotation/services/ratings.py)
    (row_id,) = sql_rows(INSERT_SQL, {"u": user.pk, "v": value if isinstance(value, int) else None})[0]
    return 201, {"id": row_id}


class FloorApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        status, payload = floor_answer(request, request.user, data)
        return Response(payload, status=status)


urlpatterns = [
    path("bench/floor/", lean_view(FloorApi, floor_answer, roles=ROLES), name="bench-floor"),
    path("", include("config.urls")),
]

# The error handlers of the platform's URLconf (Django reads them from the root URLconf).
from config.urls import handler400, handler403, handler404, handler500  # noqa: E402,F401
