"""seed_demo gives the demo a golden set with imported golden scores, once, so demo batches are scrutinized."""

import io

import pytest
from django.core.management import call_command

from annotation.models import Campaign, GoldenScore, Item

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_scored_golden_set_and_seeding_again_changes_nothing(tmp_path):
    out = io.StringIO()
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=out)
    campaign = Campaign.objects.get(slug="demo")
    golden = Item.objects.filter(campaign=campaign, is_golden=True)
    scored = golden.filter(golden_scores__source="imported").distinct()
    assert scored.count() == 7  # 25% of 28, at least one per generator and media type
    assert len(set(scored.values_list("generator__name", flat=True))) == 6
    assert golden.count() == 10  # and three more without a score: work for expert mode
    assert GoldenScore.objects.filter(item__campaign=campaign, source="imported").count() == 14
    best = GoldenScore.objects.filter(item__generator__name="sharpdiff-xl", dimension="quality").first()
    worst = GoldenScore.objects.filter(item__generator__name="noisegen-0.3", dimension="alignment").first()
    assert (best.score, worst.score) == (4.6, 1.8)  # best generator, and a wrong-colour one
    assert campaign.golden_per_batch == 4 and "demo golden set: 7 items" in out.getvalue()
    before = sorted(GoldenScore.objects.values_list("item_id", "dimension", "score"))
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=io.StringIO())
    assert sorted(GoldenScore.objects.values_list("item_id", "dimension", "score")) == before
    assert golden.count() == 10
