"""The fast lane: a POST to one of the lean routes (a rating, a batch request) reaches its lean answer without
Django's middleware chain and URL resolver.

Why: once the lean cycle (lean.py) had taken DRF out of these requests, what remained around the rating's own
work was Django's: ten middleware classes and the resolver walking every URL pattern, about a sixth of a
rating's web CPU in a profile, for work that does nothing on these requests (messages, django-axes' lockout,
lazy users, CSRF's view hook on a csrf_exempt view) or that the lean answer already does (sessions, CSRF,
API errors).

How: `LeanWSGIHandler` is Django's WSGIHandler (request_started/request_finished and their connection care,
the script prefix, cookies and streaming all unchanged) whose get_response first asks its `LeanLane`:

- the lean routes are the URL patterns whose view carries `lean_answer` (lean_view sets it), matched with the
  same pattern objects and converters Django's resolver uses, only for those routes;
- before answering it runs the middleware checks that could refuse or redirect the request (the security
  middleware's HTTPS redirect, CommonMiddleware's host and user-agent checks) and gives up where any would;
- it gives the request its session as SessionMiddleware would, asks the view's lean answer, and answers an
  error raised there as the API's error middleware would (503 for an unavailable database);
- the answer gets the response headers of the middleware that sets them on these requests (security headers,
  X-Frame-Options, Content-Length, the session's Vary and cookie care, CSRF's cookie), and is logged as
  Django logs a 4xx or 5xx.

Anything the lean answer does not take (None: another method, a body or credentials it leaves to DRF, a body
larger than any rating, a malformed Content-Length, a refused host...) goes through the whole chain,
unchanged, with nothing counted or written on the way. Off with `QEVAL_LEAN_API`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import URLPattern, URLResolver, get_resolver, set_urlconf
from django.utils.log import log_response

from .exception_handler import ApiErrorsMiddleware
from .lean import _MAX_BODY


def _never(request):  # pragma: no cover - the middleware below are only asked for their hooks
    raise AssertionError("the fast lane calls middleware hooks, never a middleware chain")


Route = tuple[list, dict, Callable[..., HttpResponse | None]]
_ROUTES: dict[str, list[Route]] = {}  # ROOT_URLCONF -> (pattern chain, default kwargs, answer)


def lean_routes(urlconf: str | None = None) -> list[Route]:
    """Each lean view's chain of URL patterns (root first), its default kwargs and its lean answer."""
    urlconf = urlconf or settings.ROOT_URLCONF
    if urlconf not in _ROUTES:
        found: list[Route] = []

        def walk(resolver: URLResolver, chain: list, defaults: dict) -> None:
            for entry in resolver.url_patterns:
                if isinstance(entry, URLResolver):
                    walk(entry, [*chain, entry.pattern], {**defaults, **entry.default_kwargs})
                elif isinstance(entry, URLPattern) and hasattr(entry.callback, "lean_answer"):
                    found.append(
                        ([*chain, entry.pattern], {**defaults, **entry.default_args}, entry.callback.lean_answer)
                    )

        root = get_resolver(urlconf)
        walk(root, [root.pattern], {})
        _ROUTES[urlconf] = found
    return _ROUTES[urlconf]


def lean_route(path: str):
    """(lean answer, URL kwargs) for a path that names a lean route, else None; the same patterns and
    converters as Django's resolver (tests check the two agree)."""
    for chain, defaults, answer in lean_routes():
        rest, kwargs = path, dict(defaults)
        for pattern in chain:
            match = pattern.match(rest)
            if match is None:
                break
            rest, _args, found = match
            kwargs.update(found)
        else:
            return answer, kwargs
    return None


class LeanLane:
    """The fast lane's answers. Its middleware read their settings when made, as the chain's do: one is made
    with the handler's middleware chain (LeanWSGIHandler.load_middleware)."""

    def __init__(self) -> None:
        self.security = SecurityMiddleware(_never)
        self.common = CommonMiddleware(_never)
        self.session = SessionMiddleware(_never)
        self.csrf = CsrfViewMiddleware(_never)
        self.xframe = XFrameOptionsMiddleware(_never)

    def __call__(self, request: HttpRequest) -> HttpResponse | None:
        """The answer of the fast lane, or None: then the whole middleware chain answers as it always did."""
        if request.method != "POST" or not settings.QEVAL_LEAN_API or settings.SESSION_SAVE_EVERY_REQUEST:
            return None
        route = lean_route(request.path_info)
        if route is None:
            return None
        try:  # the size limit's 400 and 413 are the chain's; no rating is this large
            if int(request.META.get("CONTENT_LENGTH") or 0) > _MAX_BODY:
                return None
        except ValueError:
            return None
        answer, kwargs = route
        set_urlconf(settings.ROOT_URLCONF)  # as BaseHandler.get_response: reverse() inside the handler
        try:
            if self.security.process_request(request) is not None or self.common.process_request(request) is not None:
                return None  # an HTTPS or www redirect
        except Exception:  # DisallowedHost, a refused user agent: the chain answers them (400, 403)
            return None
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(
            request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        )
        response: Any  # HttpResponse; the middleware hooks are typed with its base classes
        try:
            response = answer(request, **kwargs)
        except Exception as exc:  # raised before the handler (its own errors are answered inside): the API's
            response = ApiErrorsMiddleware._error(exc)
        if response is None:
            return None
        # the response hooks of the chain's middleware that act on these requests, in the chain's (reverse) order
        response = self.xframe.process_response(request, response)
        response = self.csrf.process_response(request, response)
        response = self.common.process_response(request, response)
        response = self.session.process_response(request, response)
        response = self.security.process_response(request, response)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler with the fast lane in front of its middleware chain (config/wsgi.py)."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async)
        self.lane = LeanLane()

    def get_response(self, request):
        response = self.lane(request)
        return response if response is not None else super().get_response(request)
