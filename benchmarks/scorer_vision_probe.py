"""How much can the tiny Qwen2-VL vision tower alone learn about distortion? A fast probe for scorer_learns.py.

Why: the full scorer benchmark takes ~10 minutes per try. This trains only the vision tower (the same
Qwen2-VL vision transformer, built from a config, with the patch size, width, depth and init under test),
mean-pooled over its merged tokens and a linear head, with MSE on the MOS, on the same photographs, crops,
distortions and content augmentation (held-out photos chosen by the same seeded shuffle; the benchmark's
training-only images with ``--extra-photos``), and prints held-out SRCC per photo and overall every 250 steps.
It decided the 4 px patch of the benchmark's tiny model and its content augmentation (figures measured on the
14-photo set that still held ``clock``; seed 0, 3000 steps, 400 held-out crops for the last three):

    .venv/bin/python benchmarks/scorer_vision_probe.py --patch 14 --std 0.02   # held-out SRCC ~0.1
    .venv/bin/python benchmarks/scorer_vision_probe.py --patch 7 --std 0.2     # ~0.3-0.45
    .venv/bin/python benchmarks/scorer_vision_probe.py --patch 4 --std 0.2     # ~0.74-0.81 in 6 min
    P="benchmarks/scorer_vision_probe.py --test-crops 100 --extra-photos 2 --steps 3000 --seconds 1500"
    .venv/bin/python $P                                                        # 0.724
    .venv/bin/python $P --colour-jitter 0.5                                    # 0.818
    .venv/bin/python $P --colour-jitter 0.5 --tone-jitter 0.5                  # 0.877 (seed 1: 0.847 vs 0.793)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scorer_learns as sl  # noqa: E402  (same photos, crops and distortions)


def luminance_noise(im: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    arr: np.ndarray = np.asarray(im, dtype=np.float32)
    arr = arr + rng.normal(0, (8, 18, 32, 55)[level - 1], arr.shape[:2])[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def patchify(images: list[np.ndarray], p: int, merge: int = 2):
    """(N,H,W,3) uint8 -> (N, patches, 3*2*p*p) with Qwen2-VL's own image processor (an image is 2 equal frames)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from training.scorer.tiny import IMAGE_MEAN, IMAGE_STD  # the tiny builder's normalisation (CLIP's)

    ip = Qwen2VLImageProcessorPil(
        patch_size=p,
        merge_size=merge,
        temporal_patch_size=2,
        do_resize=False,
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
    )
    out = ip(images=images, return_tensors="pt")
    _, gh, gw = out["image_grid_thw"][0].tolist()
    return out["pixel_values"].reshape(len(images), gh * gw, -1), (gh, gw)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--std", type=float, default=0.2, help="initializer_range")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--seconds", type=float, default=360)
    ap.add_argument("--crops", type=int, default=400, help="crops per training photo")
    ap.add_argument("--grey", action="store_true", help="all photos as grey")
    ap.add_argument("--luminance-noise", action="store_true", help="noise equal in the three channels")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--test-crops", type=int, default=40, help="crops per held-out photo")
    ap.add_argument("--colour-jitter", type=float, default=0.0, help="as scorer_learns.py's")
    ap.add_argument("--tone-jitter", type=float, default=0.0, help="as scorer_learns.py's")
    ap.add_argument("--paired", action="store_true", help="as scorer_learns.py's")
    ap.add_argument("--extra-photos", type=int, default=0, help="as scorer_learns.py's")
    ap.add_argument(
        "--invisible-psnr",
        type=float,
        default=0.0,
        help="as scorer_learns.py's (0 = off, its default and as in the figures above)",
    )
    ap.add_argument("--seed", type=int, default=0, help="held-out photo shuffle and crops")
    args = ap.parse_args(argv)

    import torch
    from scipy.stats import spearmanr
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.luminance_noise:
        colour_distort = sl.distort
        sl.distort = lambda im, k, lvl, r: (
            luminance_noise(im, lvl, r) if k == "noise" else colour_distort(im, k, lvl, r)
        )
    rng, order, test = sl.photo_split(args.seed, 4, args.extra_photos)
    data: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    photo_of: Any = []
    for name in order:
        photo = sl.load_photo(name)
        if args.grey:
            photo = photo.convert("L").convert("RGB")
        split = "test" if name in test else "train"
        for _ in range(args.test_crops if split == "test" else args.crops):
            for _kind, lvl, im in sl._random_items(
                photo,
                rng,
                size=args.size,
                min_frac=0.15,
                max_frac=0.9,
                paired=args.paired and split == "train",
                colour_jitter=args.colour_jitter if split == "train" else 0.0,
                tone_jitter=args.tone_jitter if split == "train" else 0.0,
                invisible_psnr=args.invisible_psnr,
            ):
                data[split][0].append(np.asarray(im))
                data[split][1].append(5.0 - lvl)
                if split == "test":
                    photo_of.append(name)
    xt, (gh, gw) = patchify(data["train"][0], args.patch)
    xs, _ = patchify(data["test"][0], args.patch)
    yt, ys, photo_of = torch.tensor(data["train"][1]), np.array(data["test"][1]), np.array(photo_of)
    print(f"train {tuple(xt.shape)} test {tuple(xs.shape)} held-out {sorted(test)}", flush=True)

    cfg = Qwen2VLVisionConfig(
        depth=args.depth,
        embed_dim=args.dim,
        hidden_size=64,
        mlp_ratio=2,
        num_heads=2,
        patch_size=args.patch,
        spatial_merge_size=2,
        temporal_patch_size=2,
        initializer_range=args.std,
    )
    vision = Qwen2VisionTransformerPretrainedModel._from_config(cfg)
    head = torch.nn.Linear(64, 1)
    params = list(vision.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)

    def forward(xb):
        n = xb.shape[0]
        out = vision(xb.reshape(-1, xb.shape[-1]), grid_thw=torch.tensor([[1, gh, gw]] * n))
        out = (
            out.pooler_output
            if getattr(out, "pooler_output", None) is not None
            else getattr(out, "last_hidden_state", out)
        )
        return head(out.reshape(n, -1, out.shape[-1]).mean(1)).squeeze(-1) + 3.0

    def held_out():
        vision.eval()
        with torch.no_grad():
            pred = torch.cat([forward(xs[i : i + 64]) for i in range(0, len(xs), 64)]).numpy()
        vision.train()
        per = {n: round(float(spearmanr(pred[photo_of == n], ys[photo_of == n])[0]), 2) for n in sorted(test)}
        return float(spearmanr(pred, ys)[0]), per

    t0, g = time.time(), torch.Generator().manual_seed(0)
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(xt), (args.batch_size,), generator=g)
        loss = torch.nn.functional.mse_loss(forward(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        done = step == args.steps or time.time() - t0 > args.seconds
        if step % 250 == 0 or done:
            srcc, per = held_out()
            print(
                f"step {step} loss {loss.item():.3f} held-out SRCC {srcc:.3f} per photo {per} {time.time() - t0:.0f}s",
                flush=True,
            )
        if done:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
