"""Coverage: items below target, uncertain items (wide CI), and extra ratings that raise Item.target."""

import pytest
from django.core.management import call_command

from annotation.models import Item
from annotation.services.coverage import coverage_extra_ratings, coverage_summary
from annotation.services.mos import mos_aggregate
from tests.factories import ItemFactory, UserFactory

from .conftest import rate


@pytest.fixture
def spread(db, campaign):
    """campaign target 6 per image, CI threshold 0.5: one item agreed (6 x 4), one disputed (1/5 x 3 each),
    one with a single rating, one unrated."""
    campaign.ci_width_threshold = 0.5
    campaign.max_ratings_per_item = 9
    campaign.save()
    agreed, disputed, single, unrated = (ItemFactory(campaign=campaign) for _ in range(4))
    for k in range(6):
        scores = {agreed: (4, 4), disputed: ((1, 1) if k % 2 else (5, 5))}
        if k == 0:
            scores[single] = (3, 3)
        rate(campaign, UserFactory(), scores)
    return campaign, agreed, disputed, single, unrated


def test_summary_counts_complete_below_target_and_uncertain(spread):
    campaign, agreed, disputed, single, unrated = spread
    summary = coverage_summary(version=mos_aggregate(campaign=campaign))
    # One definition of "item" everywhere: an item with a MOS in the version (as the version and the export).
    assert summary["items"] == 3 == summary["items_scored"]
    assert (summary["campaign_items"], summary["unrated"]) == (4, 1)  # unrated: no MOS yet
    assert summary["items_complete"] == 2  # agreed and disputed have 6 of 6
    assert summary["below_target"] == 1  # single (1 of 6); unrated is counted apart
    assert summary["single_rating"] == 1  # single: no CI yet
    assert summary["uncertain"] == 1  # disputed: CI half-width far above 0.5


def test_extra_ratings_raise_the_target_up_to_the_cap(spread):
    campaign, agreed, disputed, single, unrated = spread
    version = mos_aggregate(campaign=campaign)
    result = coverage_extra_ratings(version=version, step=2)
    assert (result["uncertain"], result["raised"]) == (1, 1)
    targets = dict(Item.objects.values_list("pk", "target"))
    assert targets[disputed.pk] == 8 and targets[agreed.pk] == 6 and targets[single.pk] == 6
    coverage_extra_ratings(version=version, step=2)
    assert Item.objects.get(pk=disputed.pk).target == 9  # capped at max_ratings_per_item
    again = coverage_extra_ratings(version=version, step=2)
    assert (again["raised"], again["at_cap"]) == (0, 1)


def test_raised_items_reenter_the_assignment_pool(spread):
    campaign, agreed, disputed, single, unrated = spread
    Item.objects.filter(campaign=campaign).update(active_count=6)
    version = mos_aggregate(campaign=campaign)
    coverage_extra_ratings(version=version)
    from django.db.models import F

    pool = set(Item.objects.filter(campaign=campaign, active_count__lt=F("target")).values_list("pk", flat=True))
    assert pool == {disputed.pk}


def test_aggregate_command_with_extra_ratings(spread, capsys):
    campaign, agreed, disputed, *_ = spread
    call_command("aggregate_mos", "--campaign", campaign.slug, "--extra-ratings", "--step", "1")
    out = capsys.readouterr().out
    assert "version 1 of" in out and "1 uncertain" in out and "target raised for 1 items" in out
    assert Item.objects.get(pk=disputed.pk).target == 7


def test_aggregate_command_bad_arguments(spread):
    from django.core.management import CommandError

    campaign = spread[0]
    with pytest.raises(CommandError, match="does not exist"):
        call_command("aggregate_mos", "--campaign", "nope")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("aggregate_mos", "--campaign", campaign.slug, "--params", "{oops")
    with pytest.raises(CommandError, match="unknown"):
        call_command("aggregate_mos", "--campaign", campaign.slug, "--method", "mle", "--params", '{"nope": 1}')
    from annotation.models import DatasetVersion, Job

    assert not DatasetVersion.objects.exists() and not Job.objects.exists()
