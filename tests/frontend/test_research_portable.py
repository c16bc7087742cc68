"""The research pages, database-neutral: these tests run on PostgreSQL here and on SQLite (the embedded
default) through test_research_sqlite.py. One definition of "item", "below target" and "uncertain" for the
page, the version and the export; one generator order; the annotator view filled from the mle model."""

import re

import pytest

from annotation.services.coverage import coverage_summary
from annotation.services.mos import mos_aggregate

pytestmark = pytest.mark.django_db


def test_the_index_shows_each_campaigns_latest_version(rated, logged_in):
    campaign = rated[0]
    mos_aggregate(campaign=campaign, method="mean")
    mos_aggregate(campaign=campaign, method="zscore")
    client, _ = logged_in("researcher")
    html = client.get("/research/").content.decode()
    row = re.search(rf'<tr data-campaign="{campaign.slug}">(.*?)</tr>', html, re.S).group(1)
    assert "v2 (zscore)" in row and ">3<" in row and ">12<" in row  # 3 items, 12 counted ratings


def test_page_version_and_export_count_items_the_same_way(rated, logged_in, tmp_path):
    from annotation.services.exports import dataset_export
    from tests.factories import ItemFactory

    campaign = rated[0]
    ItemFactory(campaign=campaign)  # an item nobody rated yet: in the campaign, not in the version
    version = mos_aggregate(campaign=campaign)
    manifest = dataset_export(version=version, fmt="mos-csv", out=tmp_path / "x", media="none")
    summary = coverage_summary(version=version)
    assert summary["items"] == version.counts["items"] == manifest["counts"]["all"] == 3
    assert (summary["campaign_items"], summary["unrated"]) == (4, 1)
    client, _ = logged_in("researcher")
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    assert re.search(r'data-count="items">3<', html) and re.search(r'data-count="unrated">1<', html)
    assert re.search(r'data-count="below">3<', html)  # 4 ratings each, target 6
    assert re.search(r'data-count="single">0<', html) and re.search(r'data-count="uncertain">\d+<', html)


def test_one_generator_order_and_violins_with_padded_axes(rated, logged_in):
    campaign = rated[0]
    mos_aggregate(campaign=campaign)
    client, _ = logged_in("researcher")
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    distribution = html[html.index('id="distribution"') : html.index('id="generators"')]
    assert distribution.count("<svg") == 1 and "gen-a (n=2)" in distribution and "gen-b (n=1)" in distribution
    table = html[html.index('id="generators"') : html.index('id="annotators"')]
    assert table.index("gen-a") < table.index("gen-b")
    from frontend.plots import MOS_LIMITS

    assert MOS_LIMITS[0] < 1 and MOS_LIMITS[1] > 5


def test_the_annotator_view_is_filled_from_the_mle_model_for_a_mean_version(rated, logged_in):
    campaign, items, annotators, table = rated
    mos_aggregate(campaign=campaign, method="mean")
    client, _ = logged_in("researcher")
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    section = html[html.index('id="annotator-table"') :]
    assert "fitted to the ratings counted now" in html
    assert all(a.username in section for a in annotators)
    assert section.count("<tr>") == 1 + 2 * len(annotators)  # header + each annotator x dimension


def test_progress_shows_before_the_first_version(rated, logged_in):
    campaign = rated[0]
    client, _ = logged_in("researcher")
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    assert 'id="no-version"' in html and 'id="progress"' in html
    progress = html[html.index('id="progress"') : html.index("Make a dataset version")]
    assert "Ratings counted (approved)</dt><dd>12<" in progress.replace("\n", "")
    assert "Ratings being checked</dt><dd>6<" in progress.replace("\n", "")  # pending + needs_review batches
