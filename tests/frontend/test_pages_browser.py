"""Every role's pages in Chromium on the demo (seed_demo): the admin's whole job (a campaign made and filled,
the golden set, accounts, flags, the desk), the researcher's (statistics, a version made with a double click,
an export whose link stays), error pages and the offline API docs. Each page is checked at 390 px and 1280 px
(no sideways scrolling, a screenshot kept in var/test-artifacts/screenshots) and the desk and the research
page with axe-core (no serious or critical violation)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from annotation.models import Batch, Campaign, DatasetVersion, Item, ItemFlag, Job
from tests.browser import login, new_page
from tests.factories import make_png
from tests.frontend.browser_checks import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DEMO_PASSWORD = "demo-pass-1"
WIDTHS = [(390, 844), (1280, 800)]


@pytest.fixture
def demo(tmp_path):
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=io.StringIO())
    return Campaign.objects.get(slug="demo")


def _page(browser, live_server, username, width, height):
    page = new_page(browser, width=width, height=height)
    page.console_errors = []
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    login(page, live_server, username, DEMO_PASSWORD)
    return page


@pytest.mark.parametrize("width,height", WIDTHS, ids=["phone", "laptop"])
def test_the_admins_pages_fit_and_pass_axe(browser, live_server, demo, width, height):
    review = Batch.objects.filter(campaign=demo, decision="needs_review").first()
    assert review is not None and ItemFlag.objects.filter(campaign=demo, status="open").exists()
    page = _page(browser, live_server, "admin1", width, height)
    try:
        for path, name, axe in (
            ("/manage/", "manage", True),
            ("/manage/campaigns/new/", "manage-campaign-new", True),
            (f"/manage/campaigns/{demo.slug}/", "manage-campaign", True),
            (f"/manage/campaigns/{demo.slug}/import/", "manage-import", True),
            (f"/manage/campaigns/{demo.slug}/golden/", "manage-golden", True),
            ("/manage/users/", "manage-users", True),
            ("/desk/", "desk", True),
            (f"/desk/batches/{review.pk}/", "desk-batch", True),
            ("/desk/flags/", "desk-flags", True),
            (f"/webhooks/{demo.slug}/", "webhooks", True),
            ("/no/such/page/", "error-404", True),
        ):
            page.goto(live_server.url + path)
            check_page(page, name, axe=axe)
        assert page.console_errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize("width,height", WIDTHS, ids=["phone", "laptop"])
def test_the_researchers_pages_fit_and_pass_axe(browser, live_server, demo, width, height):
    page = _page(browser, live_server, "researcher1", width, height)
    try:
        for path, name in (
            ("/research/", "research-index"),
            (f"/research/{demo.slug}/", "research"),
            ("/training/", "training"),
            ("/generation/", "generation"),
            ("/webhooks/", "webhooks-index"),
            ("/desk/", "error-403"),
        ):
            page.goto(live_server.url + path)
            check_page(page, name, axe=True)
        expect(page.locator("#error-reason")).to_contain_text("for admins")
    finally:
        page.context.close()


@pytest.mark.parametrize("width,height", WIDTHS, ids=["phone", "laptop"])
def test_the_annotators_and_experts_pages_fit(browser, live_server, demo, width, height):
    for user, paths in (
        ("annotator1", ("/", f"/campaigns/{demo.slug}/", "/my/batches/")),
        ("expert1", (f"/campaigns/{demo.slug}/rate/?mode=expert",)),
    ):
        page = _page(browser, live_server, user, width, height)
        try:
            for path in paths:
                page.goto(live_server.url + path)
                if "mode=expert" in path:  # the demo leaves golden items for the experts to score
                    expect(page.locator("#rating-panel")).to_be_visible()
                    expect(page.locator("#progress-text")).to_have_text("0 / 3")
                check_page(page, f"{user}{path.replace('/', '-').replace('?', '-').replace('=', '-')}", axe=True)
        finally:
            page.context.close()


def _content_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        lines = ["item_id,media_path,media_type,prompt,generator"]
        for i in range(4):
            zf.writestr(f"m/{i}.png", make_png(64, 48, color=(60 * i, 90, 200 - 40 * i)))
            lines.append(f"new-{i},m/{i}.png,image,a green lamp number {i},browser-gen")
        zf.writestr("manifest.csv", "\n".join(lines) + "\n")
    return buf.getvalue()


def test_an_admin_makes_a_campaign_fills_it_and_gives_it_a_golden_set(page, live_server, demo, tmp_path):
    login(page, live_server, "admin1", DEMO_PASSWORD)
    page.goto(live_server.url + "/manage/")
    page.click("#new-campaign")
    page.fill("#id_slug", "lamps")
    page.fill("#id_name", "Lamps")
    page.fill("#id_batch_size", "0")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator(".form-errors, .field .error").first).to_be_visible()  # refused, with the reason
    assert not Campaign.objects.filter(slug="lamps").exists()
    page.fill("#id_batch_size", "2")
    page.fill("#id_golden_per_batch", "1")
    page.fill("#id_golden_min_per_batch", "1")
    page.fill("#id_golden_max_per_batch", "2")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_url("**/manage/campaigns/lamps/import/")
    archive = tmp_path / "lamps.zip"
    archive.write_bytes(_content_zip())
    page.set_input_files("#id_archive", str(archive))
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/jobs/*/")
    expect(page.locator("#job")).to_contain_text("4 items imported (4 images, 0 videos)")
    expect(page.locator("[data-field=status]")).to_have_text("Succeeded")
    assert Item.objects.filter(campaign__slug="lamps").count() == 4
    page.goto(live_server.url + "/manage/campaigns/lamps/golden/")
    page.fill("#id_size", "2")
    page.click("#golden-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("The golden set has 2 items (2 added)")
    assert Item.objects.filter(campaign__slug="lamps", is_golden=True).count() == 2
    page.goto(live_server.url + "/manage/users/")
    page.fill("#id_username", "rater7")
    page.fill("#id_password", "long-pass-7")
    page.click("#user-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Account rater7 created with annotator.")


def test_a_double_click_makes_one_version_and_export_links_stay(page, live_server, demo):
    login(page, live_server, "researcher1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/research/{demo.slug}/")
    before = DatasetVersion.objects.filter(campaign=demo).count()
    page.select_option("#aggregate-method", "mle+generator")  # mle with the generator prior
    page.dblclick("#aggregate-form button[type=submit]")
    expect(page.locator("#aggregate-form .job-status")).to_contain_text("open version", timeout=30_000)
    assert Job.objects.filter(kind="mos_aggregate").count() == 1
    assert DatasetVersion.objects.filter(campaign=demo).count() == before + 1
    made = DatasetVersion.objects.filter(campaign=demo).latest("number")
    assert made.method == "mle" and made.params["group_prior"] is True
    form = page.locator(".export-form").first
    form.locator("select[name=media]").select_option("none")
    form.locator("button[type=submit]").click()
    expect(form.locator(".job-status a")).to_have_text("download zip", timeout=30_000)
    job = Job.objects.get(kind="dataset_export")
    page.reload()
    link = page.locator(f'.export-history li[data-job="{job.pk}"] a.download')
    expect(link).to_have_attribute("href", f"/api/v1/exports/{job.pk}/download/")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    expect(page.locator("#download")).to_be_visible()
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.startswith(f"export-{job.pk}")


def test_the_api_docs_load_without_the_internet(page, live_server):
    outside = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    from tests.factories import UserFactory

    user = UserFactory(role="researcher")
    login(page, live_server, user.username)
    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Q-Eval dataset platform API")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    page.goto(live_server.url + "/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Q-Eval dataset platform API")
    assert outside == []
