"""The rating page's session counter: ratings today and the median time per item, from the server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Task
from annotation.services.ratings import rating_submit

pytestmark = pytest.mark.django_db


def test_session_counts_today_and_gives_the_median_time(leased, client_as):
    campaign, items, golden, user, batch = leased
    for task, ms in zip(Task.objects.filter(batch=batch).order_by("position")[:3], (4000, 9000, 5000)):
        rating_submit(task_id=task.pk, user=user, scores={"quality": 3, "alignment": 4}, duration_ms=ms)
    client, _ = client_as(user=user)
    since = (timezone.now() - timedelta(hours=2)).isoformat()
    body = client.get(f"/api/v1/campaigns/{campaign.slug}/session/", {"since": since}).json()
    assert (body["rated"], body["median_ms"]) == (3, 5000)
    later = (timezone.now() + timedelta(seconds=1)).isoformat()
    assert client.get(f"/api/v1/campaigns/{campaign.slug}/session/", {"since": later}).status_code == 400
    assert client.get(f"/api/v1/campaigns/{campaign.slug}/session/", {"since": "yesterday"}).status_code == 400
    assert client.get(f"/api/v1/campaigns/{campaign.slug}/session/").json()["rated"] == 3
