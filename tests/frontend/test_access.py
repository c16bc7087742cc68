"""One guard for every page: anonymous visitors go to the login page, people without the role get the
styled 403 page with the reason."""

import pytest
from django.test import Client
from django.urls import URLPattern

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "logout", None}  # the login pages and the favicon redirect


def _frontend_patterns():
    from frontend.urls import urlpatterns as frontend
    from webhooks.page_urls import urlpatterns as webhooks

    return [p for p in frontend + webhooks if isinstance(p, URLPattern)]


def test_every_page_but_login_is_guarded_by_role_required():
    unguarded = [
        p.name for p in _frontend_patterns() if p.name not in PUBLIC and not hasattr(p.callback, "required_roles")
    ]
    assert unguarded == []


@pytest.mark.parametrize(
    "path,role",
    [
        ("/desk/", "researcher"),
        ("/desk/flags/", "annotator"),
        ("/manage/", "researcher"),
        ("/manage/users/", "expert"),
        ("/research/", "annotator"),
        ("/training/", "annotator"),
        ("/generation/", "expert"),
        ("/webhooks/", "annotator"),
    ],
)
def test_a_person_without_the_role_gets_a_styled_403_with_the_reason(logged_in, path, role):
    client, _ = logged_in(role)
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 403
    assert 'id="error-reason"' in html
    assert "for admins" in html or "for researchers and admins" in html or "for annotators" in html
    assert '<nav aria-label="Main">' in html  # the navigation is there to go somewhere else


@pytest.mark.parametrize("path", ["/", "/desk/", "/manage/campaigns/new/", "/research/", "/webhooks/", "/my/batches/"])
def test_anonymous_visitors_are_sent_to_the_login_page_and_back(path):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={path}"


def test_no_frontend_view_module_queries_the_orm_itself():
    """Reads go through selectors, writes through services: no `.objects.` in a view module."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(p.relative_to(root))
        for folder in ("frontend/views", "webhooks")
        for p in (root / folder).glob("*.py")
        if p.name in ("views.py",) or folder == "frontend/views"
        if ".objects." in p.read_text()
    ]
    assert offenders == []


def test_no_plot_is_drawn_in_a_view_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "frontend" / "views"
    drawing = [p.name for p in root.glob("*.py") if "<svg" in p.read_text() or "matplotlib" in p.read_text()]
    assert drawing == []
