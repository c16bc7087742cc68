"""The statistics page in Debian's Chromium: the export form starts a job, shows progress, offers the zip."""

import io
import zipfile

import pytest

from tests.browser import login


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_export_form_runs_a_job_and_offers_the_download(page, live_server, version, make_user):
    researcher = make_user("researcher")
    login(page, live_server, researcher.username)
    page.goto(f"{live_server.url}/research/{version.campaign.slug}/")
    assert page.locator("svg").count() >= 2
    form = page.locator(f'form[data-url="/api/v1/versions/{version.pk}/exports/"]')
    form.locator("select[name=format]").select_option("sft")
    form.locator("input[name=split]").fill("train=0.34,val=0.33,test=0.33")
    form.locator("button[type=submit]").click()
    link = form.locator("a", has_text="download zip")
    link.wait_for()
    href = link.get_attribute("href")
    assert href.startswith("/api/v1/exports/") and href.endswith("/download/")
    resp = page.request.get(live_server.url + href)
    assert resp.status == 200
    names = zipfile.ZipFile(io.BytesIO(resp.body())).namelist()
    assert {"manifest.json", "sft_train.jsonl", "sft_val.jsonl", "sft_test.jsonl"} <= set(names)
    assert page.console_errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_bad_split_shows_the_reason(page, live_server, version, make_user):
    login(page, live_server, make_user("researcher").username)
    page.goto(f"{live_server.url}/research/{version.campaign.slug}/")
    form = page.locator(f'form[data-url="/api/v1/versions/{version.pk}/exports/"]')
    form.locator("input[name=split]").fill("train=0.9")
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('.export-form .job-status').textContent.includes('sum to 1')")
