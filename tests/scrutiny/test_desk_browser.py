"""A real Chromium: an admin approves and rejects batches on the approval desk."""
import pytest

from annotation.models import Batch
from annotation.services.scrutiny import batch_scrutinize
from tests.browser import login
from tests.factories import CampaignFactory
from tests.scrutiny.conftest import GOLDEN_A, closed_batch, make_golden, rounded


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_rejects_then_approves_a_batch_on_the_desk(page, live_server, make_user):
    campaign = CampaignFactory(min_golden=8)
    golden = make_golden(campaign)
    annotator = make_user("annotator", username="middling")
    batch = closed_batch(campaign, annotator, list(zip(golden, [3, 1, 1, 1, 1, 4, 3, 4, 2, 4], rounded(GOLDEN_A))))
    batch_scrutinize(batch_id=batch.pk)
    admin = make_user("admin")

    login(page, live_server, admin.username)
    page.click("nav >> text=Desk")
    row = page.locator("tr.decision-needs_review").first
    assert "middling" in row.inner_text()
    row.locator(f"text=#{batch.pk}").click()
    assert page.locator("svg.scatter").count() == 2
    assert page.locator("svg.scatter circle.pt").count() == 20

    page.click("button[value=reject]")  # no reason: refused
    assert "Not saved: a rejection needs a reason" in page.locator(".messages").inner_text()
    assert page.locator("#decision").inner_text() == "needs_review"

    page.fill("textarea[name=reason]", "answers do not follow the images")
    page.click("button[value=reject]")
    assert page.locator("#decision").inner_text() == "rejected"
    assert "answers do not follow the images" in page.locator("#admin-decision").inner_text()
    batch.refresh_from_db()
    assert (batch.decision, batch.decision_source, batch.decided_by_id) == ("rejected", "admin", admin.pk)

    page.click("button[value=approve]")
    assert page.locator("#decision").inner_text() == "approved"
    assert Batch.objects.get(pk=batch.pk).decision == "approved"
    assert page.console_errors == []
