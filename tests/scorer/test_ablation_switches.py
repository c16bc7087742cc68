"""Switches for the paper's ablations and for parity with the released inference script:
``media_tag`` (infer.py sends the literal <image> tag after the media part), ``prompt_style`` (Table 4
"without context prompt"), checked through Qwen2-VL's own chat template on the tiny model."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.scorer.config import ConfigError, ScorerConfig  # noqa: E402
from training.scorer.prompts import PLAIN_PROMPTS, context_prompt  # noqa: E402

PROMPT = "A zigzag path leading to a circular fountain."


def _infer_py_messages(media_type: str, text: str) -> list[dict]:
    """The message structure of zzc-1998/Q-Eval utils/infer.py: the media part, then the text with its tag."""
    media = (
        {"type": "image", "image": "test.png"}
        if media_type == "image"
        else {"type": "video", "video": "0ad3d439_88.mp4", "max_pixels": 100352, "fps": 8}
    )
    return [{"role": "user", "content": [media, {"type": "text", "text": text}]}]


@pytest.mark.parametrize("media_type", ["image", "video"])
def test_media_tag_keep_renders_exactly_like_infer_py(tiny_model_dir, media_type):
    from training.scorer.processing import load_fallback_processor

    proc = load_fallback_processor(tiny_model_dir)
    user = context_prompt(media_type=media_type, dimension="alignment", prompt=PROMPT)
    strip = proc.render(user, media_type)
    keep = proc.render(user, media_type, media_tag="keep")
    infer_py = proc.tokenizer.apply_chat_template(
        _infer_py_messages(media_type, user), tokenize=False, add_generation_prompt=True
    )
    assert keep == infer_py
    pad = "<|image_pad|>" if media_type == "image" else "<|video_pad|>"
    tag = f"<{media_type}>"
    # the only difference: the literal tag right after the vision block
    assert keep == strip.replace(f"{pad}<|vision_end|>Suppose", f"{pad}<|vision_end|>{tag}Suppose")
    assert f"<|vision_end|>{tag}Suppose you are an expert" in keep and tag not in strip
    ids_keep = proc.tokenizer(keep, add_special_tokens=False)["input_ids"]
    ids_strip = proc.tokenizer(strip, add_special_tokens=False)["input_ids"]
    assert len(ids_keep) > len(ids_strip)


def test_plain_prompt_style_replaces_the_context(tiny_model_dir, export_dir):
    from training.scorer.data import MediaSettings, ScorerCollator, read_records
    from training.scorer.processing import load_fallback_processor

    proc = load_fallback_processor(tiny_model_dir)
    rec = next(
        r for r in read_records(export_dir, "train") if r["media_type"] == "image" and r["dimension"] == "alignment"
    )
    plain = ScorerCollator(proc, MediaSettings(prompt_style="plain")).user_text(rec)
    assert plain == PLAIN_PROMPTS[("image", "alignment")].replace("{prompt}", rec["prompt"])
    assert "Suppose you are an expert" not in plain and rec["prompt"] in plain
    assert ScorerCollator(proc, MediaSettings()).user_text(rec) == rec["user_text"]  # context: the export's text
    assert (
        context_prompt(media_type="video", dimension="quality", prompt="x", style="plain")
        == "<video>How would you rate the quality of this video?"
    )
    with pytest.raises(ValueError):
        context_prompt(media_type="image", dimension="quality", prompt="x", style="terse")


def test_switches_change_the_model_input_and_the_scores(tiny_model_dir, tmp_path):
    from PIL import Image

    from training.scorer.modeling import load_scorer
    from training.scorer.predict import score_items

    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(img)
    scorer = load_scorer(tiny_model_dir, device="cpu")
    item = [{"media": str(img), "prompt": PROMPT}]
    base = score_items(scorer, item)[0]
    keep = score_items(scorer, item, overrides={"media_tag": "keep"})[0]
    plain = score_items(scorer, item, overrides={"prompt_style": "plain"})[0]
    for other in (keep, plain):
        assert 1 <= other["quality"] <= 5 and 1 <= other["alignment"] <= 5
        assert other["alignment"] != pytest.approx(base["alignment"], abs=1e-7)


def test_new_settings_are_validated():
    for bad in (
        {"prompt_style": "short"},
        {"media_tag": "drop"},
        {"video_sampler": "uniform"},
        {"image_resize": "none"},
        {"v2s_rewriter": "gpt"},
        {"video_min_frames": 1},
    ):
        with pytest.raises(ConfigError):
            ScorerConfig.from_dict(bad)
    cfg = ScorerConfig()
    assert (cfg.prompt_style, cfg.media_tag, cfg.video_sampler, cfg.video_max_frames, cfg.v2s_preset) == (
        "context",
        "strip",
        "qwen-vl-utils",
        768,
        "paper",
    )
