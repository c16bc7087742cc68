"""NUL characters are refused at the door. PostgreSQL cannot store one in text, so a NUL that reached a query
(a filter, a saved reason) failed the request with a server error; no browser sends one, so a request whose
path, query string or (on a page) form fields hold one is answered 400 with the reason before any view runs:
the styled page for people, JSON under /api/ (frontend/errors.py). API bodies are parsed by DRF, which the
API's exception handler answers 400 for (core/api/exception_handler.py), so they are not read here: reading
a multipart body in a middleware would take it from DRF's parsers."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.urls import get_resolver

from .api.exception_handler import API_PREFIX

REASON = "a NUL character (\\0) in {where}: text cannot hold one; remove it and send again"


def nul_in(request) -> str | None:
    """Where the request holds a NUL character (the address, the query string, a form field), or None."""
    if "\x00" in request.path:
        return "the address"
    if _field_with_nul(request.GET) is not None:
        return "the query string"
    if request.method == "POST" and not request.path.startswith(API_PREFIX):
        name = _field_with_nul(request.POST)
        if name is not None:
            return f"the form field {name.replace(chr(0), '')!r}"
    return None


def _field_with_nul(querydict) -> str | None:
    """The first field whose name or a value holds a NUL, or None (a QueryDict decodes %00 in both)."""
    for name, values in querydict.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            return name
    return None


class NulCharacterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = nul_in(request)
        if where:
            # The configured handler400 (a page with the reason, JSON under /api/), called rather than raised
            # into: a raised BadRequest would put a traceback in the log for every such request.
            handler = get_resolver(getattr(request, "urlconf", None)).resolve_error_handler(400)
            return handler(request, BadRequest(REASON.format(where=where)))  # type: ignore[call-arg]  # stub: no args
        return self.get_response(request)
