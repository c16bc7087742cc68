"""A real Chromium on the approval desk: the riskiest batch first, every item with its media, the
evidence over time, decisions by keyboard (a / r with a reusable reason / n / p), the audit trail."""

import numpy as np
import pytest
from playwright.sync_api import expect

from annotation.models import AuditEvent, Batch, Item, ReasonTemplate
from annotation.services.scrutiny import batch_scrutinize
from tests.browser import login, wait_until
from tests.factories import CampaignFactory, ItemFactory
from tests.scrutiny.conftest import closed_batch, make_golden, with_media

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def keys_live(page):
    """The page's keyboard script has run (desk.js marks the body): key presses now act."""
    page.locator("body[data-desk-ready]").wait_for(state="attached")


def review_batches(campaign, make_user, n=3):
    """n batches the calibrated method leaves to an admin (thin, loosely following evidence), each with
    regular items too; returns them riskiest first."""
    rng = np.random.default_rng(0)
    golden = with_media(
        make_golden(campaign, quality=list(np.linspace(1, 5, 24)), alignment=list(np.linspace(5, 1, 24)))
    )
    regular = with_media([ItemFactory(campaign=campaign) for _ in range(3 * n)])
    batches = []
    for k in range(n):
        annotator = make_user("annotator", username=f"rater-{k}")
        gold = golden[8 * k : 8 * k + 8]
        scores = [(g, int(rng.integers(1, 6)), int(rng.integers(1, 6))) for g in gold]
        scores += [(r, 3, 4) for r in regular[3 * k : 3 * k + 3]]
        batch = closed_batch(campaign, annotator, scores)
        batch_scrutinize(batch_id=batch.pk)
        Batch.objects.filter(pk=batch.pk).update(decision="needs_review", risk=0.9 - 0.2 * k)
        batches.append(Batch.objects.get(pk=batch.pk))
    return batches


def test_an_admin_reviews_the_queue_by_keyboard(page, live_server, make_user):
    campaign = CampaignFactory(min_golden=8)
    first, second, third = review_batches(campaign, make_user)
    ReasonTemplate.objects.create(text="The scores do not follow the images.")
    admin = make_user("admin")
    login(page, live_server, admin.username)
    page.goto(f"{live_server.url}/desk/")
    page.click("#start-review")
    expect(page.locator("h1")).to_contain_text(f"Batch #{first.pk}")  # the riskiest first
    keys_live(page)

    # every rated item, with its media loaded, and the evidence plots
    expect(page.locator("#items tbody tr")).to_have_count(11)
    wait_until(
        page,
        lambda: page.evaluate(
            "() => [...document.querySelectorAll('#items img')].every((i) => i.complete && i.naturalWidth > 0)"
        ),
        what="every thumbnail loaded",
    )
    assert page.locator("#items tr.golden").count() == 8
    assert page.locator("svg.evidence").count() == 2 and page.locator("svg.scatter").count() == 2

    # r without a reason: nothing is sent, the reason box asks for one; 1 picks the template, Enter rejects
    page.keyboard.press("r")
    expect(page.locator("#decide-hint")).to_contain_text("A rejection needs a reason")
    expect(page.locator("#reason")).to_be_focused()
    assert Batch.objects.get(pk=first.pk).decision == "needs_review"
    page.keyboard.press("1")
    expect(page.locator("#reason")).to_have_value("The scores do not follow the images.")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(f"Batch #{second.pk}")  # on to the next in the queue
    keys_live(page)
    decided = Batch.objects.get(pk=first.pk)
    assert (decided.decision, decided.decision_source, decided.decided_by_id) == ("rejected", "admin", admin.pk)
    assert decided.public_reason == "Rejected by an admin: The scores do not follow the images."

    # n and p move along the queue without deciding
    with page.expect_navigation():
        page.keyboard.press("n")
    expect(page.locator("h1")).to_contain_text(f"Batch #{third.pk}")
    keys_live(page)
    with page.expect_navigation():
        page.keyboard.press("p")
    expect(page.locator("h1")).to_contain_text(f"Batch #{second.pk}")
    keys_live(page)

    # a approves and moves on; the audit trail keeps both decisions of the first batch
    with page.expect_navigation():
        page.keyboard.press("a")
    expect(page.locator("h1")).to_contain_text(f"Batch #{third.pk}")
    keys_live(page)
    assert Batch.objects.get(pk=second.pk).decision == "approved"
    page.goto(f"{live_server.url}/desk/batches/{first.pk}/")
    audit = page.locator("#audit").inner_text()
    assert "Needs review → Rejected" in audit and admin.username in audit  # words, never a raw needs_review
    assert list(AuditEvent.objects.filter(batch=first).values_list("after", flat=True))[-1] == "rejected"
    assert page.console_errors == []


def test_the_desk_fits_a_phone_and_a_laptop(page, live_server, make_user, browser):
    from tests.browser import new_page

    campaign = CampaignFactory(min_golden=8)
    batch = review_batches(campaign, make_user, n=1)[0]
    admin = make_user("admin")
    for width in (390, 1280):
        p = new_page(browser, width=width, height=900)
        login(p, live_server, admin.username)
        p.goto(f"{live_server.url}/desk/batches/{batch.pk}/")
        overflow = p.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{width} px: the page is {overflow} px too wide"
        p.context.close()
    assert Item.objects.filter(campaign=campaign).count() == 27
