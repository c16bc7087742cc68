"""Fixtures of the training platform tests: a tiny model (built once per session), a small rated
dataset version (real PNGs in default storage, approved batches, aggregated by the MOS service), and a
small training config that runs in seconds on a CPU."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import GeneratorFactory, ItemFactory, PromptFactory, UserFactory, make_png

TINY_TRAIN_CONFIG = {
    "finetune": "full",
    "epochs": 1,
    "max_steps": 2,
    "batch_size": 4,
    "eval_batch_size": 8,
    "logging_steps": 1,
    "eval_plots": False,
    "learning_rate": 0.001,
    "warmup_ratio": 0.0,
}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from training.scorer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def tiny_config(tiny_model_dir):
    return {**TINY_TRAIN_CONFIG, "model_name_or_path": str(tiny_model_dir)}


def make_rated_version(campaign, *, n_items: int = 10, n_annotators: int = 3):
    """A DatasetVersion over `n_items` real images, each rated by every annotator in approved batches."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotation.models import Batch, Rating
    from annotation.services.mos import mos_aggregate

    gens = [GeneratorFactory(name=f"tp-gen-{k}") for k in range(3)]
    items: list[Any] = []
    for i in range(n_items):
        shade = int(20 + 220 * i / max(1, n_items - 1))
        name = default_storage.save(
            f"tp/{campaign.slug}/img-{i}.png", ContentFile(make_png(48, 40, (shade, 255 - shade, 90)))
        )
        prompt = PromptFactory(text=f"{campaign.slug} a plain colour field number {i}")
        items.append(
            ItemFactory(
                campaign=campaign, media=name, generator=gens[i % 3], prompt=prompt, item_id=f"{campaign.slug}-img-{i}"
            )
        )
    for a in range(n_annotators):
        user: Any = UserFactory(role="annotator")
        batch = Batch.objects.create(
            campaign=campaign, annotator=user, status=Batch.Status.CLOSED, decision=Batch.Decision.APPROVED
        )
        Rating.objects.bulk_create(
            [
                Rating(annotator=user, item=item, batch=batch, quality=1 + (i + a) % 5, alignment=1 + (2 * i + a) % 5)
                for i, item in enumerate(items)
            ]
        )
    return mos_aggregate(campaign=campaign)


@pytest.fixture
def rated_version(campaign):
    return make_rated_version(campaign)
