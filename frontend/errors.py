"""Error pages for people: 400, 403, 404 and 500 as styled pages with the navigation and the reason a person
can act on. URLs under /api/ answer JSON ({"detail": ...}) instead, as the API does everywhere.

Registered in platform/config/urls.py (handler400/403/404/500). Django calls these when DEBUG is off (and
always for 400/403); with DEBUG on a 404 shows Django's debug page, which is why the embedded default runs
with DEBUG off.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.shortcuts import render
from django.template import loader

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
DEFAULT_REASONS = {
    400: "The request could not be understood.",
    403: "You are not allowed to open this page.",
    404: "There is no page at this address.",
    500: "The server had a problem and could not finish this request. It has been logged.",
}


def _reason(exception, status: int) -> str:
    """The exception's own message when it is one we wrote for people (a plain string), else the default.
    Django's URL resolver passes a dict ({"path": ..., "tried": ...}) that must never be shown."""
    args = getattr(exception, "args", ()) if exception is not None else ()
    text = args[0] if args and isinstance(args[0], str) else ""
    return text or DEFAULT_REASONS[status]


def _answer(request, status: int, reason: str):
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": reason}, status=status)  # the API's shape (core/api/exception_handler.py)
    return render(request, f"frontend/errors/{status}.html", {"status": status, "reason": reason}, status=status)


def bad_request(request, exception=None):
    return _answer(request, 400, _reason(exception, 400))


def permission_denied(request, exception=None):
    return _answer(request, 403, _reason(exception, 403))


def page_not_found(request, exception=None):
    if request.path.startswith(API_PREFIX):
        from core.api.exception_handler import page_not_found as api_not_found

        return api_not_found(request, exception)
    return _answer(request, 404, _reason(exception, 404))


def server_error(request):
    """No request context here: whatever broke (the database, a context processor) must not break the
    error page too. Plain template, static links only."""
    import sys

    from core.api.exception_handler import server_error as api_server_error
    from core.api.exception_handler import unavailable_reason

    # The database (or its pool) refused: 503 with Retry-After, JSON or plain, never a page that needs it.
    exc = sys.exc_info()[1]
    if request.path.startswith(API_PREFIX) or (exc is not None and unavailable_reason(exc)):
        return api_server_error(request)
    reason = DEFAULT_REASONS[500]
    try:
        html = loader.get_template("frontend/errors/500.html").render({"status": 500, "reason": reason})
    except Exception:  # pragma: no cover - the last resort must not raise
        log.exception("the 500 page itself failed")
        html = f"<!doctype html><title>Server error</title><h1>Server error</h1><p>{reason}</p>"
    from django.http import HttpResponseServerError

    return HttpResponseServerError(html)
