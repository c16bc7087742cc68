"""The API's session authentication (core/api/auth.py: SessionAuthentication), as browsers use every API view:
the session row, the user and their roles in one prepared query instead of the ORM's three, DRF's CSRF check
unchanged, and Django's own handling for any session it does not take."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.assignment.test_lean_cycle import browser, post

pytestmark = pytest.mark.django_db


def orm_session_queries(ctx) -> list[str]:
    """The ORM's session and user lookups (Django's lazy request.user), which the prepared query replaces."""
    return [q["sql"] for q in ctx.captured_queries if '"django_session"' in q["sql"] or 'FROM "auth_user"' in q["sql"]]


def test_a_browser_session_reads_the_api_without_orm_lookups(make_user, pool_campaign):
    client, csrf = browser(make_user("annotator"))
    batch = post(client, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, HTTP_X_CSRFTOKEN=csrf).json()
    with CaptureQueriesContext(connection) as ctx:
        listing = client.get("/api/v1/batches/")
        media = client.get(f"/api/v1/tasks/{batch['tasks'][0]['id']}/media/")
    assert listing.status_code == 200 and listing.json()["results"][0]["id"] == batch["id"]
    assert media.status_code in (200, 404)  # the factory's items may have no file; the access check passed
    assert media.status_code == 200 or "missing from storage" in media.json()["detail"]
    assert orm_session_queries(ctx) == []
    assert any("FROM django_session s LEFT JOIN" in q["sql"] for q in ctx.captured_queries)


def test_a_post_without_the_csrf_token_is_refused_by_drf_s_check(make_user, pool_campaign):
    client, csrf = browser(make_user("annotator"))
    batch = post(client, f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, HTTP_X_CSRFTOKEN=csrf).json()
    refused = post(client, f"/api/v1/batches/{batch['id']}/heartbeat/", {})
    assert refused.status_code == 403 and refused.json()["detail"].startswith("CSRF Failed")
    assert post(client, f"/api/v1/batches/{batch['id']}/heartbeat/", {}, HTTP_X_CSRFTOKEN=csrf).status_code == 200


def test_a_session_the_fast_lookup_does_not_take_gets_django_s_answer(make_user):
    user = make_user("annotator")
    client, _ = browser(user)
    user.set_password("another-password-77")
    user.save()  # the session's hash no longer matches: Django flushes it, the API sees nobody
    resp = client.get("/api/v1/batches/")
    assert resp.status_code in (401, 403) and "credentials were not provided" in resp.json()["detail"]
    user.is_active = False
    user.save()
    assert client.get("/api/v1/batches/").status_code in (401, 403)


def test_a_session_s_answers_vary_with_the_cookie(make_user):
    client, _ = browser(make_user("annotator"))
    resp = client.get("/api/v1/batches/")
    assert resp.status_code == 200 and "Cookie" in resp["Vary"]
