"""Parity with the released inference: score a released Q-Eval-Score checkpoint the way utils/infer.py does
and the way this package does (``media_tag`` keep and strip), on given media, and print the differences.

What "the released way" is (zzc-1998/Q-Eval, utils/infer.py): one item at a time; messages with the media
part first and the text still starting with the literal ``<image>``/``<video>`` tag; ``Qwen2VLProcessor`` plus
``qwen_vl_utils.process_vision_info`` (videos: fps 8, max_pixels 100352); fp16; logits of the last position;
softmax over the five level words' first tokens; weights [1, .75, .5, .25, 0]. It is re-stated below
(``released_score``) with those libraries, so the comparison is with their real behaviour.

    python benchmarks/scorer_infer_parity.py --checkpoint /models/q-eval-score-image-alignment \\
        --dimension alignment --media a.png --prompt "a red cube" [--media b.png --prompt "..."] \\
        [--processor /models/Qwen2-VL-7B-Instruct] [--device cuda]

Output: one JSON line per item with the three scores (1-5 scale: 1 + 4 * wa5) and a summary: the largest
|released - ours(keep)| (expected ~0: only the resize kernels of images differ, Pillow in both here, and
the fp16 path), and the mean shift that stripping the tag causes (what the checkpoint was trained on through
ms-swift vs what infer.py sends).

It needs a CUDA GPU, the checkpoint on disk, torchvision and qwen-vl-utils: without any of them it says which
and exits with status 2 (tests/scorer/test_infer_parity_script.py checks that it does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def missing_requirements(checkpoint: str | None, device: str) -> list[str]:
    """What keeps the parity run from running here (empty when it can run)."""
    problems = []
    try:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            problems.append("no CUDA device (the released checkpoint is a 7B model; run this on a GPU box)")
    except ImportError:
        problems.append("torch is not installed")
    if not checkpoint or not (Path(checkpoint) / "config.json").exists():
        problems.append(f"no checkpoint at {checkpoint!r} (a merged Q-Eval-Score model directory with config.json)")
    try:
        from qwen_vl_utils import process_vision_info  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - it imports torchvision at module level
        problems.append(f"qwen_vl_utils does not import ({type(exc).__name__}: it needs torchvision)")
    try:
        import torchvision  # noqa: F401
        from transformers import Qwen2VLProcessor  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Qwen2VLProcessor needs torchvision ({type(exc).__name__})")
    return problems


def released_score(model, processor, tokenizer, *, media: str, media_type: str, user_text: str, device: str) -> float:
    """utils/infer.py's scoring of one item, re-stated (same messages, libraries and arithmetic)."""
    import numpy as np
    import torch
    from qwen_vl_utils import process_vision_info

    part = (
        {"type": "image", "image": media}
        if media_type == "image"
        else {"type": "video", "video": media, "max_pixels": 100352, "fps": 8}
    )
    messages = [{"role": "user", "content": [part, {"type": "text", "text": user_text}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image_inputs, video_inputs = process_vision_info(messages)
    inputs = processor(text=[text], images=image_inputs, videos=video_inputs, padding=True, return_tensors="pt").to(
        device
    )
    toks = ["Good", "Poor", "Fair", "Excellent", "Bad"]
    ids_ = [id_[0] for id_ in tokenizer(toks)["input_ids"]]
    with torch.inference_mode():
        logits = model(**inputs)["logits"][:, -1]
    by_word = {tok: logits[0, i].item() for tok, i in zip(toks, ids_)}
    lp = np.array([by_word[w] for w in ("Excellent", "Good", "Fair", "Poor", "Bad")])
    probs = np.exp(lp) / np.sum(np.exp(lp))
    return 1.0 + 4.0 * float(np.inner(probs, np.array([1, 0.75, 0.5, 0.25, 0.0])))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="merged released checkpoint directory")
    ap.add_argument(
        "--processor", help="processor directory (infer.py loads Qwen2-VL-7B-Instruct's); default: the checkpoint"
    )
    ap.add_argument("--dimension", choices=("quality", "alignment"), default="alignment")
    ap.add_argument("--media", action="append", default=[])
    ap.add_argument("--prompt", action="append", default=[])
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)

    problems = missing_requirements(args.checkpoint, args.device)
    if problems:
        print("parity run not possible here: " + "; ".join(problems), file=sys.stderr)
        return 2
    if not args.media or len(args.prompt) not in (1, len(args.media)):
        print("give --media files and one --prompt per file (or one for all)", file=sys.stderr)
        return 2

    import torch
    from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    from training.scorer.media import media_type_of
    from training.scorer.modeling import LoadedScorer, load_scorer
    from training.scorer.predict import score_items
    from training.scorer.prompts import context_prompt

    model = Qwen2VLForConditionalGeneration.from_pretrained(
        args.checkpoint, dtype=torch.float16, device_map=args.device
    ).eval()
    processor = Qwen2VLProcessor.from_pretrained(args.processor or args.checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    ours = load_scorer(args.checkpoint, device=args.device, overrides={"bf16": False})
    ours = LoadedScorer(
        model=model, processor=ours.processor, config=ours.config, level_ids=ours.level_ids, path=ours.path
    )
    prompts = args.prompt * len(args.media) if len(args.prompt) == 1 else args.prompt
    rows = []
    for media, prompt in zip(args.media, prompts):
        media_type = media_type_of(media)
        user = context_prompt(media_type=media_type, dimension=args.dimension, prompt=prompt)
        row = {
            "media": media,
            "prompt": prompt,
            "media_type": media_type,
            "released": released_score(
                model, processor, tokenizer, media=media, media_type=media_type, user_text=user, device=args.device
            ),
        }
        for tag in ("keep", "strip"):
            res = score_items(
                ours,
                [{"media": media, "prompt": prompt, "media_type": media_type}],
                batch_size=1,
                dimensions=(args.dimension,),
                overrides={"media_tag": tag},
            )[0]
            row[f"ours_{tag}"] = res[args.dimension]
        rows.append(row)
        print(json.dumps(row), flush=True)
    keep_gap = max(abs(r["released"] - r["ours_keep"]) for r in rows)
    strip_shift = sum(r["ours_strip"] - r["ours_keep"] for r in rows) / len(rows)
    print(
        json.dumps(
            {
                "items": len(rows),
                "max_abs_released_minus_ours_keep": keep_gap,
                "mean_strip_minus_keep": strip_shift,
                "dimension": args.dimension,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
