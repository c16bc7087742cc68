"""Tiny randomly initialised diffusers pipelines, built from configs on the CPU in a second or two.

Why: no weights can be downloaded here, yet the tests, the demo and the CPU path of the GPU benchmark need
real pipelines that load through ``from_pretrained`` and draw real (noise) images and videos through the
same code a GPU worker runs. :func:`build_tiny_pipeline` writes one into a folder, deterministically from a
seed:

* image: ``StableDiffusionPipeline`` (UNet2DConditionModel with 2 blocks of 4/8 channels, a 2-block
  AutoencoderKL, a 2-layer CLIP text encoder, DDIM), no safety checker;
* video: ``TextToVideoSDPipeline`` (UNet3DConditionModel, a 1-block AutoencoderKL, the same text side);
* tokenizer: a byte-level CLIP BPE written here (every byte as a token, no merges), so any prompt
  tokenizes without a vocabulary download.

The configs follow diffusers' own test components for these pipelines.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .spec import IMAGE, VIDEO

TINY_VERSION = 1  # bump when the configs change: workers rebuild folders of an older version
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values (the byte-level BPE alphabet)."""
    keep = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars, extra = dict((b, chr(b)) for b in keep), 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tiny_tokenizer():
    """A CLIPTokenizer whose vocabulary is every byte, alone and at a word's end (514 tokens)."""
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    vocab = [BOS, EOS] + chars + [c + "</w>" for c in chars]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=[], model_max_length=77)


def _text_encoder(hidden: int, heads: int, vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_attention_heads=heads,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        max_position_embeddings=77,
        layer_norm_eps=1e-5,
        hidden_act="gelu",
        projection_dim=hidden,
    )
    return CLIPTextModel(config).eval()


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build_tiny_pipeline(kind: str, *, seed: int = 0):
    """The tiny pipeline object (not saved). kind: "image" or "video"."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    if kind == IMAGE:
        from diffusers import StableDiffusionPipeline, UNet2DConditionModel

        unet = UNet2DConditionModel(
            block_out_channels=(4, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=2,
        )
        vae = AutoencoderKL(
            block_out_channels=[4, 8],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
            latent_channels=4,
            norm_num_groups=2,
        )
        return StableDiffusionPipeline(
            vae=vae,
            text_encoder=_text_encoder(32, 4, len(tokenizer)),
            tokenizer=tokenizer,
            unet=unet,
            scheduler=_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    if kind == VIDEO:
        from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

        video_unet = UNet3DConditionModel(
            block_out_channels=(8, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
            up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=8,
            attention_head_dim=4,
            norm_num_groups=2,
        )
        vae = AutoencoderKL(
            block_out_channels=(8,),
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D"],
            latent_channels=4,
            sample_size=32,
            norm_num_groups=2,
        )
        return TextToVideoSDPipeline(
            vae=vae,
            text_encoder=_text_encoder(8, 2, len(tokenizer)),
            tokenizer=tokenizer,
            unet=video_unet,
            scheduler=_scheduler(),
        )
    raise ValueError(f"tiny pipelines are {IMAGE!r} or {VIDEO!r}, got {kind!r}")


def save_tiny_pipeline(kind: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny pipeline to `out_dir` (diffusers layout: model_index.json + one folder per component).

    Written into a hidden sibling folder first and renamed into place, so a worker that reads the folder
    while another builds it never sees half a pipeline.
    """
    out = Path(out_dir)
    if (out / "model_index.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    build_tiny_pipeline(kind, seed=seed).save_pretrained(tmp)
    (tmp / "tiny.json").write_text(json.dumps({"kind": kind, "seed": seed, "version": TINY_VERSION}))
    try:
        os.rename(tmp, out)
    except OSError:  # another process renamed its copy first: theirs is as good
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


def tiny_dir(root: str | Path, kind: str) -> Path:
    """Where the tiny pipeline of `kind` lives under a cache root (versioned)."""
    return Path(root) / f"tiny-{kind}-v{TINY_VERSION}"
