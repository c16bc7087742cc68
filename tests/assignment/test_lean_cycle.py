"""The lean request cycle of the rating and the batch request (core/api/lean.py), on PostgreSQL, inside the
middleware chain and through the fast lane (core/api/lean_dispatch.py): it answers the common case itself (a
token, or a browser's session with its CSRF token) and hands everything else to the DRF view, which answers
as it always did. The DRF view's handler is made to fail where a test expects the
lean cycle to answer, so a test cannot pass through the wrong path."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from annotation.api.batches import BatchRequestApi, RatingSubmitApi
from annotation.models import Rating
from core.api.throttles import UserRateThrottle
from tests.assignment.conftest import table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["middleware chain", "fast lane"])
def handler(request, monkeypatch) -> str:
    """Every test twice: the lean answer inside Django's middleware chain, and through the fast lane that
    config/wsgi.py serves (core/api/lean_dispatch.py), which the test client reaches the same way."""
    if request.param == "fast lane":
        from django.core.handlers.base import BaseHandler
        from django.test.client import ClientHandler

        from core.api.lean_dispatch import LeanLane

        lane = LeanLane()

        def get_response(self, request):
            response = lane(request)
            return response if response is not None else BaseHandler.get_response(self, request)

        monkeypatch.setattr(ClientHandler, "get_response", get_response)
    return request.param


@pytest.fixture
def drf_calls(monkeypatch) -> list[str]:
    """The requests the DRF views answered (their handlers still answer): empty where the lean cycle must."""
    calls: list[str] = []
    for view in (RatingSubmitApi, BatchRequestApi):
        original = view.post

        def recorded(self, request, *args, _original=original, **kwargs):
            calls.append(request.path)
            return _original(self, request, *args, **kwargs)

        monkeypatch.setattr(view, "post", recorded)
    return calls


def browser(user) -> tuple[Client, str]:
    """A logged-in browser that enforces CSRF like a real one, and its CSRF token (the cookie's secret, which
    the rating page sends back in X-CSRFToken)."""
    from django.middleware.csrf import _get_new_csrf_string

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return client, token


def post(client, url, body, **headers):
    import json

    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_a_browser_session_with_its_csrf_token_gets_a_batch_and_rates_through_the_lean_cycle(
    make_user, pool_campaign, drf_calls
):
    client, csrf = browser(make_user("annotator"))
    resp = post(client, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code == 201, resp.content
    assert resp["Content-Type"] == "application/json" and "Cookie" in resp["Vary"]
    task_id = resp.json()["tasks"][0]["id"]
    resp = post(client, f"/api/v1/tasks/{task_id}/rating/", {"quality": 4, "alignment": 2}, HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code == 201, resp.content
    assert resp.json()["batch"]["progress"]["rated"] == 1
    assert Rating.objects.filter(pk=resp.json()["id"], quality=4, alignment=2).exists()
    assert drf_calls == []


def test_a_session_without_its_csrf_token_is_refused_as_before_and_changes_nothing(make_user, pool_campaign, drf_calls):
    user = make_user("annotator")
    client, csrf = browser(user)
    batch = post(client, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, HTTP_X_CSRFTOKEN=csrf).json()
    before = table_counts()
    resp = post(client, f"/api/v1/tasks/{batch['tasks'][0]['id']}/rating/", {"quality": 4, "alignment": 2})
    assert resp.status_code == 403 and resp.json()["detail"].startswith("CSRF Failed")
    assert table_counts() == before
    assert drf_calls == []  # DRF refused it before its handler, as before


def test_a_session_whose_password_changed_is_logged_out_as_django_does(make_user, pool_campaign):
    user = make_user("annotator")
    client, csrf = browser(user)
    user.set_password("a-new-password-42")
    user.save()
    resp = post(client, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code in (401, 403)
    assert "credentials were not provided" in resp.json()["detail"]


def test_a_token_answers_through_the_lean_cycle_with_drf_s_bytes(client_as, pool_campaign, drf_calls):
    client, _ = client_as("annotator")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert resp.status_code == 201 and resp["Vary"] == "Accept" and resp["Allow"] == "POST, OPTIONS"
    task = resp.json()["tasks"][0]
    # DRF's renderer: compact, UTF-8, datetimes with Z
    assert b'"lease_expires_at":"' in resp.content and resp.content.count(b": ") == 0
    assert task["lease_expires_at"].endswith("Z")
    resp = client.post(f"/api/v1/tasks/{task['id']}/rating/", {"quality": 5, "alignment": 5}, format="json")
    assert resp.status_code == 201
    again = client.post(f"/api/v1/tasks/{task['id']}/rating/", {"quality": 5, "alignment": 5}, format="json")
    assert again.status_code == 409 and again.json() == {"detail": f"task {task['id']} is already rated"}
    assert drf_calls == []


@pytest.mark.parametrize(
    "kind, headers, status",
    [
        ("no credentials", {}, 401),
        ("unknown token", {"HTTP_AUTHORIZATION": "Token nosuchtoken"}, 401),
        ("malformed header", {"HTTP_AUTHORIZATION": "Token a b"}, 401),
    ],
)
def test_bad_credentials_get_drf_s_answers(api_client, pool_campaign, kind, headers, status):
    before = table_counts()
    resp = api_client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json", **headers)
    assert resp.status_code == status, kind
    assert resp["WWW-Authenticate"] == "Token"
    assert table_counts() == before


def test_an_inactive_user_or_a_role_taken_away_counts_at_the_next_request(client_as, pool_campaign):
    client, user = client_as("annotator")
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    assert client.post(url, {}, format="json").status_code == 201
    user.groups.remove(Group.objects.get(name="annotator"))
    resp = client.post(url, {}, format="json")
    assert resp.status_code == 403 and "roles" in resp.json()["detail"]
    user.groups.add(Group.objects.get(name="annotator"))
    user.is_active = False
    user.save()
    assert client.post(url, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"[1, 2]", "application/json", 400),  # not an object: the DRF view's reason
        (b'{"quality": NaN}', "application/json", 400),  # DRF's strict JSON
        (b"{not json", "application/json", 400),
        (b"quality=4", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bodies_the_lean_cycle_does_not_take_get_drf_s_answers(leased_task, body, content_type, status):
    client, task_id = leased_task
    before = table_counts()
    resp = client.generic("POST", f"/api/v1/tasks/{task_id}/rating/", body, content_type=content_type)
    assert resp.status_code == status and "detail" in resp.json()
    assert table_counts() == before


def test_other_methods_and_html_clients_reach_the_drf_view(leased_task):
    client, task_id = leased_task
    assert client.get(f"/api/v1/tasks/{task_id}/rating/").status_code == 405
    html = client.post(
        f"/api/v1/tasks/{task_id}/rating/", {"quality": 3, "alignment": 3}, format="json", HTTP_ACCEPT="text/html"
    )
    assert html.status_code == 201 and html["Content-Type"].startswith("text/html")  # DRF's browsable API


def test_expert_mode_goes_to_the_drf_view(client_as, pool_campaign, drf_calls):
    client, _ = client_as("annotator")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {"mode": "expert"}, format="json")
    assert resp.status_code == 403 and resp.json()["detail"] == "expert mode needs the expert role"
    assert drf_calls == [f"/api/v1/campaigns/{pool_campaign.slug}/batches/"]


def test_no_work_left_is_204_without_a_body_or_content_type(client_as, pool_campaign, drf_calls):
    from annotation.models import Item

    Item.objects.filter(campaign=pool_campaign).delete()
    client, _ = client_as("annotator")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert resp.status_code == 204 and resp.content == b"" and "Content-Type" not in resp
    assert drf_calls == []


def test_each_request_is_throttled_once_whichever_path_answers(leased_task, monkeypatch):
    client, task_id = leased_task
    monkeypatch.setattr(UserRateThrottle, "rate", "3/min", raising=False)
    from django.core.cache import cache

    cache.clear()
    # the leased_task fixture's batch request was counted before the rate was lowered; these three are new
    for _ in range(3):
        resp = client.post(f"/api/v1/tasks/{task_id}/rating/", {"quality": 3, "alignment": 3}, format="json")
        assert resp.status_code in (201, 409)
    refused = client.post(f"/api/v1/tasks/{task_id}/rating/", {"quality": 3, "alignment": 3}, format="json")
    assert refused.status_code == 429 and "throttled" in refused.json()["detail"]
    assert 0 < int(refused["Retry-After"]) <= 60


@pytest.fixture
def leased_task(client_as, pool_campaign):
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").json()
    return client, body["tasks"][0]["id"]


def test_a_session_s_user_is_whoever_its_data_names_now_and_a_deleted_session_is_logged_out(
    make_user, pool_campaign, drf_calls
):
    """The cycle remembers what a session's data decoded to only while the row holds the same data."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    first, second = make_user("annotator"), make_user("annotator")
    client, csrf = browser(first)
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    mine = post(client, url, {}, HTTP_X_CSRFTOKEN=csrf).json()
    assert post(client, url, {}, HTTP_X_CSRFTOKEN=csrf).json()["id"] == mine["id"]  # the same batch again
    # the same session key now names the second user (its data rewritten in the database)
    session = SessionStore(session_key=client.cookies["sessionid"].value)
    session[SESSION_KEY] = str(second.pk)
    session[HASH_SESSION_KEY] = second.get_session_auth_hash()
    session.save()
    theirs = post(client, url, {}, HTTP_X_CSRFTOKEN=csrf)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]
    task = mine["tasks"][0]["id"]  # the first user's task: not the second user's to rate
    assert (
        post(client, f"/api/v1/tasks/{task}/rating/", {"quality": 3, "alignment": 3}, HTTP_X_CSRFTOKEN=csrf).status_code
        == 404
    )
    assert drf_calls == []
    session.delete()  # logged out elsewhere
    resp = post(client, url, {}, HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code in (401, 403) and "credentials were not provided" in resp.json()["detail"]


def test_a_body_larger_than_any_rating_goes_to_the_drf_view(leased_task, drf_calls):
    client, task_id = leased_task
    before = table_counts()
    body = {"quality": 3, "alignment": 3, "note": "x" * 100_000}
    resp = client.post(f"/api/v1/tasks/{task_id}/rating/", body, format="json")
    assert resp.status_code == 400 and "note" in resp.json()["detail"]
    assert drf_calls == [f"/api/v1/tasks/{task_id}/rating/"]
    assert table_counts() == before


def test_odd_requests_get_the_drf_view_s_answers_never_a_500(make_user, pool_campaign, drf_calls):
    """Found in review: requests the lean cycle must leave to DRF (each once answered 500 or differently)."""
    user = make_user("annotator")
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    client, csrf = browser(user)
    # an empty body of a form type without its boundary: DRF reads (and refuses) it
    # (the test client sets CONTENT_TYPE only with a body: set it as a header here)
    form = client.generic("POST", url, b"", CONTENT_TYPE="multipart/form-data", HTTP_X_CSRFTOKEN=csrf)
    assert form.status_code < 500 and drf_calls == [url]
    # a rendering chosen by parameter
    pretty = client.post(
        url, "{}", content_type="application/json", HTTP_X_CSRFTOKEN=csrf, HTTP_ACCEPT="application/json; indent=4"
    )
    assert pretty.status_code == 200 and b"\n    " in pretty.content and len(drf_calls) == 2
    # a session cookie no session could have (a NUL in a quoted cookie value)
    stranger = Client(enforce_csrf_checks=True)
    stranger.cookies["sessionid"] = "\x00abcdefghijklmnop"
    stranger.cookies["csrftoken"] = csrf
    resp = post(stranger, url, {}, HTTP_X_CSRFTOKEN=csrf)
    assert 400 <= resp.status_code < 500


def test_a_token_header_is_read_as_drf_reads_it(client_as, pool_campaign):
    from annotation.services.users import user_token

    _, user = client_as("annotator")
    key = user_token(user=user)
    url = f"/api/v1/campaigns/{pool_campaign.slug}/batches/"
    from rest_framework.test import APIClient

    odd = APIClient()
    odd.credentials(HTTP_AUTHORIZATION=f"Token\xa0{key}")  # not ASCII whitespace: DRF sees one word
    assert odd.post(url, {}, format="json").status_code == 401
    fine = APIClient()
    fine.credentials(HTTP_AUTHORIZATION=f"token \t {key}")
    assert fine.post(url, {}, format="json").status_code == 201
