"""A REAL Celery worker on the real Redis runs an import queued by `import_items --enqueue`."""

import io

import pytest
from django.core.management import call_command

from annotation.models import Item, Job
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_an_enqueued_import_runs_to_completion_on_a_real_worker(celery_worker, content):
    campaign = CampaignFactory()
    rows = [content.row(f"w{i}") for i in range(4)] + [
        content.row("wv", media_type="video", media_path=content.video("wv.mp4", frames=4, fps=4))
    ]
    out = io.StringIO()
    call_command(
        "import_items", "--campaign", campaign.slug, "--manifest", str(content.csv(rows)), "--enqueue", stdout=out
    )
    job_id = int(out.getvalue().strip().splitlines()[-1])

    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(),
        timeout=90,
        what="the import job",
    )
    assert job.status == "succeeded", job.error
    assert job.total == 10 and job.progress == job.total
    assert job.result["items_created"] == 5 and job.result["videos"] == 1
    assert Item.objects.filter(campaign=campaign).count() == 5
    assert Item.objects.get(campaign=campaign, item_id="wv").fps == pytest.approx(4.0)
