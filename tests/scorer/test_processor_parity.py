"""The Qwen2-VL fallback processor against the real ``Qwen2VLProcessor``: same tokens, pixels and scores.

Why: on this machine's CPU torch, ``Qwen2VLProcessor`` cannot load (its video processor needs torchvision),
so every other scorer test runs the fallback. On a GPU box the real processor runs. This test holds the two to
the same output wherever both load; it runs in an environment with torchvision, for example
``pip install torch==2.14.1 torchvision==0.29.1`` in a side venv (README, "The scorer"), and skips elsewhere.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _real_processor_or_skip(model_dir):
    from training.scorer.processing import HFProcessorAdapter, load_processor

    proc = load_processor(model_dir)
    if not isinstance(proc, HFProcessorAdapter):
        pytest.skip(
            "Qwen2VLProcessor does not load here (it needs torchvision, which the CPU torch 2.13.0 "
            "cannot have beside it): the fallback is the only processor in this environment"
        )
    return proc


def test_fallback_matches_real_qwen2vl_processor(tiny_model_dir):
    from PIL import Image
    from transformers import AutoModelForImageTextToText

    from training.scorer.modeling import answer_logits
    from training.scorer.processing import load_fallback_processor

    real = _real_processor_or_skip(tiny_model_dir)
    fallback = load_fallback_processor(tiny_model_dir)
    assert real.resize_factor == fallback.resize_factor == 28

    rng = np.random.default_rng(0)
    # a 56x56 image needs no resize; a 90x120 one is resized (PIL in the fallback, torchvision in the real one);
    # the video's frames are already multiples of 28, as the collator hands them over
    images = [
        Image.fromarray(rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)),
    ]
    videos = [rng.integers(0, 256, (4, 56, 84, 3), dtype=np.uint8)]
    prompts = [
        ("<image>How would you rate the quality of this image?", "image"),
        ("<image>A red cube.", "image"),
        ("<video>A dog running on a beach.", "video"),
    ]
    texts = [real.render(text, media) for text, media in prompts]
    assert texts == [fallback.render(text, media) for text, media in prompts]

    a, b = real(texts, images, videos), fallback(texts, images, videos)
    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "image_grid_thw", "video_grid_thw"):
        assert torch.equal(a[key], b[key]), key
    assert torch.allclose(a["pixel_values_videos"], b["pixel_values_videos"], atol=1e-5)
    first = int(a["image_grid_thw"][0].prod())  # patches of the unresized image come first
    assert torch.allclose(a["pixel_values"][:first], b["pixel_values"][:first], atol=1e-5)
    # the resized image differs only by the two libraries' bicubic kernels
    assert (a["pixel_values"][first:] - b["pixel_values"][first:]).abs().max() < 0.05

    model = AutoModelForImageTextToText.from_pretrained(str(tiny_model_dir)).eval()
    with torch.no_grad():
        la, lb = answer_logits(model, dict(a)), answer_logits(model, dict(b))
    assert torch.allclose(la[[0, 2]], lb[[0, 2]], atol=1e-4)
    assert torch.allclose(la[1], lb[1], atol=1e-2)
