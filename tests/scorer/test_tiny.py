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
    text = tok.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
                                   tokenize=False, add_generation_prompt=True)
    assert "<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>" in text and text.endswith("assistant\n")
    assert AutoImageProcessor.from_pretrained(str(tiny_model_dir)).merge_size == 2


def test_deterministic_and_cli(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    proc = subprocess.run([sys.executable, "-m", "training.scorer", "tiny", "--out", str(tmp_path / "t")],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    a = load_file(str(tiny_model_dir / "model.safetensors"))
    b = load_file(str(tmp_path / "t" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
