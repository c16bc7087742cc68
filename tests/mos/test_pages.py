"""Statistics pages: researchers and admins see counts, SVG plots, agreement; annotators get 403."""

import pytest
from django.test import Client

from tests.factories import UserFactory


def _client(role):
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.mark.parametrize("role", ["researcher", "admin"])
def test_campaign_statistics_render_with_svg_plots(version, role):
    resp = _client(role).get(f"/research/{version.campaign.slug}/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert html.count("<svg") >= 2  # MOS distribution + annotator scatter
    assert "gen-a" in html and "gen-b" in html  # a box per generator
    assert "split-half SRCC" in html and "Below target" in html
    assert f"/api/v1/versions/{version.pk}/exports/" in html  # the export form of the version


def test_statistics_index_lists_campaigns(version):
    resp = _client("researcher").get("/research/")
    assert resp.status_code == 200 and version.campaign.name in resp.content.decode()


@pytest.mark.parametrize("path", ["/research/", "/research/{slug}/"])
def test_annotators_get_403(version, path):
    resp = _client("annotator").get(path.format(slug=version.campaign.slug))
    assert resp.status_code == 403


def test_anonymous_is_sent_to_login(version):
    resp = Client().get(f"/research/{version.campaign.slug}/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_campaign_without_versions_renders(campaign):
    resp = _client("researcher").get(f"/research/{campaign.slug}/")
    assert resp.status_code == 200 and "No dataset version yet" in resp.content.decode()
