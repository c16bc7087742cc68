"""Nothing an annotator can receive tells a golden item from a regular one, or shows golden scores,
MOS, external item ids or other people's ratings."""

from __future__ import annotations

import json

import pytest

from annotation.models import GoldenScore, Item, Task
from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

FORBIDDEN = ("golden", "is_golden", "mos", "item_id", "scrutiny", "srcc", "plcc")


def keys(obj, out=None):
    out = set() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k.lower())
            keys(v, out)
    elif isinstance(obj, list):
        for v in obj:
            keys(v, out)
    return out


def numbers(obj) -> list:
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in numbers(v)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


def test_every_annotator_response_is_free_of_golden_tells(client_as):
    campaign = CampaignFactory(batch_size=4, golden_per_batch=3)
    items = make_pool(campaign, n=8, generators=2, golden=6)
    for item in items:
        if item.is_golden:
            GoldenScore.objects.create(item=item, dimension="quality", score=4.5, source="imported")
    # external ids that name golden-ness must not reach annotators
    for item in Item.objects.filter(is_golden=True):
        Item.objects.filter(pk=item.pk).update(item_id=f"golden-{item.pk}")
    client, user = client_as("annotator")
    responses = []
    created = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json")
    responses.append(created.json())
    body = created.json()
    responses.append(client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json())
    responses.append(
        client.post(
            f"/api/v1/tasks/{body['tasks'][0]['id']}/rating/", {"quality": 4, "alignment": 2}, format="json"
        ).json()
    )
    responses.append(client.post(f"/api/v1/batches/{body['id']}/heartbeat/").json())
    responses.append(client.get(f"/api/v1/batches/{body['id']}/").json())
    responses.append(client.get("/api/v1/batches/").json())
    responses.append(client.post(f"/api/v1/batches/{body['id']}/finish/").json())

    for payload in responses:
        text = json.dumps(payload).lower()
        for word in FORBIDDEN:
            assert word not in keys(payload), word
        assert "golden" not in text
        assert 4.5 not in numbers(payload)  # the golden score

    # golden and regular tasks look alike: same keys, same URL shapes, same value types
    golden_ids = set(Task.objects.filter(batch_id=body["id"], is_golden=True).values_list("pk", flat=True))
    assert len(golden_ids) == 3
    golden = [t for t in body["tasks"] if t["id"] in golden_ids]
    regular = [t for t in body["tasks"] if t["id"] not in golden_ids]

    def shape(task):
        return (
            {k: type(v).__name__ for k, v in task.items()},
            task["media_url"].split("/")[:4] + task["media_url"].split("/")[5:],
            task["status"],
            task["lease_expires_at"],
            task["dimensions"],
        )

    assert {json.dumps(shape(t)) for t in golden} == {json.dumps(shape(t)) for t in regular}
    # and golden tasks are not grouped at a fixed place (shuffled with the regular ones): positions vary
    # across batches of different annotators
    positions = set()
    for _ in range(6):
        other, _ = client_as("annotator")
        b = other.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
        if not b or "tasks" not in b:
            break
        gold = set(Task.objects.filter(batch_id=b["id"], is_golden=True).values_list("pk", flat=True))
        positions.add(tuple(i for i, t in enumerate(b["tasks"]) if t["id"] in gold))
    assert len(positions) > 1
