"""GPU throughput of generation: images/s and videos/min for full-size pipelines, batched vs one at a time.

Why: each generation worker batches prompts (one pipeline call for `batch_size` outputs, one seeded generator per
output) to keep its GPU full. This benchmark puts numbers on that choice, on the same code the workers run
(generation.pipelines.runner.generate_batch), for two full-size pipelines built from their configurations with
random weights (throughput does not depend on the weights; nothing is downloaded):

* image: Stable Diffusion 1.5's architecture (UNet2DConditionModel 860M: blocks 320/640/1280/1280, cross-attention
  768; the SD VAE; a CLIP ViT-L/14 text encoder), DDIM, 512x512, fp16;
* video: ModelScope text-to-video's (UNet3DConditionModel 1.4B: blocks 320/640/1280/1280, cross-attention 1024; the
  SD VAE; an OpenCLIP ViT-H text encoder), 256x256, 16 frames, fp16.

The tokenizer is the tiny pipelines' byte-level CLIP tokenizer (77 tokens, like the real one).

    python benchmarks/generation_gpu.py [--steps 20] [--image-batch 8] [--video-batch 2] [--images 16] [--videos 4]
                                        [--out figures.json]

Without CUDA it says so and exits with status 2. ``--smoke`` runs every step of it on the tiny pipelines on the CPU
(tests/generation/test_benchmark_smoke.py); its figures then say nothing about a GPU and the output says
``"smoke": true``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SD15_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768,
    attention_head_dim=8,
)
SD_VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    sample_size=512,
)
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, projection_dim=768)
MODELSCOPE_UNET = dict(
    sample_size=32,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
    cross_attention_dim=1024,
    attention_head_dim=64,
    norm_num_groups=32,
)
OPENCLIP_H = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_attention_heads=16,
    num_hidden_layers=23,
    projection_dim=1024,
    hidden_act="gelu",
)


def full_size_pipeline(kind: str, dtype):
    """A full-size pipeline with random weights, on the GPU."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        TextToVideoSDPipeline,
        UNet2DConditionModel,
        UNet3DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from generation.pipelines.tiny import tiny_tokenizer

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    text = CLIP_L if kind == "image" else OPENCLIP_H
    encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            **text,
        )
    )
    vae = AutoencoderKL(**SD_VAE)
    pipe: Any
    if kind == "image":
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=encoder,
            tokenizer=tokenizer,
            unet=UNet2DConditionModel(**SD15_UNET),
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    else:
        pipe = TextToVideoSDPipeline(
            vae=vae,
            text_encoder=encoder,
            tokenizer=tokenizer,
            unet=UNet3DConditionModel(**MODELSCOPE_UNET),
            scheduler=scheduler,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cuda", dtype)


def measure(loaded, spec, n: int, batch: int, sync) -> float:
    """Outputs per second over n outputs in batches of `batch` (one warm-up call first, not counted)."""
    from generation.pipelines.runner import generate_batch

    prompts = [f"a photo of object number {i} on a wooden table, soft light" for i in range(n)]
    generate_batch(loaded, spec, prompts[:batch], list(range(batch)))
    sync()
    start = time.perf_counter()
    for i in range(0, n, batch):
        outs = generate_batch(loaded, spec, prompts[i : i + batch], list(range(i, i + len(prompts[i : i + batch]))))
        assert len(outs) == len(prompts[i : i + batch])
    sync()
    return n / (time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--image-batch", type=int, default=8)
    ap.add_argument("--video-batch", type=int, default=2)
    ap.add_argument("--images", type=int, default=16, help="images per measurement")
    ap.add_argument("--videos", type=int, default=4, help="videos per measurement")
    ap.add_argument(
        "--smoke", action="store_true", help="the tiny pipelines on the CPU: checks the script, measures no GPU"
    )
    ap.add_argument("--out", type=Path, help="also write the JSON figures here")
    args = ap.parse_args(argv)
    for name in ("steps", "image_batch", "video_batch", "images", "videos"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")

    import torch

    if not args.smoke and not torch.cuda.is_available():
        print(
            "generation_gpu: no CUDA device here; this benchmark needs a GPU (it builds full-size SD 1.5 and "
            "ModelScope text-to-video pipelines). Nothing was measured.",
            file=sys.stderr,
        )
        return 2
    import tempfile

    from generation.pipelines.runner import Loaded, load_pipeline
    from generation.pipelines.spec import build_spec

    results: dict = {"smoke": args.smoke, "steps": args.steps}
    if args.smoke:
        sync = lambda: None  # noqa: E731
        root = tempfile.mkdtemp(prefix="gen-bench-")
        specs = {k: build_spec(model="", tiny=k, params={"steps": args.steps}) for k in ("image", "video")}
        loaders = {k: (lambda k=k: load_pipeline(specs[k], tiny_root=root, device="cpu")) for k in specs}
        results["device"] = "cpu"
    else:
        sync = torch.cuda.synchronize
        specs = {
            "image": build_spec(
                model="sd15-architecture",
                params={"steps": args.steps, "width": 512, "height": 512, "pipeline_class": "StableDiffusionPipeline"},
            ),
            "video": build_spec(
                model="modelscope-t2v-architecture",
                params={
                    "steps": args.steps,
                    "width": 256,
                    "height": 256,
                    "num_frames": 16,
                    "fps": 8,
                    "pipeline_class": "TextToVideoSDPipeline",
                },
            ),
        }
        loaders = {
            k: (lambda k=k: Loaded(pipe=full_size_pipeline(k, torch.float16), device="cuda", dtype="float16"))
            for k in specs
        }
        results["device"] = f"cuda ({torch.cuda.get_device_name(0)})"
    for kind, n, batch in (("image", args.images, args.image_batch), ("video", args.videos, args.video_batch)):
        loaded = loaders[kind]()
        one = measure(loaded, specs[kind], n, 1, sync)
        many = measure(loaded, specs[kind], n, batch, sync)
        scale, unit = (1.0, "per_s") if kind == "image" else (60.0, "per_min")
        results[f"{kind}s_{unit}_one_at_a_time"] = round(one * scale, 4)
        results[f"{kind}s_{unit}_batched"] = round(many * scale, 4)
        results[f"{kind}_batch"] = batch
        results[f"{kind}_batched_speedup"] = round(many / one, 3)
        if not args.smoke:
            results[f"{kind}_peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            del loaded
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
