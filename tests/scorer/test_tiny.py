"""The tiny model builder: normal from_pretrained path, deterministic, level words and special tokens."""

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]


def test_loads_through_auto_classes(tiny_model_dir):
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    model = AutoModelForImageTextToText.from_pretrained(str(tiny_model_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    for t in ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"):
        assert tok.convert_tokens_to_ids(t) is not None and tok.convert_tokens_to_ids(t) != tok.unk_token_id
    assert model.config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    text = tok.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert "<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>" in text and text.endswith("assistant\n")
    assert AutoImageProcessor.from_pretrained(str(tiny_model_dir)).merge_size == 2


def test_deterministic_and_cli(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    proc = subprocess.run(
        [sys.executable, "-m", "training.scorer", "tiny", "--out", str(tmp_path / "t")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    a = load_file(str(tiny_model_dir / "model.safetensors"))
    b = load_file(str(tmp_path / "t" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_patch_size_and_init_options_reach_model_processor_and_collator(tmp_path):
    """The CPU benchmark's small-patch, larger-init model: one patch size in the model and the image processor,
    the collator resizes video frames to that patch x merge, and an image + a video run through the model."""
    import numpy as np
    from PIL import Image
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from training.scorer.data import MediaSettings, ScorerCollator
    from training.scorer.media import write_test_video
    from training.scorer.modeling import answer_logits
    from training.scorer.processing import load_processor
    from training.scorer.tiny import build_tiny_model

    out = build_tiny_model(
        tmp_path / "m", patch_size=4, vision_init_std=0.2, text_init_std=0.05, vision_depth=1, vision_embed_dim=32
    )
    cfg = AutoConfig.from_pretrained(str(out))
    assert cfg.vision_config.patch_size == 4
    weights = load_file(str(out / "model.safetensors"))
    patch = next(v for k, v in weights.items() if k.endswith("patch_embed.proj.weight"))
    q = next(v for k, v in weights.items() if k.endswith("layers.0.self_attn.q_proj.weight"))
    assert patch.shape[-1] == 4 and abs(patch.float().std().item() - 0.2) < 0.02
    assert abs(q.float().std().item() - 0.05) < 0.005

    proc = load_processor(out)
    assert proc.resize_factor == 8  # 4 px patch x merge 2, whichever processor loads
    collator = ScorerCollator(
        proc, MediaSettings(video_fps=4.0, video_min_pixels=16 * 16, video_max_pixels=36 * 36, video_max_frames=2)
    )
    assert collator.factor == 8
    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(img)
    recs = [
        {"media": str(img), "media_type": "image", "user_text": "<image>rate this", "mos": 3.0, "level": "Fair"},
        {
            "media": str(write_test_video(tmp_path / "v.mp4", frames=8, fps=8, seed=0)),
            "media_type": "video",
            "user_text": "<video>rate",
            "mos": 4.0,
            "level": "Good",
        },
    ]
    batch = collator(recs)
    assert batch["image_grid_thw"][0].tolist() == [1, 14, 14]  # 56 px / 4 px patches
    assert batch["pixel_values"].shape == (14 * 14, 3 * 2 * 4 * 4)
    h, w = batch["video_grid_thw"][0].tolist()[1:]
    assert h * 4 * w * 4 <= 36 * 36 and h % 2 == 0 and w % 2 == 0 and h * w > 4  # sides multiples of 8 px, not 28
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(str(out)).eval()
    with torch.no_grad():
        logits = answer_logits(model, {k: v for k, v in batch.items() if k not in ("index", "mos", "target_level")})
    assert logits.shape[0] == 2 and torch.isfinite(logits).all()
