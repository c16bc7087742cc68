"""Does the scorer learn? A CPU benchmark on real photographs with distortions of known severity.

Why: the paper's data cannot be downloaded here, but quality that follows a known cause can be built from
the photographs shipped inside scikit-image (astronaut, coffee, chelsea, rocket, ...). The 14 photos are
split by a seeded shuffle into held-out photos (``--test-photos``, never seen in training) and training
photos. Each item is a random square crop of a photo (random position, scale 15-90 % of the short side,
random mirror/flip), resized to ``--size`` px and given a random distortion level 0..4 (uniform) of a random
kind (Gaussian blur, Gaussian noise, JPEG): MOS = 5 - level, from the severity only. ``--paired`` instead
writes every training crop in all 13 versions; ``--colour-jitter`` tints/re-saturates a share of the
training crops before distortion. The prompt is a generic "a photograph" (no photo identity). The dataset is
written in the platform's ``sft`` export format (so the real reader, collator, training loop and evaluation
run), and a tiny random Qwen2-VL (:mod:`training.scorer.tiny`, re-drawn with a larger ``initializer_range``
when ``--vision-init-std``/``--text-init-std`` differ from 0.02) is fully fine-tuned on the CPU for a bounded
number of steps / seconds. It prints held-out and training-split instance SRCC, held-out PLCC, the time and
the settings (goal: held-out SRCC above 0.8).

    .venv/bin/python benchmarks/scorer_learns.py            # defaults = the best configuration found

Observed on the shared 2-core development box (2026-11-26; held-out photos astronaut, chelsea,
hubble_deep_field, rocket; 4000 training crops from the 10 other photos, 160 held-out crops; 56 px crops,
batch 8, lr 1e-3 cosine, clip 1.0, CE over the five words + MSE, text 64-d x 2 layers, vision 64-d x 2
layers, init std 0.2 vision / 0.05 text): 4500 steps in 453 s (458 s with a second run on the box; same
figures, seeded) cut the loss from 3.6 to 2.95 and reached SRCC 0.50 on the training split, but held-out
SRCC 0.015 (PLCC 0.005). The goal (0.8) is NOT met. What was learned on the way (held-out SRCC
within +-0.1 in every run):

* with the builder's default init (std 0.02) the tiny model stays on the marginal (CE = ln 5) for 300-2400
  steps at lr 1e-3..1e-2, 56-168 px, batch 8-16, vision 32/1 or 64/2: its random vision features carry no
  linear information on the distortion (ridge probe SRCC ~0), and every LayerNorm removes patch energy;
* a larger init (vision 0.2, text 0.05) lets it leave the plateau, stochastically after 800-3000 steps;
* it then fits the training photos (train SRCC 0.50-0.59 on 1000-4000 random crops, so not item
  memorisation: textured grey photos grass/gravel/brick 0.7-0.8) but not the held-out ones (-0.03..0.03;
  only noise is picked up a little there, 0.26). All four held-out photos are colour while 7 of the 10
  training photos are grey; colour jitter (0.5) delayed leaving the plateau past 4500 steps (held-out -0.03);
* paired crops (all 13 versions, 2600 items) fit less in 2400 steps (train 0.34, held-out 0.09);
* the data itself is learnable: six hand-made sharpness/noise/blockiness statistics with a quadratic least-
  squares fit on the same split reach held-out SRCC 0.87, so the limit is the random tiny model in
  minutes of CPU; a pretrained base (the real use) or far longer training is needed.
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


def build_dataset(out_dir: Path, *, size: int, train_crops: int, test_crops: int, test_photos: int, seed: int,
                  min_frac: float = 0.15, max_frac: float = 0.9, paired: bool = False, colour_jitter: float = 0.0):
    import skimage.data

    from training.scorer.synthetic import write_sft_export

    rng = np.random.default_rng(seed)
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    items = []
    order = list(PHOTOS)
    rng.shuffle(order)
    test = set(order[:test_photos])
    for name in order:
        arr = getattr(skimage.data, name)()
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, -1)
        photo = Image.fromarray(arr[..., :3].astype(np.uint8)).convert("RGB")
        split = "test" if name in test else "train"
        for c in range(test_crops if split == "test" else train_crops):
            versions = _random_items(photo, rng, size=size, min_frac=min_frac, max_frac=max_frac,
                                     paired=paired and split == "train",
                                     colour_jitter=colour_jitter if split == "train" else 0.0)
            for kind, lvl, im in versions:
                path = raw / f"{name}_{c}_{kind}_{lvl}.png"
                im.save(path)
                items.append({
                    # the prompt carries no photo identity (it would only help memorising the training photos)
                    "item_id": path.stem, "media": path, "media_type": "image", "generator": kind,
                    "prompt": "a photograph", "split": split, "mos_quality": 5.0 - lvl,
                })
    return write_sft_export(out_dir / "export", items, dimensions=("quality",)), sorted(test)


def reinit_tiny_model(model_dir: Path, *, seed: int, vision_std: float, text_std: float) -> None:
    """Re-draw the tiny model's random weights from its own config with other ``initializer_range`` values
    (same architecture, tokenizer and processor; seeded)."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig.from_pretrained(model_dir)
    config.vision_config.initializer_range = vision_std
    config.text_config.initializer_range = text_std
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    gen = Qwen2VLForConditionalGeneration.from_pretrained(model_dir).generation_config
    model.generation_config = gen
    model.save_pretrained(model_dir)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4500, help="optimizer steps (upper bound)")
    ap.add_argument("--max-seconds", type=float, default=480, help="training wall-time bound")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ce-over", choices=("vocab", "levels"), default="levels")
    ap.add_argument("--finetune", choices=("full", "lora"), default="full")
    ap.add_argument("--size", type=int, default=56, help="crop side in pixels (56 -> 4 visual tokens, 112 -> 16)")
    ap.add_argument("--train-crops", type=int, default=400, help="random distorted crops per training photo")
    ap.add_argument("--test-crops", type=int, default=40, help="random distorted crops per held-out photo")
    ap.add_argument("--paired", action="store_true",
                    help="training crops in all 13 versions (pristine + 3 kinds x 4 levels) instead of one random one")
    ap.add_argument("--colour-jitter", type=float, default=0.0,
                    help="share of training crops tinted / re-saturated before distortion (0 = off)")
    ap.add_argument("--warmup", type=float, default=0.05, help="warmup ratio")
    ap.add_argument("--mse-weight", type=float, default=1.0)
    ap.add_argument("--test-photos", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="0 = no clipping")
    ap.add_argument("--hidden", type=int, default=64, help="tiny model text hidden size")
    ap.add_argument("--vision-depth", type=int, default=2)
    ap.add_argument("--vision-dim", type=int, default=64)
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
                                       colour_jitter=args.colour_jitter)
    counts = json.loads((export / "manifest.json").read_text())["counts"]
    model_dir = build_tiny_model(work / "tiny", seed=args.seed, hidden_size=args.hidden,
                                 vision_depth=args.vision_depth, vision_embed_dim=args.vision_dim)
    if (args.vision_init_std, args.text_init_std) != (0.02, 0.02):
        reinit_tiny_model(model_dir, seed=args.seed, vision_std=args.vision_init_std, text_std=args.text_init_std)
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
    fit = evaluate_checkpoint(ckpt, export, split="train", out_dir=work / "eval_train",
                              overrides={"eval_plots": False}).report["quality"]["all"]["instance"]
    print(json.dumps({
        "held_out_photos": test_names, "n_train": counts.get("train"), "n_test": inst["n"], "train_steps": result.global_step,
        "train_seconds": round(train_s, 1), "finetune": args.finetune,
        "srcc": inst["srcc"], "plcc": inst["plcc"], "plcc_logistic": inst["plcc_logistic"], "rmse": inst["rmse"],
        "train_split_srcc": fit["srcc"],  # how well it fits the photos it was trained on
        "goal_srcc_above_0.8": bool(inst["srcc"] is not None and inst["srcc"] > 0.8),
        "settings": {k: v for k, v in vars(args).items() if k != "workdir"},
    }, indent=1))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
