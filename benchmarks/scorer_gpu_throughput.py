"""GPU throughput of the scorer at full size: training samples/s and batched vs one-at-a-time scoring.

Why: the paper's released code (zzc-1998/Q-Eval, utils/infer.py) scores one item at a time with
``generate``; this package scores in batches with left padding and ``logits_to_keep=1``. This benchmark puts
numbers on both, in the same run, on the same random-weight model, together with LoRA training speed.

What it builds: ``Qwen2VLForConditionalGeneration`` with the configuration of Qwen2-VL-7B-Instruct (values
hard-coded below: 28 layers, hidden 3584, vision depth 32, vocab 152064), random weights, bf16, sdpa
attention, on the GPU; no download. The tokenizer and image-processor files are those of the tiny model
(:mod:`training.scorer.tiny`), whose special-token ids are written into the config; the exact context prompts
are used, so sequence lengths are close to the real tokenizer's. Nothing is written to disk but a temp dir.

    python benchmarks/scorer_gpu_throughput.py [--train-batch 4] [--score-batch 16] [--image-side 448]

Without CUDA it says so and exits with status 2. ``--smoke`` runs every step of it on the tiny model on the CPU
(float32, small sizes) so the script itself is tested where no GPU is (tests/scorer/test_gpu_throughput_smoke.py);
its figures then say nothing about a GPU, and the output says ``"smoke": true``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QWEN2_VL_7B_TEXT = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    hidden_act="silu",
    max_position_embeddings=32768,
    rms_norm_eps=1e-6,
    rope_theta=1000000.0,
    rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
    use_sliding_window=False,
    sliding_window=32768,
    max_window_layers=28,
    attention_dropout=0.0,
    bos_token_id=151643,
    eos_token_id=151645,
)
QWEN2_VL_7B_VISION = dict(
    depth=32,
    embed_dim=1280,
    hidden_size=3584,
    mlp_ratio=4,
    num_heads=16,
    in_channels=3,
    patch_size=14,
    spatial_merge_size=2,
    temporal_patch_size=2,
    hidden_act="quick_gelu",
)


def build_model(tok_ids: dict, attn: str):
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig(
        text_config=dict(QWEN2_VL_7B_TEXT),
        vision_config=dict(QWEN2_VL_7B_VISION),
        image_token_id=tok_ids["<|image_pad|>"],
        video_token_id=tok_ids["<|video_pad|>"],
        vision_start_token_id=tok_ids["<|vision_start|>"],
        vision_end_token_id=tok_ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    config._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16, attn_implementation=attn)
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-steps", type=int, default=8)
    ap.add_argument("--score-batch", type=int, default=16)
    ap.add_argument("--score-items", type=int, default=64)
    ap.add_argument("--image-side", type=int, default=448, help="448 -> 256 visual tokens per image")
    ap.add_argument("--attn", default="sdpa", choices=("sdpa", "flash_attention_2", "eager"))
    ap.add_argument("--no-gradient-checkpointing", action="store_true")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="the tiny model on the CPU in float32: checks the script, measures nothing about a GPU",
    )
    args = ap.parse_args(argv)
    for name in ("train_batch", "train_steps", "score_batch", "score_items", "image_side"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")

    import torch

    if not args.smoke and not torch.cuda.is_available():
        print(
            "scorer_gpu_throughput: no CUDA device here; this benchmark needs a GPU (it builds a 7B model). "
            "Nothing was measured.",
            file=sys.stderr,
        )
        return 2

    import numpy as np
    from PIL import Image

    from training.scorer.config import ScorerConfig
    from training.scorer.data import ScorerCollator, normalise_record, split_batch
    from training.scorer.modeling import answer_logits, prepare_for_training
    from training.scorer.processing import load_processor
    from training.scorer.prompts import LEVELS
    from training.scorer.scoring import expected_score, level_probabilities, level_token_ids, scorer_loss
    from training.scorer.tiny import SPECIAL_TOKENS, build_tiny_model

    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
    tiny = build_tiny_model(work / "tiny")
    side = args.image_side
    cfg = ScorerConfig(
        model_name_or_path=str(tiny),
        bf16=not args.smoke,
        attn_implementation=args.attn,
        gradient_checkpointing=not args.no_gradient_checkpointing,
        image_min_pixels=side * side,
        image_max_pixels=side * side,
    )
    proc = load_processor(tiny, config=cfg)
    level_ids = level_token_ids(proc.tokenizer)
    tok_ids = {t: proc.tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    rng = np.random.default_rng(0)
    n_img = max(args.score_items, args.train_batch * 2) + 1  # + the one-at-a-time loop's warm-up item
    records = []
    for i in range(n_img):
        path = work / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)
        rec = normalise_record(
            {
                "item_id": str(i),
                "media": str(path),
                "media_type": "image",
                "dimension": "quality" if i % 2 else "alignment",
                "prompt": "a red cube on a wooden table next to a small green plant",
                "mos": 1 + 4 * rng.random(),
            }
        )
        rec["index"] = i
        rec["media_obj"] = Image.open(path).convert("RGB")
        records.append(rec)
    collate = ScorerCollator(proc)
    if args.smoke:
        from transformers import AutoModelForImageTextToText

        device_name, device = "cpu (smoke run: tiny model, float32)", torch.device("cpu")
        model = AutoModelForImageTextToText.from_pretrained(tiny, attn_implementation=args.attn)
    else:
        device_name, device = torch.cuda.get_device_name(0), torch.device("cuda")
        print(f"device: {device_name}; building Qwen2-VL-7B (random weights, bf16)...", flush=True)
        t = time.time()
        model = build_model(tok_ids, args.attn)
        print(
            f"built in {time.time() - t:.0f}s, {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params",
            flush=True,
        )
    results: dict = {"device": device_name, "smoke": args.smoke, "image_side": side, "attn": args.attn}
    on_gpu = device.type == "cuda"

    def sync():
        if on_gpu:
            torch.cuda.synchronize()

    def to_dev(b):
        return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in b.items()}

    # --- scoring: batched (this package) ---
    model.eval()
    batches = [to_dev(collate(records[i : i + args.score_batch])) for i in range(0, args.score_items, args.score_batch)]
    with torch.no_grad():
        split_batch(batches[0])
        answer_logits(model, split_batch(batches[0])[0])
        sync()
        t = time.time()
        for b in batches:
            expected_score(level_probabilities(answer_logits(model, split_batch(b)[0]), level_ids)).tolist()
        sync()
    batched_s = time.time() - t
    results["score_batched_items_per_s"] = args.score_items / batched_s
    results["score_batch"] = args.score_batch

    # --- scoring: one at a time, like the released infer.py (processor per item, generate 1 token, logits) ---
    n_single = min(args.score_items, 32)
    idx = torch.tensor(level_ids, device=device)
    with torch.no_grad():
        t = None  # type: ignore[assignment]  # set once the first item has warmed up
        for k, rec in enumerate(records[: n_single + 1]):
            if k == 1:  # the first item warms up
                sync()
                t = time.time()
            inputs, _ = split_batch(collate([rec]))
            out = model.generate(
                **to_dev(inputs),
                max_new_tokens=1,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=tok_ids["<|endoftext|>"],
            )
            probs = torch.softmax(out.logits[0][0].float()[idx], -1)
            _ = 1 + 4 * float((probs * torch.tensor([1, 0.75, 0.5, 0.25, 0], device=device)).sum())
        sync()
    results["score_one_at_a_time_items_per_s"] = n_single / (time.time() - t)
    results["batched_speedup"] = results["score_batched_items_per_s"] / results["score_one_at_a_time_items_per_s"]

    # --- training: LoRA, bf16, AdamW ---
    model = prepare_for_training(model, cfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tb = [to_dev(collate(records[i : i + args.train_batch])) for i in range(0, args.train_batch * 2, args.train_batch)]
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    for step in range(args.train_steps + 2):
        if step == 2:
            sync()
            t = time.time()
        inputs, labels = split_batch(tb[step % len(tb)])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=on_gpu):
            logits = answer_logits(model, inputs)
        out = scorer_loss(logits, level_ids, labels["target_level"], labels["mos"])
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync()
    results["train_samples_per_s"] = args.train_steps * args.train_batch / (time.time() - t)
    results["train_batch"] = args.train_batch
    results["train_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None
    results["gradient_checkpointing"] = cfg.gradient_checkpointing
    results["levels"] = list(LEVELS)
    print(json.dumps(results, indent=1))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
