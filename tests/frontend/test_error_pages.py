"""Error pages for people (styled, with the navigation and a reason to act on) and JSON under /api/."""

import pytest
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_a_styled_404_not_the_list_of_url_patterns(logged_in):
    client, _ = logged_in("annotator")
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is no page at this address." in html and "Nothing here" in html
    assert "frontend/app.css" in html and '<nav aria-label="Main">' in html
    assert "URLconf" not in html and "api/v1/" not in html  # no URL patterns listed


def test_a_missing_object_says_what_is_missing(logged_in):
    client, _ = logged_in("admin")
    response = client.get("/desk/batches/999999/")
    assert response.status_code == 404 and "There is no batch 999999." in response.content.decode()


def test_the_403_page_carries_the_reason_the_view_gave(logged_in):
    client, _ = logged_in("annotator")
    html = client.get("/desk/").content.decode()
    assert "The approval desk is for admins: ask an admin to give you the admin role." in html
    assert "ask an admin to give your account the right role" in html


def test_unknown_api_urls_answer_json():
    response = Client().get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {
        "detail": "no API endpoint at this address; the list is at /api/docs/"
    }


def test_the_500_page_renders_without_a_request_context():
    from frontend.errors import server_error

    response = server_error(RequestFactory().get("/research/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "frontend/app.css" in html
    api = server_error(RequestFactory().get("/api/v1/batches/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_a_view_that_crashes_gets_the_500_page(logged_in, monkeypatch):
    import frontend.views.research as research

    def boom(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(research, "campaigns_with_latest_version", boom)
    client, _ = logged_in("researcher")
    client.raise_request_exception = False
    response = client.get("/research/")
    assert response.status_code == 500 and "Something went wrong on our side" in response.content.decode()
    assert "the database went away" not in response.content.decode()
