"""Many annotators at once, each on its own database connection: nothing is over-assigned, the counters
stay true, nobody rates an item twice, and nothing deadlocks (a deadlock would be a 500)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Batch, Item, Rating, Task
from annotation.services.leases import leases_expire
from annotation.services.users import user_token
from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory, UserFactory

THREADS = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_over_assign():
    campaign = CampaignFactory(batch_size=3, golden_per_batch=1, lease_minutes=5)
    make_pool(campaign, n=36, generators=3, golden=4, target=2)
    users = [UserFactory(role="annotator") for _ in range(THREADS)]
    tokens = [user_token(user=u) for u in users]
    errors: list[str] = []
    stop = threading.Event()
    start = threading.Barrier(THREADS + 1)

    def annotator(token: str, seed: int):
        rng = random.Random(seed)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            start.wait()
            for _ in range(12):
                resp = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json")
                if resp.status_code == 204:
                    break
                if resp.status_code not in (200, 201):
                    errors.append(f"batch {resp.status_code} {resp.content[:200]}")
                    break
                body = resp.json()
                for task in body["tasks"]:
                    if task["status"] != "leased":
                        continue
                    if rng.random() < 0.1:
                        continue  # leave some leases to the sweeper
                    r = client.post(
                        f"/api/v1/tasks/{task['id']}/rating/",
                        {"quality": rng.randint(1, 5), "alignment": rng.randint(1, 5)},
                        format="json",
                    )
                    if r.status_code not in (201, 410):  # 410: the sweeper took the lease
                        errors.append(f"rating {r.status_code} {r.content[:200]}")
                if rng.random() < 0.3:
                    r = client.post(f"/api/v1/batches/{body['id']}/finish/")
                    if r.status_code not in (200, 409):
                        errors.append(f"finish {r.status_code} {r.content[:200]}")
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's traceback text
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    def sweeper():
        try:
            start.wait()
            while not stop.is_set():
                # age a few random live leases, then expire them, racing with the raters
                ids = list(Task.objects.filter(status=Task.Status.LEASED).values_list("pk", flat=True)[:50])
                aged = random.sample(ids, min(2, len(ids)))
                Task.objects.filter(pk__in=aged).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
                leases_expire()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"sweeper {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=annotator, args=(t, i)) for i, t in enumerate(tokens)]
    sweep = threading.Thread(target=sweeper)
    for t in threads + [sweep]:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    sweep.join(timeout=60)
    assert not any(t.is_alive() for t in threads + [sweep]), "a thread hung (deadlock?)"
    assert errors == []

    counted = ~Q(ratings__batch__decision=Batch.Decision.REJECTED)
    items = Item.objects.filter(campaign=campaign).annotate(
        n_ratings=Count("ratings", filter=counted, distinct=True),
        n_leases=Count("tasks", filter=Q(tasks__status=Task.Status.LEASED), distinct=True),
    )
    total_ratings = 0
    for item in items:
        assert item.active_count == item.n_ratings + item.n_leases, item.pk
        if not item.is_golden:
            assert item.n_ratings + item.n_leases <= item.target, item.pk
        total_ratings += item.n_ratings
    assert total_ratings > 36  # the pool really was contended and mostly filled
    dupes = Rating.objects.values("annotator", "item").annotate(n=Count("pk")).filter(n__gt=1)
    assert not dupes.exists()
    assert not Task.objects.values("annotator", "item").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert Batch.objects.filter(status="open").values("annotator").annotate(n=Count("pk")).filter(n__gt=1).count() == 0
