"""Every page, sent garbage: no server error. The API has its schemathesis run (tests/reliability/
test_api_schema.py); the pages take forms and query strings the schema does not describe, so this sends each
page, as a superuser (every role), query strings and POSTed forms whose every field, of all the names the
page modules read, holds a hostile value (not a number, out of range, a NUL byte, markup, a huge number),
under each `action` the pages know. A page answers with its message (4xx or a redirect carrying it), never 500.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern

pytestmark = pytest.mark.django_db

from tests.mos.conftest import rated, version  # noqa: E402,F401  (a campaign with ratings and a version)

ROOT = Path(__file__).resolve().parents[2]
VIEW_MODULES = [*(ROOT / "frontend" / "views").glob("*.py"), ROOT / "webhooks" / "views.py"]
HOSTILE = ["", "abc", "-1", "1e309", "99999999999999999999999", "a\x00b", "<script>alert(1)</script>", "💥" * 3]
NOT_POSTED = {"login", "logout"}  # logging out would end the run's session


def _field_names() -> list[str]:
    """Every name a page module reads from request.GET / request.POST."""
    pattern = re.compile(r"request\.(?:POST|GET)(?:\.get|\.getlist)?[\(\[]\"([a-z_]+)\"")
    return sorted({name for module in VIEW_MODULES for name in pattern.findall(module.read_text())})


def _actions() -> list[str]:
    pattern = re.compile(r"action\"?\)? (?:==|in) \(?((?:\"[a-z_-]+\",? ?)+)")
    found = {
        a
        for module in VIEW_MODULES
        for group in pattern.findall(module.read_text())
        for a in re.findall(r"[a-z_-]+", group)
    }
    return sorted(found) + [""]


def _paths(campaign_slug: str) -> list[tuple[str, str]]:
    """(url name, path) for every page, its parameters filled with a real object's id and with missing ones."""
    from annotation.models import Batch, Job
    from frontend.urls import urlpatterns as frontend
    from training.models import TrainingRun
    from webhooks.page_urls import urlpatterns as webhooks

    real: dict[str, list[object]] = {
        "slug": [campaign_slug, "no-such-campaign"],
        "job_id": [getattr(Job.objects.order_by("pk").first(), "pk", 1), 999999],
        "run_id": [getattr(TrainingRun.objects.order_by("pk").first(), "pk", 1), 999999],
        "batch_id": [getattr(Batch.objects.order_by("pk").first(), "pk", 1), 999999],
        "user_id": [1, 999999],
        "benchmark_id": [1, 999999],
        "set_slug": ["no-such-set"],
        "name": ["..", "no-such-file.txt"],
    }
    paths = []
    for pattern in frontend + webhooks:
        if not isinstance(pattern, URLPattern):
            continue
        route = str(pattern.pattern)
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        variants = [route]
        for param in params:
            variants = [
                re.sub(rf"<(?:\w+:)?{param}>", str(value), v, count=1) for v in variants for value in real[param]
            ]
        paths += [(pattern.name or "", "/" + v) for v in variants]
    return paths


def test_no_page_answers_garbage_with_a_server_error(version):
    from tests.factories import UserFactory

    campaign = version.campaign
    admin = UserFactory(role=None, is_superuser=True, is_staff=True)
    client = Client(raise_request_exception=True)
    client.force_login(admin)
    fields, actions = _field_names(), _actions()
    assert len(fields) > 30 and {"create", "delete", "replay", "roles"} <= set(actions)  # the discovery works
    failures = []

    def send(method: str, path: str, data: dict) -> None:
        try:
            response = getattr(client, method)(path, data)
        except Exception as exc:  # a view that raised: the 500 a person would see
            failures.append(f"{method.upper()} {path} {data}: {exc.__class__.__name__}: {exc}")
            return
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {path} {data}: HTTP {response.status_code}")

    paths = _paths(campaign.slug)
    for name, path in paths:
        for value in HOSTILE:
            send("get", path, {field: value for field in fields})
        if name in NOT_POSTED:
            continue
        for action in actions:
            for value in HOSTILE:
                send("post", path, {**{field: value for field in fields}, "action": action})
    assert failures == [], "\n".join(failures[:20])
    assert len(paths) > 40


def test_a_nul_character_is_refused_with_the_reason_before_any_view(campaign, logged_in, client_as):
    """PostgreSQL cannot store a NUL in text: it is answered 400 where it arrives, not as a server error."""
    from annotation.models import Campaign

    client, _ = logged_in("admin")
    page = client.post(f"/manage/campaigns/{campaign.slug}/", {"name": "new\x00name"})
    assert page.status_code == 400
    assert "a NUL character (\\0) in the form field &#x27;name&#x27;" in page.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).name == campaign.name  # nothing saved
    found = client.get("/desk/flags/", {"campaign": "x\x00"})
    assert found.status_code == 400 and 'id="error-reason"' in found.content.decode()
    api, _ = client_as("researcher")
    answer = api.get("/api/v1/campaigns/?search=a%00b")
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "a NUL character (\\0) in the query string: text cannot hold one; remove it and send again"
    }
