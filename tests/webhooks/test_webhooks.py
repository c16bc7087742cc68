"""Webhooks: endpoints per campaign, one delivery per event and endpoint, signed with HMAC-SHA256 under a
secret shown once, the API and the page for researchers and admins."""

import hashlib
import hmac

import pytest
from django.test import Client

from annotation.models import Batch
from annotation.services.mos import mos_aggregate
from core.errors import InvalidInput
from tests.factories import CampaignFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create, event_emit, signature, signature_verify

pytestmark = pytest.mark.django_db


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"event":"version.ready"}'
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(secret="whsec_abc", timestamp=1700000000, body=body) == f"sha256={expected}"
    header = signature(secret="whsec_abc", timestamp=1700000000, body=body)
    assert signature_verify(secret="whsec_abc", timestamp=1700000000, body=body, header=header, now=1700000100)
    assert not signature_verify(
        secret="whsec_abc", timestamp=1700000000, body=body + b" ", header=header, now=1700000100
    )
    assert not signature_verify(secret="other", timestamp=1700000000, body=body, header=header, now=1700000100)
    assert not signature_verify(secret="whsec_abc", timestamp=1700000000, body=body, header=header, now=1700009999)


def test_bad_endpoints_are_refused_with_a_reason(campaign):
    for url, events, message in (
        ("ftp://x.org/", ["version.ready"], "http:// or https://"),
        ("https://x.org/", [], "at least one event"),
        ("https://x.org/", ["version.made"], "unknown event"),
    ):
        with pytest.raises(InvalidInput, match=message):
            endpoint_create(campaign=campaign, url=url, events=events)
    assert not Endpoint.objects.exists()


def test_events_reach_the_active_endpoints_that_take_them(rated, make_user):
    campaign = rated[0]
    wants, other, off = (
        endpoint_create(campaign=campaign, url=f"https://example.org/{n}", events=e)[0]
        for n, e in (("a", ["version.ready", "batch.decided"]), ("b", ["export.ready"]), ("c", ["version.ready"]))
    )
    off.is_active = False
    off.save()
    endpoint_create(campaign=CampaignFactory(), url="https://example.org/d", events=["version.ready"])
    version = mos_aggregate(campaign=campaign)
    delivery = Delivery.objects.get()
    assert (delivery.endpoint, delivery.event, delivery.status) == (wants, "version.ready", "pending")
    assert delivery.payload["campaign"] == campaign.slug and delivery.payload["id"] == str(delivery.uid)
    assert delivery.payload["data"]["version"] == version.pk and delivery.payload["data"]["items"] == 3
    assert other.deliveries.count() == 0


def test_a_batch_decision_and_a_finished_export_and_training_run_are_announced(rated, make_user):
    from annotation.services.jobs import job_create, job_run
    from annotation.services.scrutiny import batch_admin_decide
    from training.models import TrainingRun
    from training.services.runs import run_cancel

    campaign = rated[0]
    endpoint_create(
        campaign=campaign,
        url="https://example.org/all",
        events=["batch.decided", "export.ready", "training.finished", "version.ready"],
    )
    batch = Batch.objects.filter(campaign=campaign, decision="needs_review").first()
    batch_admin_decide(batch_id=batch.pk, decision="reject", reason="copied answers", user=make_user("admin"))
    version = mos_aggregate(campaign=campaign)
    job = job_create(
        kind="dataset_export",
        campaign=campaign,
        params={
            "version_id": version.pk,
            "format": "mos-csv",
            "split": None,
            "seed": 0,
            "media": "none",
            "golden": "keep",
        },
    )
    job_run(job_id=job.pk)
    run = TrainingRun.objects.create(kind="train", campaign=campaign, dataset_version=version, config={})
    run_cancel(run_id=run.pk)
    payloads = {d.event: d.payload["data"] for d in Delivery.objects.all()}
    assert set(payloads) == {"batch.decided", "version.ready", "export.ready", "training.finished"}
    assert (payloads["batch.decided"]["decision"], payloads["batch.decided"]["reason"]) == (
        "rejected",
        "copied answers",
    )
    assert payloads["export.ready"]["download_url"] == f"/api/v1/exports/{job.pk}/download/"
    assert payloads["training.finished"]["status"] == "cancelled"


def test_nothing_is_announced_without_endpoints(rated):
    mos_aggregate(campaign=rated[0])
    assert not Delivery.objects.exists()
    with pytest.raises(ValueError):
        event_emit(event="made.up", campaign=rated[0], data={})


def test_the_api_shows_the_secret_once(campaign, client_as):
    client, _ = client_as("researcher")
    created = client.post(
        f"/api/v1/campaigns/{campaign.slug}/webhooks/",
        {"url": "https://example.org/hook", "events": ["version.ready"]},
        format="json",
    )
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = client.get(f"/api/v1/campaigns/{campaign.slug}/webhooks/").json()
    assert [e["url"] for e in listed] == ["https://example.org/hook"] and "secret" not in listed[0]
    endpoint_id = created.json()["id"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint_id}/").json()
    rotated = client.post(f"/api/v1/webhooks/{endpoint_id}/secret/").json()["secret"]
    assert rotated != created.json()["secret"] and Endpoint.objects.get().secret == rotated
    bad = client.post(
        f"/api/v1/campaigns/{campaign.slug}/webhooks/", {"url": "nope", "events": ["version.ready"]}, format="json"
    )
    assert bad.status_code == 400 and "http://" in bad.json()["detail"]
    annotator, _ = client_as("annotator")
    assert annotator.get(f"/api/v1/campaigns/{campaign.slug}/webhooks/").status_code == 403


def test_the_page_registers_and_shows_the_secret_once(campaign, make_user):
    client = Client()
    client.force_login(make_user("researcher"))
    page = client.post(
        f"/webhooks/{campaign.slug}/",
        {"action": "create", "url": "https://example.org/in", "events": ["batch.decided", "export.ready"]},
        follow=True,
    )
    secret = Endpoint.objects.get().secret
    assert secret in page.content.decode() and "shown only once" in page.content.decode()
    again = client.get(f"/webhooks/{campaign.slug}/").content.decode()
    assert secret not in again and "https://example.org/in" in again
    refused = client.post(
        f"/webhooks/{campaign.slug}/", {"action": "create", "url": "https://example.org/x"}, follow=True
    ).content.decode()
    assert "choose at least one event" in refused and Endpoint.objects.count() == 1


def test_the_page_lists_deliveries_and_replays_one(rated, make_user):
    campaign = rated[0]
    endpoint_create(campaign=campaign, url="https://example.org/in", events=["version.ready"])
    mos_aggregate(campaign=campaign)
    first = Delivery.objects.get()
    Delivery.objects.filter(pk=first.pk).update(
        status="failed", attempts=6, response_status=503, response_ms=41, error="HTTP 503"
    )
    client = Client()
    client.force_login(make_user("admin"))
    html = client.get(f"/webhooks/{campaign.slug}/").content.decode()
    row = html[html.index(f'<tr data-delivery="{first.pk}"') :]
    assert "version.ready" in row and "HTTP 503" in row and "41 ms" in row and "Failed (gave up)" in row
    response = client.post(f"/webhooks/{campaign.slug}/", {"action": "replay", "delivery": first.pk}, follow=True)
    again = Delivery.objects.exclude(pk=first.pk).get()
    assert f"Sent again as delivery {again.pk}." in response.content.decode()
    assert again.replay_of == first and again.payload["data"] == first.payload["data"] and again.uid != first.uid
