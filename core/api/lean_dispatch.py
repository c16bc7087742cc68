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
  same pattern objects and converters Django's resolver uses, only for those routes; the first path matched
  on each is also resolved by Django's resolver, and a route an earlier pattern shadows leaves the lane;
- before answering it runs the middleware checks that could refuse or redirect the request (the security
  middleware's HTTPS redirect, CommonMiddleware's host and user-agent checks) and gives up where any would,
  as it does for a body over the upload limit or 64 KiB, a path under a script prefix, ATOMIC_REQUESTS;
- it gives the request its session as SessionMiddleware would, its CSRF cookie as CsrfViewMiddleware reads
  it (a malformed one is replaced) and the resolver's match (the URL's name, which throttle scopes read),
  asks the view's lean answer, and answers an error raised there as the API's error middleware would (503
  for an unavailable database);
- the answer gets the response headers of the middleware that sets them on these requests (security headers,
  X-Frame-Options, Content-Length, the session's Vary and cookie care, CSRF's cookie), and is logged as
  Django logs a 4xx or 5xx.

Anything the lean answer does not take (None: another method, a body or credentials it leaves to DRF, a body
larger than any rating, a malformed Content-Length, a refused host...) goes through the whole chain,
unchanged, with nothing counted or written on the way (a request declined after its credentials were read
is authenticated again there: rare, and only reads). Off with `QEVAL_FAST_LANE` (or `QEVAL_LEAN_API`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import ResolverMatch, URLPattern, URLResolver, get_resolver, resolve, set_urlconf
from django.utils.log import log_response

from .exception_handler import API_PREFIX, ApiErrorsMiddleware
from .lean import _MAX_BODY
from .limits import max_upload_bytes


def _never(request):  # pragma: no cover - the middleware below are only asked for their hooks
    raise AssertionError("the fast lane calls middleware hooks, never a middleware chain")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per route
class LeanRoute:
    chain: list  # the URL patterns from the root resolver's down to the view's
    defaults: dict  # default kwargs of the patterns (they win over captured ones, as in URLPattern.resolve)
    view: Callable  # the lean view (the DRF view behind it)
    name: str | None
    route: str  # as ResolverMatch.route: the patterns' routes joined

    @property
    def answer(self) -> Callable[..., HttpResponse | None]:
        return self.view.lean_answer  # type: ignore[attr-defined]


_ROUTES: dict[str, list[LeanRoute]] = {}  # ROOT_URLCONF -> its lean routes
_CHECKED: set[LeanRoute] = set()  # routes whose first match Django's resolver confirmed


def lean_routes(urlconf: str | None = None) -> list[LeanRoute]:
    """The URLconf's routes to views that carry a lean answer (lean_view sets it), in URLconf order."""
    urlconf = urlconf or settings.ROOT_URLCONF
    if urlconf not in _ROUTES:
        found: list[LeanRoute] = []

        def walk(resolver: URLResolver, chain: list, defaults: dict) -> None:
            for entry in resolver.url_patterns:
                if isinstance(entry, URLResolver):
                    walk(entry, [*chain, entry.pattern], {**defaults, **entry.default_kwargs})
                elif isinstance(entry, URLPattern) and hasattr(entry.callback, "lean_answer"):
                    patterns = [*chain, entry.pattern]
                    route = "".join(str(p) for p in patterns[1:])
                    found.append(
                        LeanRoute(patterns, {**defaults, **entry.default_args}, entry.callback, entry.name, route)
                    )

        root = get_resolver(urlconf)
        walk(root, [root.pattern], {})
        _ROUTES[urlconf] = found
    return _ROUTES[urlconf]


def lean_route(path: str) -> tuple[LeanRoute, dict] | None:
    """(route, URL kwargs) for a path that names a lean route, else None: the same pattern objects and
    converters as Django's resolver. The first path matched on each route is also resolved by Django's
    resolver: a route that an earlier URL pattern shadows is taken out of the lane (the chain then answers
    it as Django routes it), so the lane never answers for a view Django would not have called."""
    urlconf = settings.ROOT_URLCONF
    for candidate in lean_routes(urlconf):
        rest, kwargs = path, {}
        for pattern in candidate.chain:
            match = pattern.match(rest)
            if match is None or match[1]:  # no match, or positional captures (none of the lean routes has them)
                break
            rest, _args, found = match
            kwargs.update(found)
        else:
            if candidate not in _CHECKED:
                if not _resolves_to(path, candidate.view, urlconf):
                    _ROUTES[urlconf] = [r for r in _ROUTES[urlconf] if r is not candidate]
                    return None
                _CHECKED.add(candidate)
            return candidate, {**kwargs, **candidate.defaults}
    return None


def _resolves_to(path: str, view, urlconf: str) -> bool:
    try:  # the URLconf named, not the thread's (set_urlconf of this thread's last request)
        return resolve(path, urlconf).func is view
    except Exception:  # Resolver404 and the like: Django would not call the view
        return False


class LeanLane:
    """The fast lane's answers. Its middleware read their settings when made, as the chain's do: one is made
    with the handler's middleware chain (LeanWSGIHandler.load_middleware)."""

    def __init__(self) -> None:
        self.security = SecurityMiddleware(_never)
        self.common = CommonMiddleware(_never)
        self.session = SessionMiddleware(_never)
        self.csrf = CsrfViewMiddleware(_never)
        self.xframe = XFrameOptionsMiddleware(_never)
        # a view Django would wrap in a transaction: the chain's (no database of this project asks for it)
        self.atomic_requests = any(connections[alias].settings_dict.get("ATOMIC_REQUESTS") for alias in connections)

    def __call__(self, request: HttpRequest) -> HttpResponse | None:
        """The answer of the fast lane, or None: then the whole middleware chain answers as it always did."""
        if (
            request.method != "POST"
            or not (settings.QEVAL_LEAN_API and settings.QEVAL_FAST_LANE)
            or settings.SESSION_SAVE_EVERY_REQUEST
            or self.atomic_requests
            or not request.path.startswith(API_PREFIX)  # under a script prefix the API's error middleware differs
        ):
            return None
        route = lean_route(request.path_info)
        if route is None:
            return None
        try:  # the size limit's 400 and 413 are the chain's (whatever QEVAL_MAX_UPLOAD_BYTES); no rating is this large
            if int(request.META.get("CONTENT_LENGTH") or 0) > min(_MAX_BODY, max_upload_bytes()):
                return None
        except ValueError:
            return None
        found, kwargs = route
        set_urlconf(settings.ROOT_URLCONF)  # as BaseHandler.get_response: reverse() inside the handler
        try:
            if self.security.process_request(request) is not None or self.common.process_request(request) is not None:
                return None  # an HTTPS or www redirect
        except Exception:  # DisallowedHost, a refused user agent: the chain answers them (400, 403)
            return None
        self.session.process_request(request)  # the request's session, as in the chain
        self.csrf.process_request(request)  # the CSRF cookie read (a malformed one replaced), as in the chain
        # what the resolver would have recorded (throttle scopes and logging read the URL's name)
        request.resolver_match = ResolverMatch(found.view, (), kwargs, url_name=found.name, route=found.route)
        response: Any  # HttpResponse; the middleware hooks are typed with its base classes
        try:
            response = found.answer(request, **kwargs)
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
