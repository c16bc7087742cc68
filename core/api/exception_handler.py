"""Every API error is JSON: `{"detail": reason}` with a 4xx/5xx status, never Django's HTML page.

Three pieces, registered in settings; no API view catches errors itself (no decorator, no try/except around
a service call, no hand-made 400 from serializer errors): views raise, and this answers.

- `api_exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]): errors raised inside DRF views.
  Service errors keep their status; a database that refuses or drops connections (PostgreSQL at
  `max_connections`, a pool that has no free connection within its timeout, a restart) becomes
  503 with `Retry-After`; a broker that cannot be reached becomes 503 too; anything else is a 500
  with a one-line reason and no traceback or server path (the traceback goes to the log).
- `ApiErrorsMiddleware`: the same answers for /api/ paths when the error happens outside a DRF view
  (a URL that matches nothing, a middleware that touched the database first).
- `server_error` / `page_not_found` (handler500 / handler404 in config.urls): what Django shows when
  everything else failed: JSON under /api/, a short plain page elsewhere; 503 when it was the database.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DATA_ERROR_REASON, ServiceError

log = logging.getLogger(__name__)
API_PREFIX = "/api/"


def retry_after_s() -> int:
    return settings.QEVAL_RETRY_AFTER_S


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError

    errors: list[type[BaseException]] = [KombuOperationalError]
    try:
        import redis

        errors.append(redis.exceptions.ConnectionError)
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(errors)


def unavailable_reason(exc: BaseException) -> str | None:
    """A one-line reason when `exc` means "a backing service is unavailable, try again" (503), else None."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        text = str(exc).lower()
        if any(
            s in text
            for s in ("too many clients", "remaining connection slots", "couldn't get a connection", "pool", "timeout")
        ):
            return "the database has no free connection right now; try again shortly"
        return "the database is unavailable right now; try again shortly"
    if isinstance(exc, _broker_errors()):
        return "the task queue is unavailable right now; try again shortly"
    return None


def unavailable_response(reason: str, *, json: bool = True) -> HttpResponse:
    response = (
        JsonResponse({"detail": reason}, status=503)
        if json
        else HttpResponse(reason + "\n", status=503, content_type="text/plain; charset=utf-8")
    )
    response["Retry-After"] = str(retry_after_s())
    return response


def api_exception_handler(exc, context):
    """DRF's handler for its own exceptions (validation, auth, throttling: {"detail": ...}), plus
    service errors, unavailable backends (503) and everything else (500), all as {"detail": ...}."""
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None:
        data = response.data
        if not (isinstance(data, dict) and set(data) == {"detail"} and isinstance(data["detail"], str)):
            # A serializer's errors (`is_valid(raise_exception=True)`) or a ValidationError with a list: one
            # readable line under "detail", "field: reason; other: reason".
            response.data = {"detail": _flatten(data)}
        return response
    reason = unavailable_reason(exc)
    if reason:
        log.warning("API answered 503: %s (%s: %s)", reason, type(exc).__name__, str(exc)[:300])
        response = Response({"detail": reason}, status=503)
        response["Retry-After"] = str(retry_after_s())
        return response
    if isinstance(exc, DataError):
        # The client's value does not fit the column: a NUL character in text, a number out of range.
        return Response({"detail": DATA_ERROR_REASON}, status=400)
    if isinstance(exc, DatabaseError):
        log.exception("database error in the API")
        return Response({"detail": "the database refused this request (internal error)"}, status=500)
    log.exception("unhandled error in the API")
    return Response({"detail": f"internal error ({type(exc).__name__}); it was logged"}, status=500)


def _flatten(data) -> str:
    if isinstance(data, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return " ".join(_flatten(v) for v in data)
    return str(data)


class ApiErrorsMiddleware:
    """JSON answers for /api/ paths when something outside a DRF view fails or nothing matches."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except Exception as exc:  # raised by a middleware below this one
            if not request.path.startswith(API_PREFIX):
                raise
            return self._error(exc)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code in (404, 405, 500)
            and not response.get("Content-Type", "").startswith("application/json")
            and not getattr(response, "streaming", False)
            and "json" not in response.get("Content-Type", "")
        ):
            # Django's own HTML 404/405/500 for a URL that matched no API view.
            reasons = {
                404: "no API endpoint at this address; the list is at /api/docs/",
                405: "method not allowed",
                500: "internal error",
            }
            return JsonResponse({"detail": reasons[response.status_code]}, status=response.status_code)
        return response

    def process_exception(self, request, exc):
        if request.path.startswith(API_PREFIX):
            return self._error(exc)
        return None

    @staticmethod
    def _error(exc) -> HttpResponse:
        reason = unavailable_reason(exc)
        if reason:
            return unavailable_response(reason)
        log.error("unhandled error under /api/", exc_info=exc)
        return JsonResponse({"detail": f"internal error ({type(exc).__name__}); it was logged"}, status=500)


def server_error(request, *args, **kwargs):
    """handler500: 503 + Retry-After when the database is what failed; JSON under /api/."""
    exc = sys.exc_info()[1]
    is_api = request.path.startswith(API_PREFIX)
    reason = unavailable_reason(exc) if exc is not None else None
    if reason:
        return unavailable_response(reason, json=is_api)
    if is_api:
        return JsonResponse({"detail": "internal error; it was logged"}, status=500)
    return HttpResponse(
        "Server error: it was logged. Try again, or tell an admin.\n",
        status=500,
        content_type="text/plain; charset=utf-8",
    )


def page_not_found(request, exception=None, *args, **kwargs):
    """handler404: JSON under /api/, Django's plain page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "no API endpoint at this address; the list is at /api/docs/"}, status=404)
    from django.views.defaults import page_not_found as django_page_not_found

    return django_page_not_found(request, exception)
