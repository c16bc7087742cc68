"""GPU throughput of the scorer at full size: training samples/s and batched vs one-at-a-time scoring.

Why: the paper's released code (zzc-1998/Q-Eval, utils/infer.py) scores one item at a time with
``generate``; this package scores in batches (:func:`training.scorer.predict.score_records`: batches of similar
media size, left padding, ``logits_to_keep=1``, results kept on the device until the end, loader workers and
pinned memory on CUDA). This benchmark puts numbers on both, in the same run, on the same random-weight model,
together with LoRA training speed and peak memory.

What it builds: ``Qwen2VLForConditionalGeneration`` with the configuration of Qwen2-VL-7B-Instruct (values
hard-coded below: 28 layers, hidden 3584, vision depth 32, vocab 152064), random weights, bf16, sdpa attention
(flash_attention_2 with ``--attn flash_attention_2`` where flash-attn is installed), on the GPU; no download.
The tokenizer and image-processor files are those of the tiny model (:mod:`training.scorer.tiny`), whose
special-token ids are written into the config; the exact context prompts are used, so sequence lengths are close
to the real tokenizer's. The items are PNG files of mixed sizes (sides from half to 1.5x ``--image-side``, in
steps of 28 px) with prompts of 4 to 60 words, in random order, both dimensions: what a scoring job meets.

Measured: the real scoring path (``score_records``: files read and processed in loader workers, batched) with
size grouping on and off, and the padding share of each; where that time goes (the loader alone, with its
start-up, i.e. the time to its first batch; each item's collation in one process; the model alone on batches
already on the GPU, which is the rate a long scoring job approaches once the loader keeps ahead of it, and
``--profile-batches`` writes its CUDA kernels by time); the model alone again with transformers' own vision
attention (one SDPA call per image per layer) instead of the platform's batched one (``vision_attention``);
the one-at-a-time loop (transformers' own vision attention, as the released script runs it; processor per item,
``generate`` one token, level logits, a Python float) on the first ``--single-items``; LoRA training steps.

    python benchmarks/scorer_gpu_throughput.py [--score-batch 32] [--score-items 256] [--image-side 448] [--out f.json]

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


def make_records(work: Path, n: int, side: int, seed: int = 0) -> list[dict]:
    """``n`` PNG files of mixed sizes with prompts of mixed lengths, in random order, both dimensions."""
    import numpy as np
    from PIL import Image

    from training.scorer.data import normalise_record

    rng = np.random.default_rng(seed)
    words = (
        "a red cube on a wooden table next to a small green plant in soft morning light with a cat sleeping "
        "beside an open book while rain falls outside the window of an old house near the sea at dusk"
    ).split()
    lo, hi = max(1, side // 2 // 28), max(1, (3 * side // 2) // 28)
    records = []
    for i in range(n):
        w, h = 28 * int(rng.integers(lo, hi + 1)), 28 * int(rng.integers(lo, hi + 1))
        path = work / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        n_words = int(rng.integers(4, 61))
        records.append(
            normalise_record(
                {
                    "item_id": str(i),
                    "media": str(path),
                    "media_type": "image",
                    "dimension": "quality" if i % 2 else "alignment",
                    "prompt": " ".join(words[j % len(words)] for j in range(i, i + n_words)),
                    "mos": 1 + 4 * float(rng.random()),
                }
            )
        )
    return records


def profile_model(model_pass, out: Path) -> Path:
    """The CUDA kernels of a model-only pass over the first batches, by their own time (the top 40), written
    beside the figures: where the model's share of the batched time goes."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        model_pass()
        if cuda:
            torch.cuda.synchronize()
    path = out.with_suffix(".profile.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    by = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=by, row_limit=40, max_name_column_width=70)
    path.write_text(table + "\n")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-steps", type=int, default=8)
    ap.add_argument("--score-batch", type=int, default=32)
    ap.add_argument("--score-items", type=int, default=256)
    ap.add_argument("--single-items", type=int, default=32, help="items the one-at-a-time loop scores")
    ap.add_argument("--score-repeats", type=int, default=2, help="passes of each batched way; the fastest counts")
    ap.add_argument("--image-side", type=int, default=448, help="the middle size: 448 px is 256 visual tokens")
    ap.add_argument("--attn", default="sdpa", choices=("sdpa", "flash_attention_2", "eager"))
    ap.add_argument("--no-gradient-checkpointing", action="store_true")
    ap.add_argument(
        "--workers", type=int, help="loader workers for batched scoring (default: the config's auto, 4 on CUDA)"
    )
    ap.add_argument("--out", type=Path, help="also write the JSON figures here")
    ap.add_argument(
        "--profile-batches",
        type=int,
        default=0,
        help="on a GPU with --out: profile the model-only pass (its first N batches' CUDA kernels) into <out>.profile.txt",
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="the tiny model on the CPU in float32: checks the script, measures nothing about a GPU",
    )
    args = ap.parse_args(argv)
    for name in (
        "train_batch",
        "train_steps",
        "score_batch",
        "score_items",
        "single_items",
        "score_repeats",
        "image_side",
    ):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers is not None and args.workers < 0:
        ap.error("--workers must be at least 0")

    import torch

    if not args.smoke and not torch.cuda.is_available():
        print(
            "scorer_gpu_throughput: no CUDA device here; this benchmark needs a GPU (it builds a 7B model). "
            "Nothing was measured.",
            file=sys.stderr,
        )
        return 2

    import transformers

    from training.scorer.batching import batch_plan, padding_tokens
    from training.scorer.config import ScorerConfig
    from training.scorer.data import MediaSettings, ScorerCollator, loader_workers, split_batch
    from training.scorer.modeling import answer_logits, attention_implementation, prepare_for_training
    from training.scorer.positions import loader_positions
    from training.scorer.predict import score_records, scoring_batches, scoring_loader
    from training.scorer.processing import load_processor
    from training.scorer.prompts import LEVELS
    from training.scorer.scoring import level_probabilities, level_token_ids, scorer_loss
    from training.scorer.tiny import SPECIAL_TOKENS, build_tiny_model
    from training.scorer.vision_attention import set_vision_attention

    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
    tiny = build_tiny_model(work / "tiny")
    side = args.image_side
    device = torch.device("cpu" if args.smoke else "cuda")
    attn = attention_implementation(args.attn, device)
    biggest = 28 * max(1, (3 * side // 2) // 28)
    cfg = ScorerConfig(
        model_name_or_path=str(tiny),
        bf16=not args.smoke,
        attn_implementation=attn,
        gradient_checkpointing=not args.no_gradient_checkpointing,
        image_min_pixels=28 * 28,
        image_max_pixels=biggest * biggest,  # every image is scored at its own size
        eval_batch_size=args.score_batch,
        num_workers=args.workers,
    )
    proc = load_processor(tiny, config=cfg)
    level_ids = level_token_ids(proc.tokenizer)
    tok_ids = {t: proc.tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    n_single = min(args.single_items, args.score_items)
    records = make_records(work, max(args.score_items, args.train_batch * 2, n_single + 1), side)
    scored = records[: args.score_items]
    collate = ScorerCollator(proc, MediaSettings.from_config(cfg))
    if args.smoke:
        from transformers import AutoModelForImageTextToText

        device_name = "cpu (smoke run: tiny model, float32)"
        model = AutoModelForImageTextToText.from_pretrained(tiny, attn_implementation=attn)
    else:
        device_name = torch.cuda.get_device_name(0)
        print(f"device: {device_name}; building Qwen2-VL-7B (random weights, bf16, {attn})...", flush=True)
        t = time.time()
        model = build_model(tok_ids, attn)
        print(
            f"built in {time.time() - t:.0f}s, {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params",
            flush=True,
        )
    # as the platform loads a scorer (modeling.load_base_model): Qwen2-VL's vision attention in one SDPA call per
    # run of equal-sized images; the model-only passes below measure it against transformers' per-image loop
    vision_layers = set_vision_attention(model, "batched")
    results: dict = {
        "device": device_name,
        "vision_attention": f"batched ({vision_layers} layers)",
        "smoke": args.smoke,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "attn": attn,
        "image_side": side,
        "score_items": args.score_items,
        "score_batch": args.score_batch,
        "loader_workers": loader_workers(cfg.num_workers, device),
    }
    on_gpu = device.type == "cuda"

    def sync():
        if on_gpu:
            torch.cuda.synchronize()

    def reset_peak():
        if on_gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib():
        if on_gpu:
            return round(torch.cuda.max_memory_allocated() / 2**30, 2)
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)  # the process's RSS, KiB

    results["peak_memory_kind"] = "GPU, allocated by torch" if on_gpu else "CPU, the process's peak RSS"

    # --- scoring: batched (this package's path), with and without size grouping ---
    model.eval()
    score_records(model, proc, level_ids, scored[: args.score_batch], cfg)  # warm-up: kernels, allocator
    by_grouping: dict = {}
    best: dict = {}
    # each way twice, interleaved, the faster pass counted: whichever ran first would otherwise pay for the
    # shapes it meets first (kernel choice, allocator growth)
    for _ in range(args.score_repeats):
        for group in (False, True):
            reset_peak()
            sync()
            t = time.time()
            by_grouping[group] = score_records(model, proc, level_ids, scored, cfg, group_by_size=group)
            sync()
            best[group] = min(best.get(group, float("inf")), time.time() - t)
            results[f"score{'' if group else '_ungrouped'}_peak_gib"] = peak_gib()
    plans = {group: batch_plan(scored, collate, args.score_batch, group_by_size=group) for group in (False, True)}
    for group in (False, True):
        label = "" if group else "_ungrouped"
        results[f"score_batched{label}_items_per_s"] = args.score_items / best[group]
        pad, total = padding_tokens(scored, collate, plans[group])
        results[f"score{label}_padding_share"] = round(pad / total, 4)
    results["score_repeats"] = args.score_repeats
    results["score_grouping_speedup"] = (
        results["score_batched_items_per_s"] / results["score_batched_ungrouped_items_per_s"]
    )
    results["score_grouped_vs_ungrouped_max_abs_diff"] = max(
        abs(a[0] - b[0]) for a, b in zip(by_grouping[True], by_grouping[False])
    )

    # --- where the batched time goes: the loader alone (same workers, same plan, its first batch collated
    # in-process while the workers start, as score_records takes them), then the model alone ---
    # the first batch comes before the model can begin: a fixed cost per scoring job, which a short run like this
    # one pays in full and a 100K-item job hardly notices
    t = time.time()
    loaded, first = 0, None
    # as score_records collates them: with the model's position ids (positions.py)
    positions = loader_positions(model)
    for b in scoring_batches(
        scoring_loader(proc, scored, cfg, args.score_batch, device, group_by_size=True, positions=positions)
    ):
        first = first or time.time() - t
        loaded += len(b["index"])
    results["score_loader_only_items_per_s"] = loaded / (time.time() - t)
    results["score_loader_first_batch_s"] = round(first or 0.0, 3)
    t = time.time()
    collate_scored = ScorerCollator(proc, MediaSettings.from_config(cfg), positions=positions)
    batches = [split_batch(collate_scored([{**scored[i], "index": i} for i in b]))[0] for b in plans[True]]
    results["score_collate_ms_per_item_one_process"] = 1000 * (time.time() - t) / len(scored)
    batches = [{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in b.items()} for b in batches]

    def model_only_pass(limit: int | None = None):
        for b in batches[:limit]:
            level_probabilities(answer_logits(model, b), idx)

    def timed_model_only_pass() -> float:
        sync()
        t = time.time()
        model_only_pass()
        sync()
        return len(scored) / (time.time() - t)

    idx = torch.tensor(level_ids, device=device)
    with torch.inference_mode():  # no warm-up: the grouped passes above ran these exact shapes
        results["score_model_only_items_per_s"] = timed_model_only_pass()
        if args.profile_batches and on_gpu and args.out:
            results["profile"] = str(profile_model(lambda: model_only_pass(args.profile_batches), args.out))
        # the vision attention's two ways on the same batches (vision_attention.py): transformers' per-image loop
        # (its kernels warmed up on one batch first), then the batched way again, the faster of its passes counted
        set_vision_attention(model, "per_image")
        model_only_pass(1)
        results["score_model_only_per_image_attention_items_per_s"] = timed_model_only_pass()
        set_vision_attention(model, "batched")
        results["score_model_only_items_per_s"] = max(results["score_model_only_items_per_s"], timed_model_only_pass())
        results["vision_attention_speedup"] = (
            results["score_model_only_items_per_s"] / results["score_model_only_per_image_attention_items_per_s"]
        )
    batches.clear()  # their GPU memory goes back before the one-at-a-time loop

    # --- scoring: one at a time, like the released infer.py (processor per item, generate 1 token, logits) ---
    # with transformers' own vision attention, as that script runs it (and as stop 24's baseline did; with one image
    # per forward the batched way would only drop the per-layer host reads)
    set_vision_attention(model, "per_image")
    results["one_at_a_time_vision_attention"] = "per_image"
    with torch.inference_mode():
        t = None  # type: ignore[assignment]  # set once the first item has warmed up
        for k, rec in enumerate(records[: n_single + 1]):
            if k == 1:  # the first item warms up
                sync()
                t = time.time()
            inputs, _ = split_batch(collate([{**rec, "index": k}]))
            out = model.generate(
                **{key: (v.to(device) if torch.is_tensor(v) else v) for key, v in inputs.items()},
                max_new_tokens=1,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=tok_ids["<|endoftext|>"],
            )
            probs = torch.softmax(out.logits[0][0].float()[idx], -1)
            _ = 1 + 4 * float((probs * torch.tensor([1, 0.75, 0.5, 0.25, 0], device=device)).sum())
        sync()
    results["score_one_at_a_time_items"] = n_single
    results["score_one_at_a_time_items_per_s"] = n_single / (time.time() - t)
    single = results["score_one_at_a_time_items_per_s"]
    results["batched_speedup"] = results["score_batched_items_per_s"] / single
    results["batched_speedup_ungrouped"] = results["score_batched_ungrouped_items_per_s"] / single
    results["batched_speedup_goal"] = 5.0
    results["batched_speedup_goal_met"] = None if args.smoke else results["batched_speedup"] >= 5.0

    # --- training: LoRA, bf16, AdamW (the vision attention as the platform trains: batched) ---
    set_vision_attention(model, "batched")
    model = prepare_for_training(model, cfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tb = [
        {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in collate(batch).items()}
        for batch in (
            [{**r, "index": i} for i, r in enumerate(records[j : j + args.train_batch])]
            for j in range(0, args.train_batch * 2, args.train_batch)
        )
    ]
    reset_peak()
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
    results["train_peak_gib"] = peak_gib()
    results["gradient_checkpointing"] = cfg.gradient_checkpointing
    results["levels"] = list(LEVELS)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
