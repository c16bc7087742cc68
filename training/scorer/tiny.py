"""Build a tiny, random Qwen2-VL that loads through the normal ``from_pretrained`` path.

Why: no weights can be downloaded here, yet the tests, the CPU benchmark, the platform's demo
(``make run``) and its Celery test all need a real model directory to fine-tune, save, load and score
with. :func:`build_tiny_model` writes one in a few seconds, deterministically from a seed:

* ``config.json`` + ``model.safetensors``: ``Qwen2VLForConditionalGeneration`` from a small
  ``Qwen2VLConfig`` (2 text layers, hidden 64, vision depth 1);
* ``tokenizer.json`` + ``tokenizer_config.json``: a byte-level BPE built locally with the ``tokenizers``
  library, with the Qwen2-VL special tokens, the five level words as single tokens and Qwen2-VL's own
  chat template (default system prompt, ``<|vision_start|><|image_pad|><|vision_end|>`` placeholders);
* ``preprocessor_config.json``: the Qwen2-VL image-processor settings (small pixel budget).

Command line: ``python -m training.scorer tiny --out DIR [--seed 0]``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .prompts import CONTEXT_PROMPTS, LEVELS

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2-VL-7B-Instruct's chat template (system prompt by default; vision placeholders per content part).
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Small budget so that a 2-core CPU trains in seconds: at most 8x8 patches of 14 px = 16 merged tokens.
TINY_MIN_PIXELS = 28 * 28
TINY_MAX_PIXELS = 112 * 112
# Qwen2-VL's pixel normalisation (CLIP's mean and std)
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)

_CORPUS_EXTRA = (
    "a photo of a red cube on a wooden table, a cat sitting next to a dog in the park at sunset, "
    "an astronaut riding a horse on the moon, blue sky, green grass, two people walking along the beach, "
    "a bowl of fruit with apples and oranges, high quality, blurry, noisy, sharp, detailed, colorful."
)


def _build_tokenizer(vocab_size: int):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    corpus = list(CONTEXT_PROMPTS.values()) * 4 + [_CORPUS_EXTRA] * 4 + [" ".join(LEVELS)] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(SPECIAL_TOKENS),
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    # The level words must each be one token, wherever they appear (the score reads their logits).
    tok.add_tokens([AddedToken(word, single_word=False, normalized=False) for word in LEVELS])
    return tok


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary pairs over (temporal, height, width) like Qwen2-VL's [16, 24, 24] of 64."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def build_tiny_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    vocab_size: int = 600,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 1,
    vision_embed_dim: int = 32,
    patch_size: int = 14,
    vision_init_std: float = 0.02,
    text_init_std: float = 0.02,
) -> Path:
    """Write a tiny random Qwen2-VL (model, tokenizer, chat template, image processor) to ``out_dir``.

    Returns the directory. Loads with ``AutoModelForImageTextToText.from_pretrained(out_dir)`` and
    ``AutoTokenizer.from_pretrained(out_dir)``; takes a few seconds on a CPU; same seed, same weights.
    The size arguments exist for the CPU benchmark; keep ``hidden_size`` a multiple of 16 (4 heads, M-RoPE).
    ``patch_size`` (14 in Qwen2-VL) is written to both the model and the image processor; a small patch makes
    the linear patch embedding see local pixel statistics (what a quality judgement rests on) in a model
    trained from scratch. ``*_init_std`` are the towers' ``initializer_range``.
    """
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    raw = _build_tokenizer(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|endoftext|>", "<|im_end|>")],
        model_max_length=32768,
        padding_side="right",
    )
    tokenizer.chat_template = QWEN2_VL_CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    ids = {t: raw.token_to_id(t) for t in SPECIAL_TOKENS}
    real_vocab = raw.get_vocab_size(with_added_tokens=True)

    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=real_vocab,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            rope_scaling={"type": "mrope", "mrope_section": _mrope_section(hidden_size // 4)},
            rope_theta=10000.0,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            initializer_range=text_init_std,
        ),
        vision_config=dict(
            depth=vision_depth,
            embed_dim=vision_embed_dim,
            hidden_size=hidden_size,
            mlp_ratio=2,
            num_heads=2,
            patch_size=patch_size,
            spatial_merge_size=2,
            temporal_patch_size=2,
            initializer_range=vision_init_std,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)

    image_processor = {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
        "min_pixels": TINY_MIN_PIXELS,
        "max_pixels": TINY_MAX_PIXELS,
        "size": {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS},
        "patch_size": patch_size,
        "temporal_patch_size": 2,
        "merge_size": 2,
    }
    (out / "preprocessor_config.json").write_text(json.dumps(image_processor, indent=2) + "\n")
    (out / "chat_template.jinja").write_text(QWEN2_VL_CHAT_TEMPLATE)
    return out
