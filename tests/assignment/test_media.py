"""Media access control: annotators through their own live tasks only (no item id ever), roles above
annotator by item; Range requests for video."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from annotation.models import Task
from tests.factories import CampaignFactory, ItemFactory, make_mp4, make_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_item(db):
    campaign = CampaignFactory(batch_size=1, golden_per_batch=0)
    item = ItemFactory(campaign=campaign)
    png = make_png()
    item.media.name = default_storage.save(f"test-media/{item.item_id}.png", ContentFile(png))
    item.thumbnail.name = default_storage.save(f"test-media/{item.item_id}-thumb.png", ContentFile(png))
    item.save()
    return item, png


def lease(client, item):
    body = client.post(f"/api/v1/campaigns/{item.campaign.slug}/batches/", {}, format="json").json()
    task = body["tasks"][0]
    assert task["media_url"] == f"/api/v1/tasks/{task['id']}/media/"
    assert str(item.pk) not in task["media_url"].replace(str(task["id"]), "")
    return body


def test_lease_holder_gets_the_file(client_as, stored_item):
    item, png = stored_item
    client, _ = client_as("annotator")
    body = lease(client, item)
    resp = client.get(body["tasks"][0]["media_url"], HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    assert b"".join(resp.streaming_content) == png
    assert "private" in resp["Cache-Control"]
    thumb = client.get(body["tasks"][0]["thumbnail_url"])
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content) == png


def test_annotators_get_the_same_404_for_every_item_id(client_as, stored_item):
    """Item ids are not for annotators: a leased item, an unleased one and one that does not exist all
    answer alike, so ids cannot be probed."""
    item, _ = stored_item
    client, _ = client_as("annotator")
    lease(client, item)
    answers = [client.get(f"/api/v1/items/{pk}/{kind}/") for pk in (item.pk, 999999) for kind in ("media", "thumbnail")]
    assert {r.status_code for r in answers} == {404}
    assert all(r.json()["detail"].endswith("not found") for r in answers)


def test_someone_elses_task_is_404(client_as, stored_item):
    item, _ = stored_item
    owner, _ = client_as("annotator")
    body = lease(owner, item)
    other, _ = client_as("annotator")
    assert other.get(body["tasks"][0]["media_url"]).status_code == 404
    assert other.get("/api/v1/tasks/999999/media/").status_code == 404


def test_expired_or_rated_lease_loses_access(client_as, stored_item):
    item, _ = stored_item
    client, _ = client_as("annotator")
    body = lease(client, item)
    task_id = body["tasks"][0]["id"]
    url = body["tasks"][0]["media_url"]
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 403
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() + timedelta(minutes=5))
    assert client.get(url).status_code == 200
    assert (
        client.post(f"/api/v1/tasks/{task_id}/rating/", {"quality": 3, "alignment": 3}, format="json").status_code
        == 201
    )
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["expert", "admin", "researcher"])
def test_roles_above_annotator_see_every_item(client_as, stored_item, role):
    item, png = stored_item
    client, _ = client_as(role)
    resp = client.get(f"/api/v1/items/{item.pk}/media/")
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == png


def test_anonymous_is_refused(api_client, stored_item):
    item, _ = stored_item
    assert api_client.get(f"/api/v1/items/{item.pk}/media/").status_code in (401, 403)


def test_video_answers_range_requests(client_as, tmp_path):
    campaign = CampaignFactory(batch_size=1, golden_per_batch=0)
    item = ItemFactory(campaign=campaign, media_type="video")
    make_mp4(tmp_path / "v.mp4")
    data = (tmp_path / "v.mp4").read_bytes()
    item.media.name = default_storage.save(f"test-media/{item.item_id}.mp4", ContentFile(data))
    item.save()
    client, _ = client_as("expert")
    url = f"/api/v1/items/{item.pk}/media/"
    full = client.get(url)
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes" and full["Content-Type"] == "video/mp4"
    part = client.get(url, HTTP_RANGE="bytes=10-19", HTTP_ACCEPT="video/*")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert b"".join(part.streaming_content) == data[10:20]
    tail = client.get(url, HTTP_RANGE="bytes=-5")
    assert b"".join(tail.streaming_content) == data[-5:]
    open_ended = client.get(url, HTTP_RANGE="bytes=0-")
    assert open_ended.status_code == 206 and b"".join(open_ended.streaming_content) == data
    assert client.get(url, HTTP_RANGE=f"bytes={len(data) + 10}-").status_code == 416


def test_behind_nginx_the_checked_file_is_handed_to_it(client_as, stored_item, settings):
    """With QEVAL_MEDIA_ACCEL_PREFIX (docker-compose's web service), access is checked here and nginx sends the
    bytes from its internal location: no web thread streams the file. Refusals answer as before."""
    settings.QEVAL_MEDIA_ACCEL_PREFIX = "/_protected_media/"
    item, _ = stored_item
    client, _ = client_as("annotator")
    task = lease(client, item)["tasks"][0]
    resp = client.get(task["media_url"])
    assert resp.status_code == 200 and resp.content == b""
    assert resp["X-Accel-Redirect"] == f"/_protected_media/{item.media.name}"
    assert resp["Content-Type"] == "image/png" and "private" in resp["Cache-Control"]
    other, _ = client_as("annotator")
    refused = other.get(task["media_url"])
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused
    Task.objects.filter(pk=task["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(task["media_url"])
    assert expired.status_code == 403 and "X-Accel-Redirect" not in expired


def test_the_nginx_location_is_internal_and_aliases_the_media_folder():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    conf = (root / "platform/docker/nginx.conf").read_text()
    block = conf[conf.index("location /_protected_media/") :].split("}")[0]
    assert "internal;" in block and "alias /data/media/;" in block
    assert "add_header X-Content-Type-Options nosniff always;" in block  # nginx drops the app's on a handoff
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    web_env = compose["services"]["web"]["environment"]
    assert web_env["QEVAL_MEDIA_ACCEL_PREFIX"] == "/_protected_media/"
    assert web_env["MEDIA_ROOT"] == "/data/media"
    assert "data:/data:ro" in compose["services"]["proxy"]["volumes"]
