"""Helpers of the MOS/export tests: hand-made ratings in closed batches with a chosen decision."""

from __future__ import annotations

import pytest

from annotation.models import Batch, Rating
from tests.factories import GeneratorFactory, ItemFactory, PromptFactory, UserFactory


def rate(campaign, annotator, scores: dict, *, decision="approved", kind="annotation") -> Batch:
    """One closed batch of `annotator` with ratings {item: (quality, alignment)}."""
    batch = Batch.objects.create(campaign=campaign, annotator=annotator, kind=kind, status="closed", decision=decision)
    Rating.objects.bulk_create(
        Rating(annotator=annotator, item=item, batch=batch, quality=q, alignment=a) for item, (q, a) in scores.items()
    )
    return batch


@pytest.fixture
def rated(db, campaign):
    """3 items x 4 annotators, approved, with known scores; plus excluded ratings of every other kind.

    Returns (campaign, items, annotators, table) where table[item_index] lists the counted
    (quality, alignment) ratings.
    """
    gen_a = GeneratorFactory(name="gen-a")
    gen_b = GeneratorFactory(name="gen-b")
    items = [
        ItemFactory(campaign=campaign, generator=gen_a, prompt=PromptFactory(text="a red cube on a table")),
        ItemFactory(campaign=campaign, generator=gen_b, prompt=PromptFactory(text="a blue sphere in the sky")),
        ItemFactory(campaign=campaign, generator=gen_a, prompt=PromptFactory(text="two cats playing chess")),
    ]
    annotators = [UserFactory(role="annotator") for _ in range(4)]
    table = {
        0: [(5, 4), (4, 4), (5, 3), (4, 5)],
        1: [(1, 2), (2, 1), (1, 1), (3, 2)],
        2: [(3, 3), (3, 4), (2, 3), (4, 2)],
    }
    for k, ann in enumerate(annotators):
        rate(campaign, ann, {items[i]: table[i][k] for i in range(3)})
    # Ratings that must NOT count: rejected, needs_review, pending batches and an expert batch.
    for decision, kind in (
        ("rejected", "annotation"),
        ("needs_review", "annotation"),
        ("pending", "annotation"),
        ("approved", "expert"),
    ):
        other = UserFactory(role="annotator")
        rate(campaign, other, {item: (1, 1) for item in items}, decision=decision, kind=kind)
    return campaign, items, annotators, table


def write_media(item, color=(200, 30, 30)) -> None:
    """Put a real PNG at the item's media path in the test media storage."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import make_png

    if default_storage.exists(item.media.name):
        default_storage.delete(item.media.name)
    default_storage.save(item.media.name, ContentFile(make_png(color=color)))


@pytest.fixture
def version(rated):
    """The `rated` campaign aggregated (mean), with real media files for its items."""
    from annotation.services.mos import mos_aggregate

    campaign, items, annotators, table = rated
    for k, item in enumerate(items):
        write_media(item, color=(40 * k, 80, 120))
    return mos_aggregate(campaign=campaign)
