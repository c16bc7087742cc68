"""The fast lane (core/api/lean_dispatch.py) as gunicorn calls it: raw WSGI requests into config/wsgi.py's
application, against Django's plain WSGI handler (the whole middleware chain) on the same requests. The lean
answers' own behaviour is tested through both in test_lean_cycle.py."""

from __future__ import annotations

import json

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, close_old_connections
from django.test import RequestFactory
from django.urls import resolve

from annotation.services.users import user_token
from core.api.lean_dispatch import LeanWSGIHandler, lean_route
from tests.assignment.conftest import table_counts

pytestmark = pytest.mark.django_db

# what a response may differ in between two requests (the first batch request creates the batch: 201, the
# second finds it: 200), not in what the chain adds
VARYING = {"Date"}


def same_headers(a: dict, b: dict, *unequal: str) -> bool:
    """Whether two answers carry the same headers, but for VARYING and `unequal` (each its own)."""
    skip = VARYING | set(unequal)
    return {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def call(app, path: str, *, method="POST", body: bytes | dict | None = None, **meta) -> tuple[int, dict, bytes]:
    """One request into a WSGI application, as gunicorn hands it over: (status, headers, body)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    # the environ Django's test client builds (a WSGI server's keys), with the request's own on top
    environ = (
        RequestFactory().generic(method, path, data, "application/json", HTTP_ACCEPT="application/json", **meta).environ
    )
    got: dict = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = int(status.split()[0]), dict(headers)

    # as Django's test client: the test's transaction is the connection's, not to be closed between requests
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = app(environ, start_response)
        try:
            out = b"".join(result)
        finally:
            result.close()  # request_finished, as a server does
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return got["status"], got["headers"], out


@pytest.fixture
def lane():
    from config.wsgi import application

    assert isinstance(application, LeanWSGIHandler)  # what gunicorn serves
    return application


@pytest.fixture
def chain_calls(lane, monkeypatch) -> list[str]:
    """The requests the served application sent through its middleware chain."""
    calls: list[str] = []
    original = lane._middleware_chain

    def recorded(request):
        calls.append(f"{request.method} {request.path}")
        return original(request)

    monkeypatch.setattr(lane, "_middleware_chain", recorded)
    return calls


@pytest.fixture
def token(make_user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {user_token(user=make_user('annotator'))}"}


@pytest.fixture
def leased_task_id(lane, token, pool_campaign) -> int:
    status, _, body = call(lane, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, **token)
    assert status == 201
    return json.loads(body)["tasks"][0]["id"]


@pytest.mark.parametrize(
    "path, lean",
    [
        ("/api/v1/tasks/5/rating/", True),
        ("/api/v1/tasks/0042/rating/", True),
        ("/api/v1/campaigns/my-campaign_2/batches/", True),
        ("/api/v1/tasks/5/rating", False),  # no slash: CommonMiddleware's redirect, via the chain
        ("/api/v1/tasks/5/rating/x/", False),
        ("/api/v1/tasks/-5/rating/", False),
        ("/api/v1/tasks/five/rating/", False),
        ("/api/v1/campaigns/a b/batches/", False),
        ("/api/v1/campaigns/x/standing/", False),
        ("/api/v1/batches/", False),
        ("/api/v1//tasks/5/rating/", False),
    ],
)
def test_the_lane_s_routes_are_those_django_s_resolver_gives_the_lean_views(path, lean):
    from django.urls import Resolver404

    try:
        match = resolve(path)
        django_says = hasattr(match.func, "lean_answer")
    except Resolver404:
        match, django_says = None, False
    found = lean_route(path)
    assert (found is not None) == django_says == lean
    if found is not None:
        route, kwargs = found
        assert route.view is match.func and kwargs == match.kwargs
        assert (route.name, route.route) == (match.url_name, match.route)  # what the lane records on the request


def test_a_route_an_earlier_pattern_shadows_is_left_to_the_chain(lane, chain_calls, token, leased_task_id, settings):
    settings.ROOT_URLCONF = "tests.assignment.lean_shadow_urls"
    status, _, body = call(
        lane, f"/api/v1/tasks/{leased_task_id}/rating/", body={"quality": 3, "alignment": 3}, **token
    )
    assert status == 200 and json.loads(body) == {"shadow": True}  # Django's routing, through the chain
    assert len(chain_calls) == 1


def test_a_rating_and_a_batch_request_skip_the_middleware_chain_and_answer_as_it_would(
    lane, chain_calls, token, pool_campaign
):
    plain = WSGIHandler()  # Django's handler: the whole chain for every request
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    status, fast_headers, body = call(lane, url, body={}, **token)
    assert status == 201 and chain_calls == []
    status, chain_headers, again = call(plain, url, body={}, **token)
    assert status == 200 and json.loads(again)["id"] == json.loads(body)["id"]
    assert same_headers(fast_headers, chain_headers, "Content-Length")
    for header in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert header in fast_headers  # the security middleware's headers, on the lane too
    assert fast_headers["Content-Length"] == str(len(body))
    tasks = json.loads(body)["tasks"]
    # a rating through the lane, its repeat through the chain: same headers, the chain's 409
    rating = f"/api/v1/tasks/{tasks[0]['id']}/rating/"
    status, fast_headers, _ = call(lane, rating, body={"quality": 4, "alignment": 3}, **token)
    assert status == 201 and chain_calls == []
    status, chain_headers, refused = call(plain, rating, body={"quality": 4, "alignment": 3}, **token)
    assert status == 409 and "already rated" in json.loads(refused)["detail"]
    status, lane_headers, lane_refused = call(lane, rating, body={"quality": 4, "alignment": 3}, **token)
    assert status == 409 and lane_refused == refused and chain_calls == []
    assert same_headers(lane_headers, chain_headers)


def test_other_requests_go_through_the_chain_unchanged(lane, chain_calls, token, pool_campaign):
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    before = table_counts()
    assert call(lane, url, method="GET", **token)[0] == 405
    assert (
        call(lane, url, body={}, HTTP_HOST="evil.example", **{"HTTP_AUTHORIZATION": token["HTTP_AUTHORIZATION"]})[0]
        == 400
    )
    status, _, body = call(lane, url, body=b"{}", CONTENT_LENGTH="twelve", **token)
    assert status == 400 and json.loads(body)["detail"] == "Content-Length is not a number"
    status, _, body = call(lane, url, body={}, CONTENT_LENGTH=str(10**12), **token)
    assert status == 413
    assert call(lane, url, body={})[0] == 401  # no credentials: DRF's answer
    assert len(chain_calls) == 5
    assert table_counts() == before


def test_an_https_redirect_is_the_chain_s(token, pool_campaign, settings):
    settings.SECURE_SSL_REDIRECT = True  # production's default; read when a handler is made, as the chain's
    settings.SECURE_HSTS_SECONDS = 3600
    status, headers, _ = call(LeanWSGIHandler(), f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, **token)
    assert status == 301 and headers["Location"] == f"https://testserver/api/v1/campaigns/{pool_campaign.slug}/batches/"
    https = {"wsgi.url_scheme": "https", "SERVER_PORT": "443"}
    status, headers, _ = call(
        LeanWSGIHandler(), f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, **token, **https
    )
    assert status == 201 and headers["Strict-Transport-Security"] == "max-age=3600"


def test_a_database_away_during_authentication_is_the_api_s_503(lane, chain_calls, token, pool_campaign, monkeypatch):
    import core.api.lean as lean

    def away(request):
        raise OperationalError("connection refused")

    monkeypatch.setattr(lean, "_authenticate", away)
    status, headers, body = call(lane, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, **token)
    assert status == 503 and "Retry-After" in headers and "unavailable" in json.loads(body)["detail"]
    assert chain_calls == []


@pytest.mark.parametrize("switch", ["QEVAL_LEAN_API", "QEVAL_FAST_LANE"])
def test_switched_off_everything_goes_through_the_chain(lane, chain_calls, token, pool_campaign, settings, switch):
    setattr(settings, switch, False)
    status, _, _ = call(lane, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, **token)
    assert status == 201 and len(chain_calls) == 1


def test_a_size_limit_lower_than_a_rating_is_the_chain_s_413(lane, chain_calls, token, leased_task_id, settings):
    settings.QEVAL_MAX_UPLOAD_BYTES = 100
    body = {"quality": 3, "alignment": 3, "note": "x" * 200}
    before = table_counts()
    status, _, out = call(lane, f"/api/v1/tasks/{leased_task_id}/rating/", body=body, **token)
    assert status == 413 and "QEVAL_MAX_UPLOAD_BYTES" in json.loads(out)["detail"]
    assert len(chain_calls) == 1 and table_counts() == before


def test_under_a_script_prefix_the_chain_answers(lane, chain_calls, token, pool_campaign):
    status, _, _ = call(lane, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", body={}, SCRIPT_NAME="/q", **token)
    assert status == 201 and len(chain_calls) == 1  # the API's error middleware reads /api/ at the path's start


def test_a_malformed_csrf_cookie_is_replaced_as_the_chain_replaces_it(lane, chain_calls, token, pool_campaign):
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    status, fast, _ = call(lane, url, body={}, HTTP_COOKIE="csrftoken=bad!", **token)
    assert status == 201 and chain_calls == []
    status, slow, _ = call(WSGIHandler(), url, body={}, HTTP_COOKIE="csrftoken=bad!", **token)
    assert status == 200
    for headers in (fast, slow):
        assert headers.get("Set-Cookie", "").strip().startswith("csrftoken=")  # a new secret, each its own
    assert same_headers(fast, slow, "Content-Length", "Set-Cookie")


def test_a_browser_s_session_gets_the_chain_s_headers(lane, chain_calls, make_user, pool_campaign):
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    client = Client()
    client.force_login(make_user("annotator"))
    csrf = _get_new_csrf_string()
    browser = {
        "HTTP_COOKIE": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "HTTP_X_CSRFTOKEN": csrf,
        "HTTP_ORIGIN": "http://testserver",
    }
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    status, fast, body = call(lane, url, body={}, **browser)
    assert status == 201 and chain_calls == [] and "Cookie" in fast["Vary"]
    status, slow, again = call(WSGIHandler(), url, body={}, **browser)
    assert status == 200 and json.loads(again)["id"] == json.loads(body)["id"]
    assert same_headers(fast, slow, "Content-Length")


def test_the_request_carries_the_resolver_s_match_as_in_the_chain(
    lane, chain_calls, token, leased_task_id, monkeypatch
):
    """Throttle scopes and logs read the URL's name (the job-start throttle counts by it)."""
    import core.api.lean as lean

    seen = []
    original = lean._throttled

    def spy(request, drf_view):
        seen.append((request.resolver_match.url_name, request.resolver_match.kwargs, request.resolver_match.route))
        return original(request, drf_view)

    monkeypatch.setattr(lean, "_throttled", spy)
    status, _, _ = call(lane, f"/api/v1/tasks/{leased_task_id}/rating/", body={"quality": 2, "alignment": 2}, **token)
    assert status == 201 and chain_calls == []
    assert seen == [("api-rating-submit", {"task_id": leased_task_id}, "api/v1/tasks/<int:task_id>/rating/")]


def test_the_first_match_is_confirmed_against_the_served_urlconf_not_the_thread_s(
    lane, chain_calls, token, leased_task_id, monkeypatch
):
    """A thread's urlconf is whatever its last request set (set_urlconf); the check must use ROOT_URLCONF."""
    from django.urls import set_urlconf

    import core.api.lean_dispatch as dispatch

    monkeypatch.setattr(dispatch, "_ROUTES", {})  # as in a fresh worker: the first match not yet confirmed
    monkeypatch.setattr(dispatch, "_CHECKED", set())
    set_urlconf("tests.assignment.lean_shadow_urls")
    try:
        status, _, _ = call(
            lane, f"/api/v1/tasks/{leased_task_id}/rating/", body={"quality": 1, "alignment": 5}, **token
        )
    finally:
        set_urlconf(None)
    assert status == 201 and chain_calls == []
