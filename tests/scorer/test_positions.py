"""Qwen2-VL's M-RoPE position ids computed by the collator (training/scorer/positions.py): the same ids as the
model's own, the same logits with them as without, for images of several sizes, a video and left padding; the
scoring loader and training use them for a Qwen2-VL and leave other models to their own forward."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from training.scorer.data import MediaSettings, ScorerCollator, normalise_record, split_batch  # noqa: E402
from training.scorer.media import write_test_video  # noqa: E402
from training.scorer.modeling import answer_logits, load_scorer  # noqa: E402
from training.scorer.positions import LoaderPositions, loader_positions  # noqa: E402
from training.scorer.predict import scoring_loader  # noqa: E402


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    overrides = {
        "image_min_pixels": 28 * 28,
        "image_max_pixels": 200 * 200,
        "video_fps": 4.0,
        "video_max_pixels": 56 * 56,
        "video_min_pixels": 784,
        "num_workers": 0,
    }
    return load_scorer(tiny_model_dir, device="cpu", overrides=overrides)


@pytest.fixture(scope="module")
def records(tmp_path_factory, noise_pngs):
    root = tmp_path_factory.mktemp("positions")
    out = [
        {"item_id": str(i), "media": str(path), "media_type": "image", "prompt": "a cat " * (1 + 4 * i)}
        for i, path in enumerate(noise_pngs(root, [(56, 56), (168, 112), (84, 140)]))
    ]
    video = write_test_video(root / "clip.mp4", frames=8, fps=8)
    out.append({"item_id": "v", "media": str(video), "media_type": "video", "prompt": "moving colours"})
    return [normalise_record({**r, "dimension": "quality"}) for r in out]


def collate(scorer, records, positions):
    media = MediaSettings.from_config(scorer.config)
    batch = ScorerCollator(scorer.processor, media, positions=positions)(
        [{**r, "index": i} for i, r in enumerate(records)]
    )
    return split_batch(batch)[0]


def test_the_collators_ids_are_the_models_own(scorer, records):
    positions = loader_positions(scorer.model)
    assert isinstance(positions, LoaderPositions)
    inputs = collate(scorer, records, positions)
    assert inputs["attention_mask"].min() == 0  # rows of different lengths: left padding is in the batch
    assert "video_grid_thw" in inputs and "image_grid_thw" in inputs
    expected, _ = scorer.model.model.get_rope_index(
        inputs["input_ids"],
        inputs["mm_token_type_ids"],
        image_grid_thw=inputs["image_grid_thw"],
        video_grid_thw=inputs["video_grid_thw"],
        attention_mask=inputs["attention_mask"],
    )
    assert torch.equal(inputs["position_ids"], expected)


def test_the_same_logits_with_the_collators_ids(scorer, records):
    with_ids = collate(scorer, records, loader_positions(scorer.model))
    without = collate(scorer, records, None)
    assert "position_ids" in with_ids and "position_ids" not in without
    inner = scorer.model.model
    calls = []
    own = inner.get_rope_index
    inner.get_rope_index = lambda *a, **k: calls.append(1) or own(*a, **k)  # counts the forward's own loop
    try:
        with torch.inference_mode():
            given = answer_logits(scorer.model, with_ids)
            assert calls == []  # the forward took the collator's ids: no per-row loop in it
            torch.testing.assert_close(given, answer_logits(scorer.model, without))
            assert calls == [1]
    finally:
        del inner.get_rope_index


def test_scoring_and_training_collate_them_for_qwen2_vl_only(scorer, records):
    loader = scoring_loader(
        scorer.processor, records, scorer.config, 2, "cpu", positions=loader_positions(scorer.model)
    )
    assert all("position_ids" in batch for batch in loader)
    other = SimpleNamespace(config=SimpleNamespace(model_type="qwen2_5_vl"))  # numbers video frames by time
    assert loader_positions(other) is None and loader_positions(object()) is None
    # a loader worker holds it: it must travel to another process
    copy = pickle.loads(pickle.dumps(loader_positions(scorer.model)))
    inputs = collate(scorer, records, None)
    assert torch.equal(copy(inputs), collate(scorer, records, loader_positions(scorer.model))["position_ids"])


def test_a_batch_without_media_is_left_to_the_model():
    assert LoaderPositions(2)({"input_ids": torch.ones(1, 3, dtype=torch.long)}) is None
