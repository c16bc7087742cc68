"""Does the scorer learn? A CPU benchmark on real photographs with distortions of known severity.

Why: the paper's data cannot be downloaded here, but quality that follows a known cause can be built from
the photographs shipped inside PyPI packages: 13 of scikit-image's sample photos (astronaut, coffee, chelsea,
rocket, ...; not ``clock``, which is motion-blurred by design) are split by a seeded shuffle into held-out
photos (``--test-photos``, never seen in training) and training photos; two more colour photos (scikit-image's
motorcycle, matplotlib's grace_hopper) only ever train (``--extra-photos``). Each item is a random square crop
of a photo (random position, scale 15-90 % of the short side, random mirror/flip), resized to ``--size`` px and
given a random distortion level 0..4 (uniform) of a random kind (Gaussian blur, Gaussian noise, JPEG): MOS =
5 - level, from the severity only. Before the distortion, content augmentation that leaves the MOS alone:
``--colour-jitter`` (share of training crops tinted and re-saturated) and ``--tone-jitter`` (share given a
random gamma, contrast and brightness), half each by default. ``--paired`` instead writes every training crop
in all 13 versions; ``--invisible-psnr 40`` draws a distorted crop again when it lies within 40 dB of its own
pristine crop (off by default; see below). The prompt is a generic "a photograph" (no photo identity).
The dataset is written in the platform's ``sft`` export format (so the real reader, collator, training loop
and evaluation run): ``train`` crops, ``val`` = new crops of the training photos, ``test`` = crops of the
held-out photos. A tiny random Qwen2-VL (:func:`training.scorer.tiny.build_tiny_model`: 4 px vision patches,
``initializer_range`` 0.2 vision / 0.05 text) is fully fine-tuned on the CPU with CE over the five level
words + MSE, for ``--steps`` optimizer steps. It prints held-out SRCC/PLCC, the SRCC on new crops of the seen
photos, the time and the settings (goal: held-out SRCC above 0.8).

    .venv/bin/python benchmarks/scorer_learns.py            # defaults = the configuration below

Observed on the 2-core development box (2026-11-26, two runs sharing the 2 cores, 1 thread each; 16,500
training crops from 11 photos; 56 px crops in 4 px patches = 49 visual tokens; batch 16, 3400 steps, lr 1e-3
cosine, 5 % warmup, clip 1.0; text 64-d x 2 layers, vision 64-d x 2 layers; 400 held-out crops). The goal
(held-out SRCC > 0.8) is met in every seed tried, lowest 0.866, mean 0.914 over seven:

seed  held-out photos                               held-out SRCC / PLCC   new crops of seen photos   training
0     camera, chelsea, coins, grass                 0.930 / 0.931          0.948                      444 s
1     brick, coffee, coins, grass                   0.932 / 0.946          0.923                      444 s
2     astronaut, chelsea, coins, grass              0.931 / 0.934          0.926                      453 s
3     brick, chelsea, gravel, retina                0.900 / 0.899          0.952                      516 s (*)
4     astronaut, brick, chelsea, coffee             0.905 / 0.904          0.943                      512 s (*)
5     brick, coffee, retina, rocket                 0.866 / 0.870          0.964                      527 s (*)
6     brick, grass, gravel, immunohistochemistry    0.931 / 0.934          0.937                      454 s

(*) other work shared the cores as well (a seeded run gives the same figures under any load at the same
thread count; only its time changes).

Training twice as long is what did it. With 1700 steps (the earlier default) the same settings gave
0.763-0.870 over seeds 0-5 (mean 0.830), and the seeds that held out soft content fell short: retina (a
fundus photograph) and rocket (its sky) were predicted 0.3-0.7 below their MOS as a whole photo, their
pristine crops taken for blurred ones. In seed 5 at 1700 steps (both runs with the visibility rule below) retina's
pristine crops scored 3.25 on average and retina ranked 0.58 within itself; at 3400 steps they score 4.70
and retina ranks 0.87.
The visibility rule (``--invisible-psnr 40``) was tried because those labels are partly wrong: at level 1,
100 % of moon's, 56 % of rocket's and 54 % of retina's blurred crops lie within 40 dB of their pristine crop
(0-11 % for the other photos), so the same picture appears with MOS 5 and 4; overall it redraws 12 % of
moon's distorted crops, 6.5 % of rocket's, 5.5 % of retina's and at most 1 % of any other photo's. It did
not help: with it, seeds 0-5 gave 0.931 / 0.932 / 0.932 / 0.894 / 0.892 / 0.856 at 3400 steps (0.717 for
seed 5 at 1700), a little below the figures above, so it is off by default and MOS stays 5 - level.
Tried at 1700 steps on seed 5 (with the rule) and not better: 84 px crops (``--size 84``, 121 visual tokens,
377 s): 0.541; paired crops (``--paired --train-crops 115``, the same number of training items): 0.724 (vs
0.717). Earlier, with ``clock`` still in: colour and tone jitter on every training crop instead of half (seed
5: 0.784, seed 3: 0.810) and three more training-only grey images (``--extra-photos 5``: 0.754 / 0.673).

Earlier findings (1700 steps unless said; the first two groups on the earlier 14-photo set with ``clock``,
whose seeds 0/1/2 held out astronaut, chelsea, hubble_deep_field, rocket / brick, clock, coffee, coins /
astronaut, chelsea, gravel, immunohistochemistry):

* content augmentation. Without it, held-out SRCC was 0.70-0.81 over 9 runs (0.750 and 0.721 for seeds 0
  and 1 with these settings; more training-only images, 3000 steps or a batch of 8 did not move it beyond
  the noise), while new crops of the seen photos scored 0.89-0.95: each held-out photo was ranked well on its
  own (0.7-0.86 per photo) but shifted as a whole, so exposure and colour stood in for quality. In the
  vision-tower probe (``scorer_vision_probe.py``, 3000 steps, 400 held-out crops) seed 0 went from 0.724
  without augmentation to 0.818 with colour jitter on half the crops, 0.846 on all, and 0.877 with colour
  and tone jitter on half each; seed 1 from 0.793 to 0.847. The full model with both at 0.5: 0.855 (seed 0),
  0.874 (seed 2), but 0.730 for seed 1 (0.750 with both at 1.0);
* the ``clock`` photo. In those seed-1 runs ``clock`` was ranked at 0.55 within itself and predicted 0.84
  below its MOS on average: scikit-image's clock was photographed while moving the camera, so its
  "pristine" crops are blurred and the model was right about them. It is no longer used;
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

# scikit-image's photographs, all but ``clock``: that one was taken while moving the camera ("Motion blurred
# clock", its docstring says), so its crops are not pristine and MOS = 5 - level would be wrong for them
PHOTOS = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "hubble_deep_field",
    "immunohistochemistry",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
    "retina",
]
# training-only images, in the order --extra-photos takes them: scikit-image's stereo pair (left view),
# matplotlib's sample portrait, then scikit-image's grey microscopy cell, scanned page and text sign
EXTRA_TRAIN_PHOTOS = ("motorcycle", "grace_hopper", "cell", "page", "text")
LEVELS = (1, 2, 3, 4)


def distort(im: Image.Image, kind: str, level: int, rng: np.random.Generator) -> Image.Image:
    if kind == "blur":
        return im.filter(ImageFilter.GaussianBlur(radius=(0.6, 1.2, 2.0, 3.2)[level - 1]))
    if kind == "noise":
        arr: np.ndarray = np.asarray(im, dtype=np.float32)
        arr = arr + rng.normal(0, (8, 18, 32, 55)[level - 1], arr.shape)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if kind == "jpeg":
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=(40, 20, 10, 4)[level - 1])
        buf.seek(0)
        return Image.open(buf).convert("RGB")
    raise ValueError(kind)


KINDS = ("blur", "noise", "jpeg")


def content_jitter(
    patch: Image.Image, rng: np.random.Generator, *, colour_jitter: float = 0.0, tone_jitter: float = 0.0
) -> Image.Image:
    """Content augmentation before the distortion (the MOS is unaffected), each with its own probability, so that
    the few training photos' colour and exposure are no cue for quality: colour (per-channel gains, saturation)
    and tone (gamma, contrast about the crop's mean, brightness shift)."""
    if colour_jitter and rng.random() < colour_jitter:
        arr = np.asarray(patch, dtype=np.float32) * rng.uniform(0.7, 1.3, 3)
        patch = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        patch = ImageEnhance.Color(patch).enhance(rng.uniform(0.3, 1.7))
    if tone_jitter and rng.random() < tone_jitter:
        arr = 255.0 * (np.asarray(patch, dtype=np.float32) / 255.0) ** rng.uniform(0.6, 1.6)  # type: ignore[assignment]
        m = arr.mean()
        arr = (arr - m) * rng.uniform(0.5, 1.4) + m + rng.uniform(-40, 40)
        patch = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return patch


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = float(np.mean((np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _random_items(
    photo: Image.Image,
    rng: np.random.Generator,
    *,
    size: int,
    min_frac: float,
    max_frac: float,
    paired: bool,
    colour_jitter: float = 0.0,
    tone_jitter: float = 0.0,
    invisible_psnr: float = 0.0,
):
    """One random square crop (position, scale, mirror) of ``photo`` at ``size`` px, with either a random
    distortion (level 0 = pristine, MOS 5, .. 4, MOS 1, uniform; random kind) or, ``paired``, all 13 versions
    (pristine + 3 kinds x 4 levels) of the same crop.

    ``invisible_psnr`` (dB, 0 = off): a distorted version that lies closer than this to its own pristine crop
    is not shown (paired) or the whole item is drawn again: a slight blur of a flat sky or a fundus photograph
    leaves the pixels as they were, and MOS = 5 - level would then label the same picture 5 and 4."""
    while True:  # ends: a pristine draw (1 in 5) is always kept
        w, h = photo.size
        side = min(w, h)
        lo = max(size, int(side * min_frac))
        s = int(rng.integers(lo, max(lo, int(side * max_frac)) + 1))
        x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        patch = photo.crop((x, y, x + s, y + s)).resize((size, size), Image.Resampling.BICUBIC)
        if rng.random() < 0.5:
            patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if rng.random() < 0.5:
            patch = patch.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        patch = content_jitter(patch, rng, colour_jitter=colour_jitter, tone_jitter=tone_jitter)

        def visible(im: Image.Image, ref: Image.Image = patch) -> bool:
            return not invisible_psnr or psnr(im, ref) < invisible_psnr

        if paired:
            versions = [(k, lvl, distort(patch, k, lvl, rng)) for k in KINDS for lvl in LEVELS]
            return [("pristine", 0, patch)] + [v for v in versions if visible(v[2])]
        lvl = int(rng.integers(0, 5))
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
        if lvl == 0:
            return [("pristine", 0, patch)]
        im = distort(patch, kind, lvl, rng)
        if visible(im):
            return [(kind, lvl, im)]


def load_photo(name: str) -> Image.Image:
    """An RGB photograph shipped inside a PyPI package (grey ones as three equal channels)."""
    import skimage.data

    if name == "motorcycle":
        arr = skimage.data.stereo_motorcycle()[0]
    elif name == "grace_hopper":
        from matplotlib.cbook import get_sample_data

        return Image.open(get_sample_data("grace_hopper.jpg")).convert("RGB")  # type: ignore[arg-type]  # a file object
    else:
        arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    return Image.fromarray(arr[..., :3].astype(np.uint8)).convert("RGB")


def photo_split(seed: int, test_photos: int, extra_photos: int) -> tuple[np.random.Generator, list[str], set[str]]:
    """The seeded shuffle that picks the held-out photos: (the generator, to draw the crops on with; every photo
    name in crop order, the training-only extras last; the held-out names). The vision probe uses it too, so its
    held-out photos are the benchmark's."""
    rng = np.random.default_rng(seed)
    order = list(PHOTOS)
    rng.shuffle(order)
    test = set(order[:test_photos])
    # extra training-only images: more content for the model to tell distortion from texture
    return rng, order + list(EXTRA_TRAIN_PHOTOS)[:extra_photos], test


def build_dataset(
    out_dir: Path,
    *,
    size: int,
    train_crops: int,
    test_crops: int,
    test_photos: int,
    seed: int,
    min_frac: float = 0.15,
    max_frac: float = 0.9,
    paired: bool = False,
    colour_jitter: float = 0.0,
    tone_jitter: float = 0.0,
    extra_photos: int = 2,
    invisible_psnr: float = 0.0,
):
    from training.scorer.synthetic import write_sft_export

    rng, order, test = photo_split(seed, test_photos, extra_photos)
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    items = []
    for name in order:
        photo = load_photo(name)
        # held-out photos give the "test" split; training photos give "train" crops and a few unseen "val" crops
        # (new crops of seen photos: how well the model fits the training photos, without scoring all of "train")
        plan = [("test", test_crops)] if name in test else [("train", train_crops), ("val", test_crops)]
        for split, c in ((split, c) for split, n in plan for c in range(n)):
            versions = _random_items(
                photo,
                rng,
                size=size,
                min_frac=min_frac,
                max_frac=max_frac,
                paired=paired and split == "train",
                colour_jitter=colour_jitter if split == "train" else 0.0,
                tone_jitter=tone_jitter if split == "train" else 0.0,
                invisible_psnr=invisible_psnr,
            )
            for kind, lvl, im in versions:
                path = raw / f"{name}_{split}{c}_{kind}_{lvl}.png"
                im.save(path)
                items.append(
                    {
                        # the prompt carries no photo identity (it would only help memorising the training photos)
                        "item_id": path.stem,
                        "media": path,
                        "media_type": "image",
                        "generator": kind,
                        "prompt": "a photograph",
                        "split": split,
                        "mos_quality": 5.0 - lvl,
                    }
                )
    return write_sft_export(out_dir / "export", items, dimensions=("quality",)), sorted(test)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3400, help="optimizer steps")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=2400,
        help="training wall-time bound (a safety net; the steps bound the run)",
    )
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ce-over", choices=("vocab", "levels"), default="levels")
    ap.add_argument("--finetune", choices=("full", "lora"), default="full")
    ap.add_argument(
        "--size",
        type=int,
        default=56,
        help="crop side in pixels (56 px in 4 px patches: 196 patches, 49 visual tokens)",
    )
    ap.add_argument("--train-crops", type=int, default=1500, help="random distorted crops per training photo")
    ap.add_argument(
        "--test-crops",
        type=int,
        default=100,
        help="random distorted crops per held-out photo (and per training photo for 'val')",
    )
    ap.add_argument(
        "--paired",
        action="store_true",
        help="training crops in all 13 versions (pristine + 3 kinds x 4 levels) instead of one random one",
    )
    ap.add_argument(
        "--colour-jitter",
        type=float,
        default=0.5,
        help="share of training crops tinted / re-saturated before distortion (0 = off)",
    )
    ap.add_argument(
        "--tone-jitter",
        type=float,
        default=0.5,
        help="share of training crops given a random gamma, contrast and brightness before distortion (0 = off)",
    )
    ap.add_argument(
        "--invisible-psnr",
        type=float,
        default=0.0,
        help="dB: a distorted crop closer than this to its pristine crop is drawn again, in every split (0 = off, the default; 40 was measured, see above)",
    )
    ap.add_argument("--warmup", type=float, default=0.05, help="warmup ratio")
    ap.add_argument("--mse-weight", type=float, default=1.0)
    ap.add_argument("--test-photos", type=int, default=4)
    ap.add_argument(
        "--extra-photos",
        type=int,
        default=2,
        choices=range(len(EXTRA_TRAIN_PHOTOS) + 1),
        help="extra training-only images, taken in this order: " + ", ".join(EXTRA_TRAIN_PHOTOS),
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (a seeded run repeats its figures only at the same thread count)",
    )
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="0 = no clipping")
    ap.add_argument("--hidden", type=int, default=64, help="tiny model text hidden size")
    ap.add_argument("--vision-depth", type=int, default=2)
    ap.add_argument("--vision-dim", type=int, default=64)
    ap.add_argument("--patch-size", type=int, default=4, help="vision patch side in px (Qwen2-VL: 14)")
    ap.add_argument(
        "--vision-init-std",
        type=float,
        default=0.2,
        help="initializer_range of the tiny vision tower (0.02 = the tiny builder's default)",
    )
    ap.add_argument("--text-init-std", type=float, default=0.05, help="initializer_range of the tiny text model")
    ap.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    args = ap.parse_args(argv)
    if args.invisible_psnr and args.invisible_psnr < 35:
        # level-1 noise sits near 30 dB: a lower bar would drop distortions anyone sees, leaving mostly pristine crops
        ap.error(f"--invisible-psnr {args.invisible_psnr:g}: use 0 (off) or at least 35 dB")

    import torch

    torch.set_num_threads(args.threads)
    from training.scorer.config import ScorerConfig
    from training.scorer.predict import evaluate_checkpoint
    from training.scorer.tiny import build_tiny_model
    from training.scorer.train import train

    tmp = None if args.workdir else tempfile.TemporaryDirectory()
    work = Path(args.workdir or tmp.name)  # type: ignore[union-attr]  # tmp is made when no workdir is given
    t0 = time.time()
    export, test_names = build_dataset(
        work,
        size=args.size,
        train_crops=args.train_crops,
        test_crops=args.test_crops,
        test_photos=args.test_photos,
        seed=args.seed,
        paired=args.paired,
        colour_jitter=args.colour_jitter,
        tone_jitter=args.tone_jitter,
        extra_photos=args.extra_photos,
        invisible_psnr=args.invisible_psnr,
    )
    counts = json.loads((export / "manifest.json").read_text())["counts"]
    model_dir = build_tiny_model(
        work / "tiny",
        seed=args.seed,
        hidden_size=args.hidden,
        vision_depth=args.vision_depth,
        vision_embed_dim=args.vision_dim,
        patch_size=args.patch_size,
        vision_init_std=args.vision_init_std,
        text_init_std=args.text_init_std,
    )
    print(f"dataset {counts} (held-out photos: {', '.join(test_names)}) built in {time.time() - t0:.1f}s", flush=True)

    cfg = ScorerConfig(
        model_name_or_path=str(model_dir),
        data_dir=str(export),
        output_dir=str(work / "run"),
        dimensions=["quality"],
        media_types=["image"],
        eval_split=None,
        finetune=args.finetune,
        freeze_vision=False,
        lora_target_modules=[
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
            "qkv",
            "proj",
            "fc1",
            "fc2",
        ],
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        learning_rate=args.lr,
        ce_over=args.ce_over,
        batch_size=args.batch_size,
        epochs=1000,
        max_steps=args.steps,
        max_train_seconds=args.max_seconds,
        warmup_ratio=args.warmup,
        mse_weight=args.mse_weight,
        logging_steps=20,
        max_grad_norm=args.max_grad_norm,
        save_total_limit=1,
        seed=args.seed,
        image_max_pixels=args.size * args.size,
        eval_plots=False,
    )
    t1 = time.time()

    def show(ev):
        if ev["event"] == "step":
            print(
                f"step {ev['step']:4d}/{ev['total_steps']} loss {ev['loss']:.3f} (ce {ev['ce']:.3f} "
                f"mse {ev['mse']:.3f}) {time.time() - t1:.0f}s",
                flush=True,
            )

    result = train(cfg, on_progress=show)
    train_s = time.time() - t1
    ckpt = result.final_dir or result.checkpoint_dir
    if ckpt is None:
        raise SystemExit("training wrote no checkpoint")
    # stopped by the time bound: the last checkpoint holds the weights (adapter or full)
    res = evaluate_checkpoint(ckpt, export, split="test", out_dir=work / "eval", overrides={"eval_plots": False})
    inst = res.report["quality"]["all"]["instance"]
    fit = evaluate_checkpoint(
        ckpt, export, split="val", out_dir=work / "eval_val", overrides={"eval_plots": False}
    ).report["quality"]["all"]["instance"]
    print(
        json.dumps(
            {
                "held_out_photos": test_names,
                "n_train": counts.get("train"),
                "n_test": inst["n"],
                "train_steps": result.global_step,
                "train_seconds": round(train_s, 1),
                "finetune": args.finetune,
                "srcc": inst["srcc"],
                "plcc": inst["plcc"],
                "plcc_logistic": inst["plcc_logistic"],
                "rmse": inst["rmse"],
                "seen_photos_srcc": fit["srcc"],  # new crops of the training photos: how well it fits the photos it saw
                "goal_srcc_above_0.8": bool(inst["srcc"] is not None and inst["srcc"] > 0.8),
                "settings": {k: v for k, v in vars(args).items() if k != "workdir"},
            },
            indent=1,
        )
    )
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
