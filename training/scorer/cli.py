"""Command line: ``python -m training.scorer {train,evaluate,score,tiny}``.

::

    python -m training.scorer train --config cfg.yaml [key=value ...]
        # multi-GPU / DeepSpeed: accelerate launch [--config_file ds.yaml] -m training.scorer train --config cfg.yaml
    python -m training.scorer evaluate --predictions predictions.csv --out DIR
    python -m training.scorer evaluate --checkpoint CKPT --data EXPORT_DIR [--split test] --out DIR [key=value ...]
    python -m training.scorer score --checkpoint CKPT --media a.png --prompt "a red cube" [--media b.mp4 --prompt "..."]
    python -m training.scorer score --checkpoint CKPT --jsonl items.jsonl [--batch-size 8] [--out scores.jsonl]
        # items.jsonl lines: {"media": "a.png", "prompt": "...", "media_type": "image"}  (media_type optional)
    python -m training.scorer tiny --out DIR [--seed 0]
    python -m training.scorer baseline --name clipscore --model DIR --data EXPORT [--split test] --out DIR [--head H]
    python -m training.scorer baseline-finetune --name clipscore --model DIR --data EXPORT --dimension alignment --out DIR
    python -m training.scorer benchmark --data EXPORT [--split test] --out DIR --method ours=qeval:CKPT \
        --method clip=clipscore:/models/clip --method old=predictions:run/predictions.csv [--bootstrap 1000]

``key=value`` overrides are ScorerConfig fields (unknown keys are an error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError  # PyYAML only: the heavy imports stay inside the commands


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.scorer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="fine-tune the scorer")
    t.add_argument("--config", help="YAML file of ScorerConfig fields")
    t.add_argument("overrides", nargs="*", help="key=value overrides")

    e = sub.add_parser("evaluate", help="report from a predictions CSV, or evaluate a checkpoint on an export")
    e.add_argument("--predictions", help="predictions CSV (report only)")
    e.add_argument("--checkpoint", help="checkpoint/export directory to evaluate")
    e.add_argument("--data", help="sft export directory")
    e.add_argument("--split", default="test", help="split name ('all' = sft.jsonl)")
    e.add_argument("--out", required=True, help="output directory (report.json, predictions.csv, plots)")
    e.add_argument("--long-prompt-words", type=int, default=25)
    e.add_argument(
        "--logistic",
        type=int,
        choices=(4, 5),
        default=4,
        help="parameters of the monotonic logistic behind plcc_logistic (plain 'plcc' is the paper's)",
    )
    e.add_argument("--no-plots", action="store_true")
    e.add_argument("--batch-size", type=int)
    e.add_argument("overrides", nargs="*", help="key=value ScorerConfig overrides (e.g. v2s_enabled=true)")

    s = sub.add_parser("score", help="score media files with a checkpoint")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--media", action="append", default=[])
    s.add_argument("--prompt", action="append", default=[])
    s.add_argument("--jsonl", help="JSONL file of {media, prompt[, media_type]}")
    s.add_argument("--batch-size", type=int, default=8)
    s.add_argument("--dimensions", default="quality,alignment")
    s.add_argument("--v2s", action="store_true", help="apply Vague-to-Specific to long prompts (needs an LLM)")
    s.add_argument("--v2s-llm", help="V2S rewriter: a local causal LM directory or hub id")
    s.add_argument(
        "--v2s-fallback",
        action="store_true",
        help="V2S with the heuristic splitter when no LLM is given (not comparable to the paper's Table 5)",
    )
    s.add_argument("--out", help="write JSONL here instead of stdout")

    y = sub.add_parser("tiny", help="write a tiny random Qwen2-VL for tests and demos")
    y.add_argument("--out", required=True)
    y.add_argument("--seed", type=int, default=0)

    b = sub.add_parser("baseline", help="score an export's split with a baseline (predictions.csv + report.json)")
    b.add_argument(
        "--name",
        required=True,
        help="clipscore, pickscore, hpsv2, blip2-itm, vqascore, imagereward, clip-iqa, q-align, niqe, brisque",
    )
    b.add_argument("--model", help="local model folder or file of the baseline")
    b.add_argument("--head", help="fitted head (head.json) of a CLIP-style baseline: the fine-tuned variant")
    b.add_argument("--data", required=True)
    b.add_argument("--split", default="test")
    b.add_argument("--out", required=True)
    b.add_argument("--batch-size", type=int, default=16)

    f = sub.add_parser("baseline-finetune", help="fit the linear head of a CLIP-style baseline on a split's MOS")
    f.add_argument("--name", required=True)
    f.add_argument("--model", required=True)
    f.add_argument("--data", required=True)
    f.add_argument("--dimension", required=True, choices=("quality", "alignment"))
    f.add_argument("--split", default="train")
    f.add_argument("--alpha", type=float, default=1.0, help="ridge penalty")
    f.add_argument("--out", required=True)

    k = sub.add_parser("benchmark", help="the paper's Tables 2, 3, 5 and per category, with intervals and tests")
    k.add_argument("--data", required=True, help="sft export directory")
    k.add_argument("--split", default="test")
    k.add_argument("--out", required=True)
    k.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="NAME=KIND:PATH",
        help="KIND: predictions (a CSV), qeval (a checkpoint) or a baseline name (repeat)",
    )
    k.add_argument("--bootstrap", type=int, default=1000)
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--batch-size", type=int, default=8)
    k.add_argument("--long-prompt-words", type=int, default=25)
    k.add_argument("overrides", nargs="*", help="key=value ScorerConfig overrides for the qeval methods")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; what a person can mend (a bad config, a file that is missing, unreadable or not what it
    should be) is one line on stderr and exit code 1, not a traceback. Anything else keeps its traceback."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"python -m training.scorer {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg}, line {exc.lineno})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _run(args: argparse.Namespace) -> int:
    if args.command == "train":
        from .config import load_config
        from .train import train

        cfg = load_config(args.config, args.overrides)

        def show(ev: dict) -> None:
            if ev.get("event") == "eval":
                ev = {**ev, "metrics": {d: v.get("all") for d, v in ev["metrics"].items() if not d.startswith("_")}}
            print(json.dumps(ev, default=str), flush=True)

        result = train(cfg, on_progress=show)
        print(
            json.dumps(
                {
                    "final_dir": str(result.final_dir),
                    "checkpoint_dir": str(result.checkpoint_dir),
                    "global_step": result.global_step,
                    "stopped": result.stopped,
                }
            )
        )
        return 0

    if args.command == "evaluate":
        if args.predictions:
            from .metrics import evaluate_predictions_file

            report = evaluate_predictions_file(
                args.predictions,
                args.out,
                long_prompt_words=args.long_prompt_words,
                plots=not args.no_plots,
                logistic=args.logistic,
            )
        elif args.checkpoint and args.data:
            from .config import parse_overrides
            from .predict import evaluate_checkpoint

            ov = parse_overrides(args.overrides)
            ov.setdefault("long_prompt_words", args.long_prompt_words)
            if args.no_plots:
                ov["eval_plots"] = False
            report = evaluate_checkpoint(
                args.checkpoint, args.data, split=args.split, out_dir=args.out, batch_size=args.batch_size, overrides=ov
            ).report
        else:
            print("evaluate needs --predictions FILE, or --checkpoint DIR and --data DIR", file=sys.stderr)
            return 2
        summary = {
            d: {m: v.get("instance", {}).get("srcc") for m, v in by.items() if isinstance(v, dict) and "instance" in v}
            for d, by in report.items()
            if not d.startswith("_")
        }
        print(json.dumps({"report": str(Path(args.out) / "report.json"), "instance_srcc": summary}))
        return 0

    if args.command == "score":
        from .predict import score_items

        items = []
        if args.jsonl:
            with open(args.jsonl, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"{args.jsonl} line {n}: not valid JSON ({exc.msg})") from None
                    if not isinstance(item, dict) or "media" not in item:
                        raise ConfigError(f'{args.jsonl} line {n}: each line is an object with "media" and "prompt"')
                    items.append(item)
        if args.media:
            prompts = args.prompt or [""] * len(args.media)
            if len(prompts) == 1 and len(args.media) > 1:
                prompts = prompts * len(args.media)
            if len(prompts) != len(args.media):
                print("give one --prompt per --media (or one for all)", file=sys.stderr)
                return 2
            items += [{"media": m, "prompt": pr} for m, pr in zip(args.media, prompts)]
        if not items:
            print("nothing to score: give --media/--prompt or --jsonl", file=sys.stderr)
            return 2
        dims = [d.strip() for d in args.dimensions.split(",") if d.strip()]
        overrides = {}
        if args.v2s_llm:
            overrides["v2s_llm"] = args.v2s_llm
        if args.v2s_fallback:
            overrides["v2s_rewriter"] = "fallback"
        results = score_items(
            args.checkpoint,
            items,
            batch_size=args.batch_size,
            dimensions=dims,
            v2s=args.v2s,
            overrides=overrides or None,
        )
        lines = "\n".join(json.dumps(r) for r in results) + "\n"
        if args.out:
            Path(args.out).write_text(lines)
        else:
            sys.stdout.write(lines)
        return 0

    if args.command in ("baseline", "baseline-finetune", "benchmark"):
        return _baselines_and_benchmark(args)

    if args.command == "tiny":
        from .tiny import build_tiny_model

        print(build_tiny_model(args.out, seed=args.seed))
        return 0
    return 2


def _baselines_and_benchmark(args) -> int:
    from .baselines import BaselineUnavailable

    try:
        if args.command == "baseline":
            from .baselines import load_baseline, run_baseline

            res = run_baseline(
                load_baseline(args.name, args.model, head=args.head),
                args.data,
                split=args.split,
                out_dir=args.out,
                batch_size=args.batch_size,
                method=f"{args.name}-ft" if args.head else args.name,
            )
            inst = {
                m: v["instance"]["srcc"]
                for d, by in res.report.items()
                if not d.startswith("_")
                for m, v in by.items()
                if isinstance(v, dict) and "instance" in v
            }
            print(json.dumps({"predictions": str(res.predictions_path), "rows": len(res.rows), "instance_srcc": inst}))
        elif args.command == "baseline-finetune":
            from .baselines import finetune_baseline

            path = finetune_baseline(
                args.name,
                args.model,
                args.data,
                dimension=args.dimension,
                out_dir=args.out,
                split=args.split,
                alpha=args.alpha,
            )
            print(json.dumps({"head": str(path)}))
        else:
            from .benchmark import MethodSpec, run_benchmark
            from .config import parse_overrides

            specs = [MethodSpec.parse(m) for m in args.method]
            report = run_benchmark(
                specs,
                args.data,
                split=args.split,
                out_dir=args.out,
                bootstrap=args.bootstrap,
                seed=args.seed,
                batch_size=args.batch_size,
                long_prompt_words=args.long_prompt_words,
                overrides=parse_overrides(args.overrides),
            )
            print(json.dumps({"report": str(Path(args.out) / "benchmark.md"), "methods": report["_meta"]["methods"]}))
    except (BaselineUnavailable, ValueError, FileNotFoundError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
