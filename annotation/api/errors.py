"""Map service errors to HTTP answers with a reason."""
from functools import wraps

from rest_framework.response import Response

from ..services.errors import ServiceError


def service_errors(view_method):
    """Decorator for APIView methods: a ServiceError becomes {"detail": message} with its status."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        try:
            return view_method(self, request, *args, **kwargs)
        except ServiceError as exc:
            return Response({"detail": exc.message}, status=exc.status_code)

    return wrapper
