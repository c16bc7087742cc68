"""Does the scorer learn? A CPU benchmark on real photographs with distortions of known severity.

Why: the paper's data cannot be downloaded here, but quality that follows a known cause can be built from
the photographs shipped inside PyPI packages: scikit-image's 14 sample photos (astronaut, coffee, chelsea,
rocket, ...) are split by a seeded shuffle into held-out photos (``--test-photos``, never seen in training)
and training photos; two more colour photos (scikit-image's motorcycle, matplotlib's grace_hopper) only ever
train (``--extra-photos``). Each item is a random square crop of a photo (random position, scale 15-90 % of
the short side, random mirror/flip), resized to ``--size`` px and given a random distortion level 0..4
(uniform) of a random kind (Gaussian blur, Gaussian noise, JPEG): MOS = 5 - level, from the severity only.
``--paired`` instead writes every training crop in all 13 versions; ``--colour-jitter`` tints/re-saturates a
share of the training crops before distortion. The prompt is a generic "a photograph" (no photo identity).
The dataset is written in the platform's ``sft`` export format (so the real reader, collator, training loop
and evaluation run): ``train`` crops, ``val`` = new crops of the training photos, ``test`` = crops of the
held-out photos. A tiny random Qwen2-VL (:func:`training.scorer.tiny.build_tiny_model`: 4 px vision patches,
``initializer_range`` 0.2 vision / 0.05 text) is fully fine-tuned on the CPU with CE over the five level
words + MSE, for ``--steps`` optimizer steps. It prints held-out SRCC/PLCC, the SRCC on new crops of the seen
photos, the time and the settings (goal: held-out SRCC above 0.8).

    .venv/bin/python benchmarks/scorer_learns.py            # defaults = the configuration below

Observed on the 2-core development box (2026-11-26; 18,000 training crops from 12 photos; 56 px crops in
4 px patches = 49 visual tokens; lr 1e-3 cosine, 5 % warmup, clip 1.0; text 64-d x 2 layers, vision 64-d x 2
layers). The goal (held-out SRCC > 0.8) is met in 2 of 9 runs, at its border, and NOT reliably:

run (seed 0 unless said; held-out crops)                held-out SRCC / PLCC   new crops of seen photos
defaults: batch 16, 1700 steps, 1 thread (400)          0.750 / 0.745          0.917   881 s, shared box
the same, seed 1 (400; brick, clock, coffee, coins)     0.721 / 0.715          0.931   873 s, shared box
batch 16, 1700 steps, 1 thread (160)                    0.807 / 0.798          0.897   643 s, shared box
batch 8, 3000 steps, 1 thread (160)                     0.809 / 0.817          0.889   620 s, shared box
batch 8, 3000 steps, 2 threads (160)                    0.749 / 0.765          0.892   439 s, alone
defaults + --extra-photos 5 (400)                       0.706 / 0.717          0.899   635 s, shared box
the same, seed 1 (400)                                  0.729 / 0.727          0.910   637 s, shared box
defaults + --steps 3000 (400)                           0.780 / 0.784          0.943   1247 s, shared box
the same, seed 1 (400)                                  0.705 / 0.698          0.948   1247 s, shared box

("shared box": two benchmark runs, and for the first two the test suite, on the 2 cores at once.) Three
more training-only grey images (cell, page, text) changed nothing beyond the noise; 3000 steps instead of
1700 fit the seen photos better (0.94-0.95) but not the held-out ones.

Seed 0 holds out astronaut, chelsea, hubble_deep_field and rocket. The two batch-8 rows differ only in the
thread count (float summation order): 0.06 of held-out SRCC is run-to-run noise, and 160 held-out crops are
a noisy sample. The model fits new crops of the photos it saw (0.89-0.93) better than
unseen photos (0.70-0.81): what is left is generalisation across content, from 12 photos in minutes of CPU.
Untried: distortion-strength augmentation inside the collator, a wider text model, larger crops.

What decided it (earlier runs, same split):

* the Qwen2-VL patch of 14 px was the limit. A probe that trains the vision tower alone (mean-pooled, a
  linear head, MSE; 150-360 s) reached held-out SRCC 0.11-0.14 with 14 px patches, 0.29-0.45 with 7 px and
  0.74-0.81 with 4 px: a quality judgement rests on local pixel statistics, which one linear embedding of a
  14 x 14 patch of a random model does not expose. With 14 px patches the full model fitted the training
  photos (SRCC 0.50) but not the held-out ones (0.015, 4500 steps);
* the builder's default init (std 0.02) stays on the marginal (CE = ln 5) for thousands of steps; 0.2
  vision / 0.05 text leaves it within a few hundred;
* lr 2e-3 left the plateau later (held-out 0.35 after 3000 steps); lr 1e-3 at batch 8 (3000 steps) and at
  batch 16 (1700 steps) both gave 0.81 when sharing the box with each other (620-640 s each);
* the one 4 px run without the two extra colour photos (10 training photos, 1,500 crops each, stopped by a
  time bound at 2,383 steps with the learning rate still high) gave 0.64; the extras' own effect is not
  separated from the finished schedule's. In the probe, 1,500 vs 400 crops per photo made no difference,
  and grey-only photos with luminance-only noise did not help (0.37 vs 0.45 at 7 px); at 14 px neither did
  colour jitter or paired crops;
* the data itself is learnable: six hand-made sharpness/noise/blockiness statistics with a quadratic least-
  squares fit on the 10-photo split reach held-out SRCC 0.87.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field", "immunohistochemistry",
          "coins", "moon", "clock", "brick", "grass", "gravel", "retina"]
# training-only images, in the order --extra-photos takes them: scikit-image's stereo pair (left view),
# matplotlib's sample portrait, then scikit-image's grey microscopy cell, scanned page and text sign
EXTRA_TRAIN_PHOTOS = ("motorcycle", "grace_hopper", "cell", "page", "text")
LEVELS = (1, 2, 3, 4)


def distort(im: Image.Image, kind: str, level: int, rng: np.random.Generator) -> Image.Image:
    if kind == "blur":
        return im.filter(ImageFilter.GaussianBlur(radius=(0.6, 1.2, 2.0, 3.2)[level - 1]))
    if kind == "noise":
        arr = np.asarray(im, dtype=np.float32)
        arr = arr + rng.normal(0, (8, 18, 32, 55)[level - 1], arr.shape)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if kind == "jpeg":
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=(40, 20, 10, 4)[level - 1])
        buf.seek(0)
        return Image.open(buf).convert("RGB")
    raise ValueError(kind)


KINDS = ("blur", "noise", "jpeg")


def _random_items(photo: Image.Image, rng: np.random.Generator, *, size: int, min_frac: float, max_frac: float,
                  paired: bool, colour_jitter: float = 0.0):
    """One random square crop (position, scale, mirror) of ``photo`` at ``size`` px, with either a random
    distortion (level 0 = pristine, MOS 5, .. 4, MOS 1, uniform; random kind) or, ``paired``, all 13 versions
    (pristine + 3 kinds x 4 levels) of the same crop."""
    w, h = photo.size
    side = min(w, h)
    lo = max(size, int(side * min_frac))
    s = int(rng.integers(lo, max(lo, int(side * max_frac)) + 1))
    x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
    patch = photo.crop((x, y, x + s, y + s)).resize((size, size), Image.BICUBIC)
    if rng.random() < 0.5:
        patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.5:
        patch = patch.transpose(Image.FLIP_TOP_BOTTOM)
    if colour_jitter and rng.random() < colour_jitter:
        # content augmentation before the distortion (MOS unaffected): tint (per-channel gains) and saturation,
        # so that colour is not a cue that only the few colour training photos carry
        arr = np.asarray(patch, dtype=np.float32) * rng.uniform(0.7, 1.3, 3)
        patch = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        patch = ImageEnhance.Color(patch).enhance(rng.uniform(0.3, 1.7))
    if paired:
        return [("pristine", 0, patch)] + [(k, lvl, distort(patch, k, lvl, rng)) for k in KINDS for lvl in LEVELS]
    lvl = int(rng.integers(0, 5))
    kind = KINDS[int(rng.integers(0, len(KINDS)))]
    return [("pristine", 0, patch) if lvl == 0 else (kind, lvl, distort(patch, kind, lvl, rng))]


def load_photo(name: str) -> Image.Image:
    """An RGB photograph shipped inside a PyPI package (grey ones as three equal channels)."""
    import skimage.data

    if name == "motorcycle":
        arr = skimage.data.stereo_motorcycle()[0]
    elif name == "grace_hopper":
        from matplotlib.cbook import get_sample_data

        return Image.open(get_sample_data("grace_hopper.jpg")).convert("RGB")
    else:
        arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    return Image.fromarray(arr[..., :3].astype(np.uint8)).convert("RGB")


def build_dataset(out_dir: Path, *, size: int, train_crops: int, test_crops: int, test_photos: int, seed: int,
                  min_frac: float = 0.15, max_frac: float = 0.9, paired: bool = False, colour_jitter: float = 0.0,
                  extra_photos: int = 2):
    from training.scorer.synthetic import write_sft_export

    rng = np.random.default_rng(seed)
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    items = []
    order = list(PHOTOS)
    rng.shuffle(order)
    test = set(order[:test_photos])
    # extra training-only images: more content for the model to tell distortion from texture
    order += list(EXTRA_TRAIN_PHOTOS)[:extra_photos]
    for name in order:
        photo = load_photo(name)
        # held-out photos give the "test" split; training photos give "train" crops and a few unseen "val" crops
        # (new crops of seen photos: how well the model fits the training photos, without scoring all of "train")
        plan = [("test", test_crops)] if name in test else [("train", train_crops), ("val", test_crops)]
        for split, c in ((split, c) for split, n in plan for c in range(n)):
            versions = _random_items(photo, rng, size=size, min_frac=min_frac, max_frac=max_frac,
                                     paired=paired and split == "train",
                                     colour_jitter=colour_jitter if split == "train" else 0.0)
            for kind, lvl, im in versions:
                path = raw / f"{name}_{split}{c}_{kind}_{lvl}.png"
                im.save(path)
                items.append({
                    # the prompt carries no photo identity (it would only help memorising the training photos)
                    "item_id": path.stem, "media": path, "media_type": "image", "generator": kind,
                    "prompt": "a photograph", "split": split, "mos_quality": 5.0 - lvl,
                })
    return write_sft_export(out_dir / "export", items, dimensions=("quality",)), sorted(test)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1700, help="optimizer steps")
    ap.add_argument("--max-seconds", type=float, default=900, help="training wall-time bound (a safety net; the steps bound the run)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ce-over", choices=("vocab", "levels"), default="levels")
    ap.add_argument("--finetune", choices=("full", "lora"), default="full")
    ap.add_argument("--size", type=int, default=56, help="crop side in pixels (56 px in 4 px patches: 196 patches, 49 visual tokens)")
    ap.add_argument("--train-crops", type=int, default=1500, help="random distorted crops per training photo")
    ap.add_argument("--test-crops", type=int, default=100,
                    help="random distorted crops per held-out photo (and per training photo for 'val')")
    ap.add_argument("--paired", action="store_true",
                    help="training crops in all 13 versions (pristine + 3 kinds x 4 levels) instead of one random one")
    ap.add_argument("--colour-jitter", type=float, default=0.0,
                    help="share of training crops tinted / re-saturated before distortion (0 = off)")
    ap.add_argument("--warmup", type=float, default=0.05, help="warmup ratio")
    ap.add_argument("--mse-weight", type=float, default=1.0)
    ap.add_argument("--test-photos", type=int, default=4)
    ap.add_argument("--extra-photos", type=int, default=2, choices=range(len(EXTRA_TRAIN_PHOTOS) + 1),
                    help="extra training-only images, taken in this order: " + ", ".join(EXTRA_TRAIN_PHOTOS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (a seeded run repeats its figures only at the same thread count)")
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="0 = no clipping")
    ap.add_argument("--hidden", type=int, default=64, help="tiny model text hidden size")
    ap.add_argument("--vision-depth", type=int, default=2)
    ap.add_argument("--vision-dim", type=int, default=64)
    ap.add_argument("--patch-size", type=int, default=4, help="vision patch side in px (Qwen2-VL: 14)")
    ap.add_argument("--vision-init-std", type=float, default=0.2,
                    help="initializer_range of the tiny vision tower (0.02 = the tiny builder's default)")
    ap.add_argument("--text-init-std", type=float, default=0.05, help="initializer_range of the tiny text model")
    ap.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from training.scorer.config import ScorerConfig
    from training.scorer.predict import evaluate_checkpoint
    from training.scorer.tiny import build_tiny_model
    from training.scorer.train import train

    tmp = None if args.workdir else tempfile.TemporaryDirectory()
    work = Path(args.workdir or tmp.name)
    t0 = time.time()
    export, test_names = build_dataset(work, size=args.size, train_crops=args.train_crops, test_crops=args.test_crops,
                                       test_photos=args.test_photos, seed=args.seed, paired=args.paired,
                                       colour_jitter=args.colour_jitter, extra_photos=args.extra_photos)
    counts = json.loads((export / "manifest.json").read_text())["counts"]
    model_dir = build_tiny_model(work / "tiny", seed=args.seed, hidden_size=args.hidden,
                                 vision_depth=args.vision_depth, vision_embed_dim=args.vision_dim,
                                 patch_size=args.patch_size, vision_init_std=args.vision_init_std,
                                 text_init_std=args.text_init_std)
    print(f"dataset {counts} (held-out photos: {', '.join(test_names)}) built in {time.time() - t0:.1f}s", flush=True)

    cfg = ScorerConfig(
        model_name_or_path=str(model_dir), data_dir=str(export), output_dir=str(work / "run"),
        dimensions=["quality"], media_types=["image"], eval_split=None, finetune=args.finetune,
        freeze_vision=False, lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                  "down_proj", "qkv", "proj", "fc1", "fc2"],
        lora_r=8, lora_alpha=16, lora_dropout=0.0, learning_rate=args.lr, ce_over=args.ce_over, batch_size=args.batch_size,
        epochs=1000, max_steps=args.steps, max_train_seconds=args.max_seconds, warmup_ratio=args.warmup, mse_weight=args.mse_weight,
        logging_steps=20, max_grad_norm=args.max_grad_norm, save_total_limit=1, seed=args.seed, image_max_pixels=args.size * args.size,
        eval_plots=False,
    )
    t1 = time.time()

    def show(ev):
        if ev["event"] == "step":
            print(f"step {ev['step']:4d}/{ev['total_steps']} loss {ev['loss']:.3f} (ce {ev['ce']:.3f} "
                  f"mse {ev['mse']:.3f}) {time.time() - t1:.0f}s", flush=True)

    result = train(cfg, on_progress=show)
    train_s = time.time() - t1
    ckpt = result.final_dir or result.checkpoint_dir
    # stopped by the time bound: the last checkpoint holds the weights (adapter or full)
    res = evaluate_checkpoint(ckpt, export, split="test", out_dir=work / "eval", overrides={"eval_plots": False})
    inst = res.report["quality"]["all"]["instance"]
    fit = evaluate_checkpoint(ckpt, export, split="val", out_dir=work / "eval_val",
                              overrides={"eval_plots": False}).report["quality"]["all"]["instance"]
    print(json.dumps({
        "held_out_photos": test_names, "n_train": counts.get("train"), "n_test": inst["n"], "train_steps": result.global_step,
        "train_seconds": round(train_s, 1), "finetune": args.finetune,
        "srcc": inst["srcc"], "plcc": inst["plcc"], "plcc_logistic": inst["plcc_logistic"], "rmse": inst["rmse"],
        "seen_photos_srcc": fit["srcc"],  # new crops of the training photos: how well it fits the photos it saw
        "goal_srcc_above_0.8": bool(inst["srcc"] is not None and inst["srcc"] > 0.8),
        "settings": {k: v for k, v in vars(args).items() if k != "workdir"},
    }, indent=1))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
