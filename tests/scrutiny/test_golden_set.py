"""create_golden_set: stratified by generator and media type, reproducible with a seed, never shrinks a
scored set; growing keeps the members."""

from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import GoldenScore, Item, MediaType
from annotation.services.golden import allocate, golden_set_create
from tests.factories import CampaignFactory, GeneratorFactory, ItemFactory, PromptFactory


@pytest.fixture
def strata_campaign(db):
    """60 sdxl images, 30 flux images, 10 videos: 100 items in three strata."""
    campaign = CampaignFactory()
    prompt = PromptFactory()
    for name, media, n in (("sdxl", MediaType.IMAGE, 60), ("flux", MediaType.IMAGE, 30), ("t2v", MediaType.VIDEO, 10)):
        gen = GeneratorFactory(name=name, media_type=media)
        Item.objects.bulk_create(
            [ItemFactory.build(campaign=campaign, generator=gen, media_type=media, prompt=prompt) for _ in range(n)]
        )
    return campaign


def golden_by_generator(campaign):
    return Counter(Item.objects.filter(campaign=campaign, is_golden=True).values_list("generator__name", flat=True))


def golden_ids(campaign):
    return set(Item.objects.filter(campaign=campaign, is_golden=True).values_list("pk", flat=True))


def test_largest_remainder_allocation_with_one_per_stratum():
    assert allocate([60, 30, 10], 10) == [6, 3, 1]
    assert allocate([50, 30, 20], 7) == [4, 2, 1]  # quotas 3.5 / 2.1 / 1.4: the largest remainder wins
    assert allocate([97, 2, 1], 10) == [8, 1, 1]  # the small strata get one each, taken from the big one
    assert allocate([5, 5, 5], 2) == [1, 1, 0]  # fewer slots than strata: no minimum possible
    assert sum(allocate([13, 7, 3, 1], 11)) == 11


def test_the_sample_is_proportional_per_generator_and_media_type(strata_campaign):
    result = golden_set_create(campaign=strata_campaign, fraction=0.1, seed=3)
    assert golden_by_generator(strata_campaign) == {"sdxl": 6, "flux": 3, "t2v": 1}
    assert result["size"] == 10 and result["seed"] == 3
    assert {(s["generator"], s["media_type"], s["items"], s["golden"]) for s in result["strata"]} == {
        ("sdxl", "image", 60, 6),
        ("flux", "image", 30, 3),
        ("t2v", "video", 10, 1),
    }


def test_the_same_seed_draws_the_same_sample(strata_campaign):
    golden_set_create(campaign=strata_campaign, size=12, seed=42)
    first = golden_ids(strata_campaign)
    Item.objects.filter(campaign=strata_campaign).update(is_golden=False)
    golden_set_create(campaign=strata_campaign, size=12, seed=42)
    assert golden_ids(strata_campaign) == first
    Item.objects.filter(campaign=strata_campaign).update(is_golden=False)
    golden_set_create(campaign=strata_campaign, size=12, seed=43)
    assert golden_ids(strata_campaign) != first


def test_growing_keeps_the_existing_members(strata_campaign):
    golden_set_create(campaign=strata_campaign, size=10, seed=1)
    first = golden_ids(strata_campaign)
    result = golden_set_create(campaign=strata_campaign, size=20, seed=2)
    assert first < golden_ids(strata_campaign) and len(golden_ids(strata_campaign)) == 20
    assert result["added"] == 10
    assert golden_by_generator(strata_campaign) == {"sdxl": 12, "flux": 6, "t2v": 2}


def test_shrinking_a_scored_set_is_refused_in_one_line_and_changes_nothing(strata_campaign, capsys):
    golden_set_create(campaign=strata_campaign, size=10, seed=1)
    first = golden_ids(strata_campaign)
    GoldenScore.objects.create(item_id=min(first), dimension="quality", score=3, source="imported")
    with pytest.raises(CommandError) as exc:
        call_command("create_golden_set", campaign=strata_campaign.slug, size=5)
    assert str(exc.value) == "the golden set has 10 items and golden scores already: refusing to shrink it to 5"
    assert golden_ids(strata_campaign) == first


def test_an_unscored_set_can_be_drawn_again_smaller(strata_campaign):
    golden_set_create(campaign=strata_campaign, size=10, seed=1)
    golden_set_create(campaign=strata_campaign, size=4, seed=1)
    assert len(golden_ids(strata_campaign)) == 4


def test_the_command_prints_a_summary_per_stratum(strata_campaign, capsys):
    call_command("create_golden_set", campaign=strata_campaign.slug, fraction=0.1, seed=5)
    out = capsys.readouterr().out
    assert "sdxl       image     60       6 (+6)" in out
    assert "t2v        video     10       1 (+1)" in out
    assert f"golden set of {strata_campaign.slug}: 10 items (10 added), seed 5" in out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 101}, "--size 101 is larger than the campaign's 100 items"),
        ({"fraction": 1.5}, "--fraction must be in (0, 1] (got 1.5)"),
        ({"size": 0}, "--size must be at least 1 (got 0)"),
    ],
)
def test_bad_sizes_are_refused(strata_campaign, kwargs, message):
    with pytest.raises(CommandError) as exc:
        call_command("create_golden_set", campaign=strata_campaign.slug, **kwargs)
    assert str(exc.value) == message and not golden_ids(strata_campaign)


def test_an_unknown_campaign_is_one_line(db):
    with pytest.raises(CommandError, match="campaign 'nope' does not exist"):
        call_command("create_golden_set", campaign="nope", size=3)
