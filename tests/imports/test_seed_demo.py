"""seed_demo: logins, the demo campaign and its synthetic content, imported through the import service."""

import io

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from PIL import Image

from annotation.models import Campaign, Item, Job

pytestmark = pytest.mark.django_db


def test_seed_demo_imports_images_and_videos_of_different_quality_and_is_idempotent(tmp_path):
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=io.StringIO())
    campaign = Campaign.objects.get(slug="demo")
    items = Item.objects.filter(campaign=campaign).select_related("generator", "prompt")
    images = [i for i in items if i.media_type == "image"]
    videos = [i for i in items if i.media_type == "video"]
    assert len(images) == 24 and len(videos) == 4
    assert len({i.generator.name for i in images}) == 4 and len({i.generator.name for i in videos}) == 2
    assert all(v.duration == pytest.approx(2.0, abs=0.3) and v.fps == pytest.approx(8.0) for v in videos)
    assert sum(i.prompt.word_count > 25 for i in images) >= 2 * 4
    assert {"Entity Generation", "Entity Attribute Generation", "Interaction Ability"} <= {
        i.prompt.category for i in items
    }
    assert (tmp_path / "demo" / "manifest.csv").exists()
    assert Job.objects.get(kind="import_items", campaign=campaign).status == "succeeded"

    # Quality differs visibly: PSNR against the best generator's image falls level by level.
    def pixels(generator: str) -> np.ndarray:
        item = next(i for i in images if i.generator.name == generator and i.item_id.startswith("demo-img-0-"))
        with Image.open(settings.MEDIA_ROOT / item.media.name) as img:
            return np.asarray(img.convert("RGB"), dtype=np.float64)

    reference = pixels("sharpdiff-xl")
    psnr = [
        10 * np.log10(255**2 / np.mean((pixels(g) - reference) ** 2))
        for g in ("pixelmuse-2", "softframe-1.5", "noisegen-0.3")
    ]
    assert psnr[0] > psnr[1] > psnr[2] and psnr[0] - psnr[2] > 10, psnr

    out = io.StringIO()
    call_command("seed_demo", "--content-dir", str(tmp_path / "demo"), stdout=out)
    assert Item.objects.filter(campaign=campaign).count() == 28
    assert Job.objects.filter(kind="import_items").count() == 1
    assert "demo content" not in out.getvalue()
