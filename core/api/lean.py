"""A lean request cycle for the API's hottest endpoints (a rating, a batch request): the contract of the DRF
view it fronts, without DRF's per-request machinery.

Why: with the rating's own work down to one prepared statement (~0.2 ms of PostgreSQL), most of a rating's
CPU was the request cycle around it: DRF's Request wrapper, content negotiation, parser and renderer
selection, three throttle objects, the permission classes, the Response's template machinery; and, for an
annotator in the browser (session cookie, not a token), three ORM queries to load the session, the user and
their roles (4.5 ms of web CPU per rating through the session against 1.35 ms through a token, measured
in-process).

How: `lean_view(drf_view, handler, roles=...)` returns a plain Django view that answers the common case
itself and hands everything else to the DRF view, unchanged:

- it answers a POST with a JSON object body (or none), an Accept that takes JSON, and either
  `Authorization: Token <key>` that names an active user, or a logged-in session (Django's database
  sessions) whose user is active and whose password hash still matches, with a valid CSRF token (the same
  check DRF's SessionAuthentication makes), by a user holding one of `roles`;
- the user and roles come from one prepared query (core/api/auth.py, the same lookups DRF's authentication
  classes use there), checked at every request as they are now (a token deleted, a session ended, a user
  switched off or a role taken away counts on the next request);
- the same throttle classes as the DRF view count it (DRF's refusal: 429, its message, Retry-After);
- `handler(request, user, data, **url_kwargs)` returns `(status, payload)`; the payload is rendered with
  DRF's JSONRenderer (the same bytes), a service error becomes `{"detail": ...}` with its status, and any
  other error goes through the API's exception handler (503 for an unavailable database, ...).

Anything else (another method, a body DRF must parse or refuse, an empty body of a form type, a body over
64 KiB, missing or bad credentials, a session cookie Django would not have made, a session Django would
flush or rotate, a CSRF failure, a missing role, a browser asking for HTML, a rendering chosen by parameter,
a test client's forced authentication, SQLite) goes to the DRF view, which answers exactly as before. That choice is made
before the throttles count, so a request is counted once whichever way it goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ..roles import user_has_role
from ..sql import fast_sql_enabled
from .auth import SessionAuthentication, TokenAuthentication, session_user
from .exception_handler import api_exception_handler

Handler = Callable[..., tuple[int, Any]]
_RENDERER = JSONRenderer()
_MAX_BODY = 64 * 1024


def lean_view(drf_view: type[APIView], handler: Handler, *, roles: tuple[str, ...], accepts=None):
    """A Django view for `drf_view`'s URL: `handler` answers the requests this module can (see the module
    docstring), `drf_view` the rest. `accepts(data)` may send a parsed body to the DRF view too (a mode the
    handler does not serve). The view carries `drf_view` as `cls`, so the API schema documents it as before."""
    fallback = drf_view.as_view()

    def answer(request: HttpRequest, **kwargs) -> HttpResponse | None:
        """The lean cycle's answer, or None where the DRF view must answer (nothing counted or written yet)."""
        data = _json_body(request) if request.method == "POST" and _enabled() else None
        if data is None or (accepts is not None and not accepts(data)):
            return None
        found = _authenticate(request)
        if found is None:
            return None
        user, by_session = found
        if not user_has_role(user, *roles):
            return None  # DRF's 403 with the roles it needs
        request.user = user
        response = _throttled(request, drf_view) or _answer(request, handler, user, data, kwargs)
        response["Allow"] = "POST, OPTIONS"
        patch_vary_headers(response, ("Accept", "Cookie") if by_session else ("Accept",))
        return response

    def view(request: HttpRequest, **kwargs):
        response = answer(request, **kwargs)
        return response if response is not None else fallback(request, **kwargs)

    view.lean_answer = answer  # type: ignore[attr-defined]  # the fast lane (lean_dispatch.py) calls it directly
    view.cls = drf_view  # type: ignore[attr-defined]  # drf-spectacular and DRF's tooling read these
    view.initkwargs = {}  # type: ignore[attr-defined]
    view.__doc__ = drf_view.__doc__
    view.__name__ = view.__qualname__ = drf_view.__name__
    view.__module__ = drf_view.__module__
    return csrf_exempt(view)  # as DRF's views: a session's CSRF token is checked in _authenticate


def _enabled() -> bool:
    return settings.QEVAL_LEAN_API and fast_sql_enabled()  # its authentication is PostgreSQL's prepared SQL


def _json_body(request: HttpRequest) -> dict | None:
    """The body as DRF's JSONParser would give it, when it is a JSON object (or empty, {}) and the client
    takes JSON; None sends the request to the DRF view (which parses, negotiates and refuses as it does)."""
    if getattr(request, "_force_auth_user", None) is not None or getattr(request, "_force_auth_token", None):
        return None  # DRF's test client forcing a user: only DRF's Request knows about it
    accept = request.META.get("HTTP_ACCEPT", "")
    if accept and ("text/html" in accept or ("application/json" not in accept and "*/*" not in accept)):
        return None  # the browsable API, or a type DRF must refuse with 406
    if ";" in accept or "format" in request.GET:
        return None  # a rendering DRF chooses by parameter (`; indent=4`, `?format=api`)
    # CONTENT_LENGTH is a number here: RequestSizeLimitMiddleware or the fast lane checked it
    if int(request.META.get("CONTENT_LENGTH") or 0) > _MAX_BODY:
        return None  # no rating or batch request is this large: DRF's parser reads it as it always did
    content_type, _, params = request.META.get("CONTENT_TYPE", "").partition(";")
    json_type = content_type.strip().lower() == "application/json" and params.strip() in ("", "charset=utf-8")
    body = request.body
    if not body and (json_type or not content_type.strip()):
        return {}  # DRF's data for no body; a form type without one is the DRF view's to read
    if not json_type:
        return None
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except ValueError:  # also UnicodeDecodeError
        return None
    return data if isinstance(data, dict) else None


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")  # DRF's strict JSON refuses NaN and Infinity too


def _authenticate(request: HttpRequest):
    """(user, by_session) for a valid token or session, else None (the DRF view then answers, 401 or 403)."""
    if request.META.get("HTTP_AUTHORIZATION"):
        try:  # DRF's own reading of the header (a scheme other than Token: None, the DRF view answers)
            found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
        except exceptions.AuthenticationFailed:
            return None
        return (found[0], False) if found else None
    user = session_user(request)
    if user is None:
        return None
    try:  # DRF's CSRF check for a session (a failure: the DRF view answers 403)
        SessionAuthentication().enforce_csrf(request)  # type: ignore[arg-type]
    except exceptions.PermissionDenied:
        return None
    return user, True


def _throttled(request: HttpRequest, drf_view: type[APIView]) -> HttpResponse | None:
    """DRF's own check_throttles with the view's throttle classes (they read .user and .META only)."""
    try:
        drf_view().check_throttles(request)  # type: ignore[arg-type]
    except exceptions.Throttled as exc:
        return _error(request, exc)
    return None


def _answer(request: HttpRequest, handler: Handler, user, data: dict, kwargs: dict) -> HttpResponse:
    try:
        status, payload = handler(request, user, data, **kwargs)
    except Exception as exc:  # the API's answer: a service error's status and reason, 503 for a database away...
        return _error(request, exc)
    return _json(payload, status)


def _json(payload: Any, status: int) -> HttpResponse:
    if payload is None:  # DRF's Response without data: no body, no Content-Type (a 204)
        response = HttpResponse(status=status)
        del response["Content-Type"]
        return response
    return HttpResponse(_RENDERER.render(payload), status=status, content_type="application/json")


def _error(request: HttpRequest, exc: Exception) -> HttpResponse:
    response = api_exception_handler(exc, {"request": request, "view": None})
    if response is None:  # pragma: no cover - the handler answers every exception
        raise exc
    return _drf_response(response)


def _drf_response(response: Response) -> HttpResponse:
    out = _json(response.data, response.status_code)
    for header in ("Retry-After", "WWW-Authenticate"):
        if header in response:
            out[header] = response[header]
    return out
