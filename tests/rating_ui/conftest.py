"""Fixtures for the rating UI tests: a campaign with real media files in default storage."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation import models as m
from tests.factories import CampaignFactory, GeneratorFactory, ItemFactory, make_mp4, make_png


def store(name: str, data: bytes) -> str:
    """Save bytes in default storage (the test run's temp MEDIA_ROOT); returns the stored name."""
    return default_storage.save(name, ContentFile(data))


@pytest.fixture
def media_campaign(tmp_path):
    """`media_campaign(images=3, videos=1, **campaign_fields)` -> a campaign whose items have real files
    (PNG images of different colours, tiny 2-second MP4 videos), two dimensions, no golden slots."""

    def _make(*, images: int = 3, videos: int = 1, **fields):
        fields = {"batch_size": 4, "golden_per_batch": 0, **fields}
        campaign = CampaignFactory(**fields)
        image_gen = GeneratorFactory(name="img-gen", media_type=m.MediaType.IMAGE)
        video_gen = GeneratorFactory(name="vid-gen", media_type=m.MediaType.VIDEO)
        items = []
        for i in range(images):
            name = store(f"media/{campaign.slug}-img{i}.png", make_png(320, 200, color=(40 * i % 255, 120, 200)))
            items.append(ItemFactory(campaign=campaign, generator=image_gen, media=name, width=320, height=200))
        for i in range(videos):
            path = tmp_path / f"v{i}.mp4"
            make_mp4(path, frames=8, fps=4, size=(64, 48))
            name = store(f"media/{campaign.slug}-vid{i}.mp4", path.read_bytes())
            items.append(
                ItemFactory(
                    campaign=campaign,
                    generator=video_gen,
                    media=name,
                    media_type=m.MediaType.VIDEO,
                    width=64,
                    height=48,
                    duration=2.0,
                    fps=4.0,
                )
            )
        return campaign, items

    return _make
