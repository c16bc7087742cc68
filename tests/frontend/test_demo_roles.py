"""The demo gives every role something to do, expert mode included, and seeding again changes nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import AnnotatorStat, Batch, Campaign, DatasetVersion, ItemFlag, Task
from annotation.selectors.review import review_queue
from annotation.services.assignment import batch_request
from annotation.services.golden import expert_pool

pytestmark = pytest.mark.django_db


def state(campaign):
    return (
        Batch.objects.count(),
        DatasetVersion.objects.count(),
        ItemFlag.objects.count(),
        campaign.items.filter(is_golden=True).count(),
        Task.objects.count(),
    )


def test_every_role_has_work_in_the_demo(tmp_path):
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=io.StringIO())
    campaign = Campaign.objects.get(slug="demo")
    users = {u.username: u for u in get_user_model().objects.all()}
    before = state(campaign)

    # experts: golden items without a score wait for them
    assert expert_pool(campaign=campaign, user=users["expert1"]).count() == 3
    # admins: a batch waiting for review and a flagged item
    assert review_queue(campaign_slug="demo").filter(annotator__username="vendor-hasty").exists()
    flag = ItemFlag.objects.get(status="open")
    assert (flag.annotator.username, flag.reason) == ("annotator2", "broken")
    # researchers: a version made by the mle model from two approved vendors, with their bias figures
    version = DatasetVersion.objects.get(campaign=campaign)
    assert version.method == "mle" and version.counts["annotators"] == 2
    assert set(AnnotatorStat.objects.filter(version=version).values_list("annotator__username", flat=True)) == {
        "vendor-careful",
        "vendor-lenient",
    }
    # annotators: annotator2 is part-way through a batch (one item flagged); annotator1 gets a new one
    open_batch = Batch.objects.get(annotator=users["annotator2"], status="open")
    assert open_batch.tasks.filter(status="skipped").count() == 1
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=io.StringIO())
    assert state(campaign) == before
    batch, created = batch_request(campaign=campaign, user=users["annotator1"])
    assert created and batch.tasks.count() == campaign.batch_size + campaign.golden_per_batch
