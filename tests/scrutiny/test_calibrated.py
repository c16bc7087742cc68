"""The calibrated method on the real database: evidence per annotator across batches, earlier batches
decided again when the standing changes, golden-score changes re-queue scrutiny, the audit trail, what
annotators read, and the QC settings validated everywhere."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.test import Client

from annotation.models import AnnotatorEvidence, AuditEvent, Batch, Campaign, Job
from annotation.services.scrutiny import annotator_pause, annotator_resume, batch_admin_decide, batch_scrutinize
from tests.factories import CampaignFactory
from tests.scrutiny.conftest import closed_batch, make_golden

pytestmark = pytest.mark.django_db


def golden_sample(campaign, n, seed=0):
    rng = np.random.default_rng(seed)
    q = np.round(rng.uniform(1, 5, n), 2).tolist()
    a = np.round(rng.uniform(1, 5, n), 2).tolist()
    return make_golden(campaign, quality=q, alignment=a)


def ratings_of(items, *, noise, seed, flat=None):
    """Scores following each golden item's score with `noise` (0: exact), or `flat` everywhere."""
    rng = np.random.default_rng(seed)
    out = []
    for item in items:
        scores = {g.dimension: g.score for g in item.golden_scores.all()}
        if flat is not None:
            out.append((item, flat, flat))
            continue
        q, a = (int(np.clip(np.rint(scores[d] + rng.normal(0, noise)), 1, 5)) for d in ("quality", "alignment"))
        out.append((item, q, a))
    return out


def decided(batch):
    batch_scrutinize(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


@pytest.fixture
def campaign():
    return CampaignFactory(min_golden=8, batch_size=10)


def test_the_decision_uses_all_the_annotators_golden_items_and_stores_the_evidence(campaign, make_user):
    golden = golden_sample(campaign, 60)
    annotator = make_user("annotator")
    first = decided(closed_batch(campaign, annotator, ratings_of(golden[:20], noise=0.6, seed=1)))
    second = decided(closed_batch(campaign, annotator, ratings_of(golden[20:40], noise=0.6, seed=2)))
    assert first.scrutiny["evidence"]["cumulative"]["quality"]["n_golden"] == 20
    assert second.scrutiny["quality"]["n_golden"] == 20  # the batch's own
    assert second.scrutiny["evidence"]["cumulative"]["quality"]["n_golden"] == 40  # and all so far
    lo, hi = second.scrutiny["evidence"]["cumulative"]["quality"]["srcc_ci"]
    assert lo < second.scrutiny["evidence"]["cumulative"]["quality"]["srcc"] < hi
    assert second.scrutiny["evidence"]["method"] == "calibrated"
    assert second.scrutiny["evidence"]["golden_source"] == "60 golden items (imported scores)"
    assert set(second.scrutiny["evidence"]["reference"]) == {"quality", "alignment"}
    row = AnnotatorEvidence.objects.get(campaign=campaign, annotator=annotator)
    assert row.n_golden == 40 and row.figures["quality"]["n_golden"] == 40 and row.p_genuine > 0.95
    assert second.decision == "approved" and "over 40 golden items so far" in second.decision_reason


def test_a_vendor_who_rates_one_dimension_is_judged_on_that_dimension(campaign, make_user):
    # A vendor file with a quality column only: alignment is never rated, so it has no golden items and must
    # not hold every batch for review ("every rated dimension" needs min_golden golden items).
    golden = golden_sample(campaign, 60)
    vendor = make_user("annotator")
    rows = [(item, q, None) for item, q, _ in ratings_of(golden, noise=0.4, seed=3)]
    batch = decided(closed_batch(campaign, vendor, rows, kind=Batch.Kind.IMPORTED))
    assert batch.scrutiny["alignment"]["n_golden"] == 0 and batch.scrutiny["quality"]["n_golden"] == 60
    assert batch.decision == "approved" and "alignment" not in batch.decision_reason
    # the same ratings with alignment rated flat do bring alignment in (and are not approved on quality alone)
    flat = decided(
        closed_batch(campaign, make_user("annotator"), [(i, q, 3) for i, q, _ in rows], kind=Batch.Kind.IMPORTED)
    )
    assert flat.decision != "approved" and "alignment" in flat.decision_reason


def test_an_early_batch_held_for_thin_evidence_is_approved_once_the_record_is_conclusive(
    campaign, make_user, django_capture_on_commit_callbacks
):
    golden = golden_sample(campaign, 90)
    annotator = make_user("annotator")
    # a first batch of 8 golden items, followed loosely: not conclusive on its own
    first = decided(closed_batch(campaign, annotator, ratings_of(golden[:8], noise=2.2, seed=2)))
    assert first.decision == "needs_review", first.decision_reason
    with django_capture_on_commit_callbacks(execute=True):
        later = decided(closed_batch(campaign, annotator, ratings_of(golden[8:70], noise=0.5, seed=4)))
    assert later.decision == "approved"
    first.refresh_from_db()
    assert (first.decision, first.decision_source) == ("approved", "auto")
    events = list(AuditEvent.objects.filter(batch=first).values_list("before", "after"))
    assert events == [("pending", "needs_review"), ("needs_review", "approved")]


def test_an_admins_decision_is_never_redecided(campaign, make_user, django_capture_on_commit_callbacks):
    golden = golden_sample(campaign, 90)
    annotator, admin = make_user("annotator"), make_user("admin")
    first = decided(closed_batch(campaign, annotator, ratings_of(golden[:8], noise=2.2, seed=2)))
    batch_admin_decide(batch_id=first.pk, decision="reject", reason="looked careless", user=admin)
    with django_capture_on_commit_callbacks(execute=True):
        decided(closed_batch(campaign, annotator, ratings_of(golden[8:70], noise=0.5, seed=4)))
    first.refresh_from_db()
    assert (first.decision, first.decision_source, first.decided_by) == ("rejected", "admin", admin)


def test_a_straight_liner_is_rejected_with_the_pattern_named(campaign, make_user):
    golden = golden_sample(campaign, 40)
    batch = decided(closed_batch(campaign, make_user("annotator"), ratings_of(golden[:30], noise=0, seed=0, flat=3)))
    assert batch.decision == "rejected"
    assert batch.decision_reason.startswith("spam pattern: quality: all 30 ratings are 3")
    assert [p["code"] for p in batch.scrutiny["evidence"]["patterns"]] == ["constant", "constant"]
    assert batch.public_reason == (
        "Rejected: every item got the same quality score (3); every item got the same alignment score (3)."
    )


def test_golden_scores_that_change_requeue_scrutiny_once(campaign, make_user):
    from annotation.services.golden import golden_import

    golden = golden_sample(campaign, 20)
    decided(closed_batch(campaign, make_user("annotator"), ratings_of(golden[:10], noise=0.5, seed=1)))
    rows = "item_id,quality,alignment\n" + "\n".join(f"{g.item_id},3,3" for g in golden[:3])
    golden_import(campaign=campaign, data=rows)
    golden_import(campaign=campaign, data=rows)
    jobs = Job.objects.filter(kind="scrutinize", campaign=campaign)
    assert jobs.count() == 1  # one queued job covers every change until it runs
    assert jobs.get().params == {"campaign": campaign.slug, "all": True, "why": "golden scores imported"}


def test_pauses_and_decisions_are_an_append_only_audit_trail(campaign, make_user):
    golden = golden_sample(campaign, 40)
    annotator, admin = make_user("annotator", username="ann"), make_user("admin", username="boss")
    batch = decided(closed_batch(campaign, annotator, ratings_of(golden[:30], noise=0.5, seed=5)))
    batch_scrutinize(batch_id=batch.pk)  # unchanged: no new event
    batch_admin_decide(batch_id=batch.pk, decision="reject", reason='=HYPERLINK("x") checked by hand', user=admin)
    batch_admin_decide(batch_id=batch.pk, decision="approve", reason="second look: fine", user=admin)
    annotator_pause(user=annotator, reason="too fast", by=admin)
    annotator_resume(user=annotator, by=admin)
    events = list(AuditEvent.objects.filter(subject=annotator).order_by("pk"))
    assert [(e.kind, e.source, e.before, e.after) for e in events] == [
        ("batch_decision", "auto", "pending", "approved"),
        ("batch_decision", "admin", "approved", "rejected"),
        ("batch_decision", "admin", "rejected", "approved"),
        ("annotator_paused", "admin", "active", "paused"),
        ("annotator_resumed", "admin", "paused", "active"),
    ]
    assert events[1].actor == admin and events[1].figures["evidence"]["p_genuine"] is not None
    client = Client()
    client.force_login(admin)
    listed = client.get(f"/api/v1/audit/?batch={batch.pk}").json()
    assert listed["count"] == 3 and [r["after"] for r in listed["results"]] == ["approved", "rejected", "approved"]
    assert listed["results"][1]["actor"] == "boss"
    response = client.get(f"/api/v1/audit/export/?annotator={annotator.pk}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["after"] for r in rows] == ["approved", "rejected", "approved", "paused", "active"]
    assert rows[1]["reason"].startswith("'=HYPERLINK")  # a spreadsheet would run it: written as text
    assert client.get("/api/v1/audit/?batch=x").status_code == 400
    annotator_client = Client()
    annotator_client.force_login(annotator)
    assert annotator_client.get("/api/v1/audit/").status_code == 403


def test_annotators_read_the_decision_and_their_standing_but_nothing_golden(campaign, make_user):
    from rest_framework.test import APIClient

    golden = golden_sample(campaign, 80)
    annotator, admin = make_user("annotator"), make_user("admin")
    good = decided(closed_batch(campaign, annotator, ratings_of(golden[:30], noise=0.4, seed=1)))
    flat = decided(closed_batch(campaign, annotator, ratings_of(golden[30:60], noise=0, seed=0, flat=4)))
    batch_admin_decide(batch_id=flat.pk, decision="reject", reason="Please use the whole scale.", user=admin)
    client = APIClient()
    client.force_authenticate(annotator)
    listed = client.get("/api/v1/batches/").json()["results"]
    by_id = {r["id"]: r for r in listed}
    assert by_id[good.pk]["decision"] == "approved" and by_id[good.pk]["reason"].startswith("Approved")
    assert by_id[flat.pk]["reason"] == "Rejected by an admin: Please use the whole scale."
    standing = client.get(f"/api/v1/campaigns/{campaign.slug}/standing/").json()
    assert standing["text"] == "1 of 2 batches approved" and standing["rejected"] == 1
    detail = client.get(f"/api/v1/batches/{good.pk}/").json()
    text = str(listed) + str(detail) + str(standing)
    for leak in ("golden", "SRCC", "srcc", "P(genuine)", "campaign 0.", "evidence"):
        assert leak not in text
    page = Client()
    page.force_login(annotator)
    html = page.get("/my/batches/").content.decode()
    assert "1 of 2 batches approved" in html and "Please use the whole scale." in html
    assert "golden" not in html.lower()


def test_qc_settings_are_read_and_changed_by_admins_with_the_same_rules(campaign, make_user):
    client = Client()
    client.force_login(make_user("admin"))
    url = f"/api/v1/campaigns/{campaign.slug}/qc-settings/"
    assert client.get(url).json()["scrutiny_method"] == "calibrated"
    ok = client.patch(url, {"scrutiny_method": "fixed", "approve_threshold": 0.8}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["scrutiny_method"] == "fixed"
    before = Campaign.objects.filter(pk=campaign.pk).values().get()
    for bad, words in [
        ({"approve_threshold": 1.5}, "approve_threshold"),
        ({"reject_threshold": 0.9}, "reject_threshold <= approve_threshold"),
        ({"approve_probability": 0.04}, "reject_probability < approve_probability"),
        ({"scrutiny_method": "vibes"}, "scrutiny_method"),
        ({"batch_size": 3}, "not a QC setting: batch_size"),
    ]:
        response = client.patch(url, bad, content_type="application/json")
        assert response.status_code == 400 and words in response.json()["detail"], (bad, response.json())
    assert Campaign.objects.filter(pk=campaign.pk).values().get() == before
    annotator = Client()
    annotator.force_login(make_user("annotator"))
    assert annotator.get(url).status_code == 403


def test_the_django_admin_refuses_thresholds_outside_0_1(campaign, make_user):
    from annotation.admin import CampaignForm

    data = {f.name: getattr(campaign, f.name) for f in Campaign._meta.fields if f.editable and f.name != "id"}
    data["anchors"] = "{}"
    form = CampaignForm(data={**data, "approve_threshold": 1.5}, instance=campaign)
    assert not form.is_valid() and "approve_threshold" in str(form.errors)
    form = CampaignForm(
        data={**data, "golden_max_per_batch": 100, "golden_per_batch": 10, "golden_min_per_batch": 4}, instance=campaign
    )
    assert not form.is_valid() and "golden_max_per_batch must leave room" in str(form.errors)


def test_create_campaign_takes_the_method(make_user):
    from django.core.management import CommandError, call_command

    call_command("create_campaign", "qc-fixed", "--scrutiny-method", "fixed", stdout=io.StringIO())
    campaign = Campaign.objects.get(slug="qc-fixed")
    assert campaign.scrutiny_method == "fixed"
    assert (campaign.golden_min_per_batch, campaign.golden_per_batch, campaign.golden_max_per_batch) == (4, 10, 20)
    with pytest.raises(CommandError, match="probabilities must satisfy"):
        call_command("create_campaign", "qc-bad", "--approve-probability", "0.01", stdout=io.StringIO())
    assert not Campaign.objects.filter(slug="qc-bad").exists()


def test_the_review_queue_api_orders_by_risk(campaign, make_user):
    golden = golden_sample(campaign, 40)
    low = decided(closed_batch(campaign, make_user("annotator"), ratings_of(golden[:8], noise=1.0, seed=7)))
    high = decided(closed_batch(campaign, make_user("annotator"), ratings_of(golden[8:16], noise=3.0, seed=8)))
    Batch.objects.filter(pk__in=[low.pk, high.pk]).update(decision="needs_review")
    client = Client()
    client.force_login(make_user("admin"))
    rows = client.get(f"/api/v1/campaigns/{campaign.slug}/scrutiny/?decision=needs_review&order=risk").json()["results"]
    risks = [r["risk"] for r in rows]
    assert risks == sorted(risks, reverse=True) and {r["batch"] for r in rows} == {low.pk, high.pk}
    assert client.get(f"/api/v1/campaigns/{campaign.slug}/scrutiny/?order=nope").status_code == 400


def test_reason_templates_api(make_user):
    client = Client()
    client.force_login(make_user("admin"))
    made = client.post(
        "/api/v1/reason-templates/", {"text": "Scores ignore the prompt."}, content_type="application/json"
    )
    assert made.status_code == 201
    assert [t["text"] for t in client.get("/api/v1/reason-templates/").json()] == ["Scores ignore the prompt."]
    assert client.post("/api/v1/reason-templates/", {"text": "  "}, content_type="application/json").status_code == 400
    assert client.delete(f"/api/v1/reason-templates/{made.json()['id']}/").status_code == 204
    assert client.delete(f"/api/v1/reason-templates/{made.json()['id']}/").status_code == 404
