"""The CPU scorer benchmark's dataset: held-out photos never train, MOS follows the distortion only, and the
content augmentation touches training crops alone (what makes its held-out SRCC an honest figure)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skimage")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scorer_learns as sl  # noqa: E402


def _records(export: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(export.glob("sft_*.jsonl")) for line in f.read_text().splitlines()]


def test_held_out_photos_never_train_and_mos_is_five_minus_level(tmp_path):
    export, held_out = sl.build_dataset(
        tmp_path,
        size=28,
        train_crops=3,
        test_crops=2,
        test_photos=4,
        seed=0,
        colour_jitter=1.0,
        tone_jitter=1.0,
        extra_photos=2,
    )
    records = _records(export)
    photo = {r["item_id"]: r["item_id"].split(f"_{r['split']}")[0] for r in records}
    by_split: dict[str, set] = {}
    for r in records:
        by_split.setdefault(r["split"], set()).add(photo[r["item_id"]])
    assert len(held_out) == 4 and by_split["test"] == set(held_out)
    assert not by_split["train"] & set(held_out) and not by_split["val"] & set(held_out)
    assert {"motorcycle", "grace_hopper"} <= by_split["train"] and "clock" not in set(photo.values())
    assert len(by_split["train"]) == len(sl.PHOTOS) - 4 + 2
    for r in records:
        level = int(r["item_id"].rsplit("_", 1)[1])  # <photo>_<split><n>_<kind>_<level>
        assert r["mos"] == 5.0 - level


def test_content_jitter_changes_colour_and_tone_and_is_off_at_zero():
    from PIL import Image

    patch = sl.load_photo("astronaut").crop((100, 100, 164, 164))
    base = np.asarray(patch, dtype=np.float32)

    def jitter(**shares):
        return np.asarray(sl.content_jitter(patch, np.random.default_rng(3), **shares), dtype=np.float32)

    assert np.array_equal(jitter(), base) and np.array_equal(jitter(colour_jitter=0.0, tone_jitter=0.0), base)
    toned, coloured = jitter(tone_jitter=1.0), jitter(colour_jitter=1.0)
    assert toned.shape == coloured.shape == base.shape
    # tone moves brightness/contrast; colour moves the channels against each other
    assert abs(toned.mean() - base.mean()) > 1 or abs(toned.std() - base.std()) > 1
    spread = lambda a: np.abs(a - a.mean(axis=2, keepdims=True)).mean()  # noqa: E731
    assert abs(spread(coloured) - spread(base)) > 1
    assert isinstance(sl.content_jitter(patch, np.random.default_rng(0), tone_jitter=1.0), Image.Image)


def test_invisible_distortions_are_drawn_again():
    """A flat crop looks the same blurred or JPEG-compressed: with the visibility rule those versions never carry
    MOS 5 - level; noise stays visible on it. Off (0), they come through with their level."""
    from PIL import Image

    flat = Image.new("RGB", (200, 200), (128, 128, 128))

    def kinds(invisible_psnr, **kw):
        rng = np.random.default_rng(0)
        return {
            k
            for _ in range(60)
            for k, _lvl, _im in sl._random_items(
                flat, rng, size=28, min_frac=0.2, max_frac=0.9, paired=False, invisible_psnr=invisible_psnr, **kw
            )
        }

    assert kinds(40.0) == {"pristine", "noise"}
    assert kinds(0.0) == {"pristine", "noise", "blur", "jpeg"}
    paired = sl._random_items(
        flat, np.random.default_rng(0), size=28, min_frac=0.2, max_frac=0.9, paired=True, invisible_psnr=40.0
    )
    assert [k for k, _, _ in paired] == ["pristine"] + ["noise"] * 4
    assert sl.psnr(flat, flat) == float("inf")
    with pytest.raises(SystemExit) as err:
        sl.main(["--invisible-psnr", "20"])  # would drop plainly visible noise
    assert err.value.code == 2
