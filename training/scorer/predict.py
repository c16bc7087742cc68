"""Batched scoring: evaluate a checkpoint on an export split, or score new (media, prompt) items.

Public API (the platform calls these in-process)::

    from training.scorer.predict import predict, evaluate_checkpoint, score_items
    from training.scorer.modeling import load_scorer

    res = evaluate_checkpoint(checkpoint_dir, data_dir, split="test", out_dir=eval_dir,
                              overrides={"v2s_enabled": True}, on_progress=None, v2s_llm=None)
    res.predictions_path, res.report_path, res.report, res.rows

    rows = predict(checkpoint_dir, data_dir, split="test")          # rows only, nothing written

    score_items(checkpoint_dir_or_LoadedScorer,
                [{"media": "a.png", "prompt": "a red cube"}, {"media": "b.mp4", "prompt": "...", "media_type": "video"}],
                batch_size=8, dimensions=("quality", "alignment"), v2s=False)
    -> [{"media", "prompt", "media_type", "quality": 3.71, "alignment": 4.02,
         "quality_probs": {"Excellent": ..., ...}, "alignment_probs": {...}}, ...]

``predictions.csv`` columns: item_id, generator, media_type, dimension, mos, prediction, p_excellent,
p_good, p_fair, p_poor, p_bad, prompt_words, prediction_raw (score before V2S), v2s_method. The report is
:func:`training.scorer.metrics.build_report`'s. With ``v2s_enabled``, alignment items whose prompt has more
than ``long_prompt_words`` words are also scored with the V2S prompts and combined (see
:mod:`training.scorer.v2s`); ``report["_meta"]["v2s"]`` says which rewriter was used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .batching import PlannedBatches, batch_plan
from .config import ScorerConfig
from .data import (
    MediaSettings,
    RecordDataset,
    ScorerCollator,
    loader_workers,
    normalise_record,
    read_records,
    split_batch,
)
from .media import media_type_of
from .metrics import write_predictions, write_report
from .modeling import LoadedScorer, answer_logits, load_scorer
from .positions import LoaderPositions, loader_positions
from .prompts import LEVELS, context_prompt
from .scoring import expected_score, level_probabilities, level_weights
from .v2s import combine, describe, off_reason, rewriter_from_config, weights_for


@dataclass
class PredictResult:
    rows: list[dict]
    report: dict = field(default_factory=dict)
    predictions_path: Path | None = None
    report_path: Path | None = None


def score_records(
    model,
    processor,
    level_ids,
    records: list[dict],
    cfg: ScorerConfig,
    *,
    batch_size: int | None = None,
    accelerator=None,
    on_progress: Callable[[dict], None] | None = None,
    group_by_size: bool | None = None,
) -> list[tuple[float, list[float]]]:
    """(score 1-5, five level probabilities) per record, in the order of ``records``. Multi-process when
    ``accelerator``.

    Batches hold records of similar media size (``cfg.eval_group_by_size``, or ``group_by_size``; see
    :mod:`training.scorer.batching`), largest first. The loop does no per-item Python work and never waits for
    the GPU: scores, probabilities and indices stay on the device and are read once, at the end, then put back
    in the caller's order by each record's index.
    """
    bs = batch_size or cfg.eval_batch_size
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    loader = scoring_loader(
        processor, records, cfg, bs, device, group_by_size=group_by_size, positions=loader_positions(model)
    )
    if accelerator is not None:
        loader = accelerator.prepare_data_loader(loader)
    level_idx = torch.as_tensor(level_ids, dtype=torch.long, device=device)
    weights = level_weights(device)
    indices: list[torch.Tensor] = []
    scores: list[torch.Tensor] = []
    probs: list[torch.Tensor] = []
    total = len(loader)
    # inference_mode also skips version counters; DeepSpeed/ZeRO gathers parameters in hooks that must stay
    # usable outside it, so a prepared (training-time) model is scored under no_grad
    with torch.inference_mode() if accelerator is None else torch.no_grad():
        for i, batch in enumerate(loader if accelerator is not None else scoring_batches(loader)):
            model_inputs, labels = split_batch(batch)
            if accelerator is None:
                model_inputs = {
                    k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in model_inputs.items()
                }
            p = level_probabilities(answer_logits(model, model_inputs), level_idx)
            s = expected_score(p, weights)
            index = labels["index"].to(s.device, non_blocking=True)
            if accelerator is not None:
                index, s, p = accelerator.gather_for_metrics((index, s, p))
            indices.append(index)
            scores.append(s)
            probs.append(p)
            if on_progress:
                on_progress({"event": "predict", "batch": i + 1, "total_batches": total})
    return _in_caller_order(len(records), indices, scores, probs)


def scoring_loader(
    processor,
    records: list[dict],
    cfg: ScorerConfig,
    batch_size: int,
    device,
    *,
    group_by_size: bool | None = None,
    positions: LoaderPositions | None = None,
) -> DataLoader:
    """The batches :func:`score_records` scores: planned by media size (``cfg.eval_group_by_size`` unless
    ``group_by_size``), collated in loader workers on CUDA (with the model's position ids where ``positions``
    computes them: positions.py), pinned. Also what a benchmark times on its own, to tell a loader-bound run from
    a model-bound one."""
    group = cfg.eval_group_by_size if group_by_size is None else group_by_size
    collator = ScorerCollator(processor, MediaSettings.from_config(cfg), positions=positions)
    plan = batch_plan(records, collator, batch_size, group_by_size=group)
    # workers only overlap loading with the model from the second batch on: one batch (a synchronous API request)
    # loads in-process rather than starting processes for it
    workers = min(loader_workers(cfg.num_workers, device), len(plan)) if len(plan) > 1 else 0
    return DataLoader(
        RecordDataset(records),
        batch_sampler=PlannedBatches(plan, batch_size),
        collate_fn=collator,
        num_workers=workers,
        pin_memory=torch.device(device).type == "cuda",  # pinned batches copy to the GPU without blocking the loop
    )


def scoring_batches(loader: DataLoader) -> Iterable:
    """The loader's batches, the first collated in this process while the loader's workers start on the rest.

    Why: a loader with workers yields nothing until a worker has started and collated a whole batch (about 1.5 s
    for a batch of 32 images on the H200 machine, with the model idle: docs/training.md), a fixed cost that made
    a 512-item scoring job 4.6x the one-at-a-time loop where the model alone is 5.4x. Here the workers start at
    once on the second batch onwards (each prefetches its own) while this process collates the first, which the
    model then scores while the workers' batches come in. Same batches, same order; a loader without workers
    (the CPU's default, a daemonic Celery child) or with one batch is iterated as it is."""
    plan = getattr(loader.batch_sampler, "plan", None)
    if not loader.num_workers or plan is None or len(plan) < 2:
        yield from loader
        return
    rest = DataLoader(
        loader.dataset,
        batch_sampler=PlannedBatches(plan[1:], loader.batch_sampler.batch_size),  # type: ignore[union-attr]
        collate_fn=loader.collate_fn,
        num_workers=min(loader.num_workers, len(plan) - 1),
        pin_memory=loader.pin_memory,
    )
    batches = iter(rest)  # starts the workers: they collate the next batches while this process does the first
    yield loader.collate_fn([loader.dataset[i] for i in plan[0]])
    yield from batches


def _in_caller_order(n: int, indices, scores, probs) -> list[tuple[float, list[float]]]:
    """Device results of all batches -> Python values per record, by index: the device is read once, at the end."""
    if not indices:
        if n:
            raise RuntimeError(f"scoring returned no results for {n} records")
        return []
    index = torch.cat(indices).cpu()
    score = torch.cat(scores).float().cpu()
    prob = torch.cat(probs).float().cpu()
    out_s = torch.zeros(n)
    out_p = torch.zeros(n, prob.shape[-1])
    seen = torch.zeros(n, dtype=torch.bool)
    out_s[index] = score  # an index gathered twice (the last batch padded across processes) writes the same row
    out_p[index] = prob
    seen[index] = True
    missing = (~seen).nonzero().flatten().tolist()
    if missing:
        raise RuntimeError(f"scoring returned no result for records {missing[:10]} (of {n})")
    return list(zip(out_s.tolist(), out_p.tolist()))


def _v2s_variants(rec: dict, prompts, style: str = "context") -> list[dict]:
    variants = []
    for kind, text in [("vague", prompts.vague)] + [("specific", s) for s in prompts.specific]:
        v = dict(rec)
        v["prompt"] = text
        v["user_text"] = context_prompt(media_type=rec["media_type"], dimension="alignment", prompt=text, style=style)
        v["_v2s_kind"] = kind
        variants.append(v)
    return variants


def predict_records(
    model,
    processor,
    level_ids,
    records: list[dict],
    cfg: ScorerConfig,
    *,
    accelerator=None,
    v2s_llm: Callable[[str], str] | None = None,
    batch_size: int | None = None,
    on_progress=None,
) -> tuple[list[dict], dict]:
    """Prediction rows (with V2S when enabled) and a description of the V2S used."""
    extra: list[dict] = []
    owners: list[int] = []
    v2s_info: dict = {"used": False, "method": "off"}
    rewriter = rewriter_from_config(cfg, llm=v2s_llm) if cfg.v2s_enabled else None
    if cfg.v2s_enabled and rewriter is None:
        v2s_info = {"used": False, "method": "off", "requested": True, "reason": off_reason()}
    elif rewriter is not None:
        methods = set()
        for i, rec in enumerate(records):
            words = rec.get("prompt_words") or len(str(rec.get("prompt", "")).split())
            if rec["dimension"] == "alignment" and words > cfg.long_prompt_words:
                prompts = rewriter.rewrite(rec["prompt"])
                methods.add(prompts.method)
                for v in _v2s_variants(rec, prompts, cfg.prompt_style):
                    extra.append(v)
                    owners.append(i)
        v2s_info = describe(rewriter, cfg, methods, len(set(owners)))
    results = score_records(
        model,
        processor,
        level_ids,
        list(records) + extra,
        cfg,
        accelerator=accelerator,
        batch_size=batch_size,
        on_progress=on_progress,
    )
    base, rest = results[: len(records)], results[len(records) :]
    parts: dict[int, dict] = {}
    for owner, v, (s, _) in zip(owners, extra, rest):
        p = parts.setdefault(owner, {"vague": None, "specific": [], "method": ""})
        if v["_v2s_kind"] == "vague":
            p["vague"] = s
        else:
            p["specific"].append(s)
    rows = []
    for i, (rec, (score, probs)) in enumerate(zip(records, base)):
        row = {
            "item_id": rec.get("item_id", ""),
            "generator": rec.get("generator", ""),
            "media_type": rec["media_type"],
            "dimension": rec["dimension"],
            "mos": rec.get("mos"),
            "prediction": score,
            "prediction_raw": score,
            "prompt_words": rec.get("prompt_words"),
            "v2s_method": "off",
            "category": rec.get("category") or "",
            "subcategory": rec.get("subcategory") or "",
        }
        row.update({f"p_{lvl.lower()}": p for lvl, p in zip(LEVELS, probs)})
        if i in parts:
            w = weights_for(cfg)
            row["prediction"] = combine(
                score,
                parts[i]["vague"],
                parts[i]["specific"],
                w_original=w["original"],
                w_vague=w["vague"],
                w_specific=w["specific_mean"],
            )
            row["v2s_method"] = v2s_info["method"]
        rows.append(row)
    return rows, v2s_info


def evaluate_records(
    *,
    model,
    processor,
    level_ids,
    records,
    cfg: ScorerConfig,
    out_dir: str | Path | None,
    accelerator=None,
    v2s_llm=None,
    on_progress=None,
) -> dict:
    """Predict, then write predictions.csv + report.json (+ plots) to ``out_dir``; returns the report."""
    rows, v2s_info = predict_records(
        model, processor, level_ids, records, cfg, accelerator=accelerator, v2s_llm=v2s_llm, on_progress=on_progress
    )
    main = accelerator is None or accelerator.is_main_process
    if out_dir is not None and main:
        write_predictions(rows, Path(out_dir) / "predictions.csv")
        return write_report(rows, out_dir, long_prompt_words=cfg.long_prompt_words, plots=cfg.eval_plots, v2s=v2s_info)
    from .metrics import build_report

    return build_report(rows, long_prompt_words=cfg.long_prompt_words, v2s=v2s_info)


def _scorer(checkpoint, overrides=None, device=None) -> LoadedScorer:
    if isinstance(checkpoint, LoadedScorer):
        return checkpoint
    return load_scorer(checkpoint, device=device, overrides=overrides)


def predict(
    checkpoint: str | Path | LoadedScorer,
    data_dir: str | Path,
    *,
    split: str | None = "test",
    dimensions: Iterable[str] | None = None,
    batch_size: int | None = None,
    overrides: dict | None = None,
    v2s_llm: Callable[[str], str] | None = None,
    on_progress=None,
) -> list[dict]:
    """Prediction rows for one split of an export (nothing written)."""
    sc = _scorer(checkpoint, overrides)
    cfg = sc.config.replace(**(overrides or {}))
    records = read_records(data_dir, split, dimensions=list(dimensions or cfg.dimensions), media_types=cfg.media_types)
    rows, _ = predict_records(
        sc.model,
        sc.processor,
        sc.level_ids,
        records,
        cfg,
        v2s_llm=v2s_llm,
        batch_size=batch_size,
        on_progress=on_progress,
    )
    return rows


def evaluate_checkpoint(
    checkpoint: str | Path | LoadedScorer,
    data_dir: str | Path,
    *,
    split: str | None = "test",
    out_dir: str | Path,
    dimensions: Iterable[str] | None = None,
    batch_size: int | None = None,
    overrides: dict | None = None,
    v2s_llm: Callable[[str], str] | None = None,
    on_progress=None,
) -> PredictResult:
    """Score a split, write ``out_dir/predictions.csv`` and ``out_dir/report.json`` (+ scatter PNGs)."""
    sc = _scorer(checkpoint, overrides)
    cfg = sc.config.replace(**(overrides or {}))
    if batch_size:
        cfg = cfg.replace(eval_batch_size=batch_size)
    if not cfg.v2s_cache_dir:
        cfg = cfg.replace(v2s_cache_dir=str(Path(out_dir) / "v2s_cache"))
    records = read_records(data_dir, split, dimensions=list(dimensions or cfg.dimensions), media_types=cfg.media_types)
    rows, v2s_info = predict_records(
        sc.model, sc.processor, sc.level_ids, records, cfg, v2s_llm=v2s_llm, on_progress=on_progress
    )
    out = Path(out_dir)
    pred_path = write_predictions(rows, out / "predictions.csv")
    report = write_report(rows, out, long_prompt_words=cfg.long_prompt_words, plots=cfg.eval_plots, v2s=v2s_info)
    return PredictResult(rows=rows, report=report, predictions_path=pred_path, report_path=out / "report.json")


def score_items(
    model_dir: str | Path | LoadedScorer,
    items: list[dict],
    batch_size: int = 8,
    *,
    dimensions: Iterable[str] = ("quality", "alignment"),
    device: str | None = None,
    v2s: bool = False,
    v2s_llm: Callable[[str], str] | None = None,
    overrides: dict | None = None,
) -> list[dict]:
    """Quality and alignment (1-5) for new content: ``items`` are dicts with ``media`` and ``prompt``.

    ``media_type`` is inferred from the file extension when absent. Batched across items and dimensions.
    """
    sc = _scorer(model_dir, overrides, device)
    cfg = sc.config.replace(**{"eval_batch_size": batch_size, "v2s_enabled": v2s, **(overrides or {})})
    dims = list(dimensions)
    records = []
    for i, item in enumerate(items):
        media_type = item.get("media_type") or media_type_of(item["media"])
        for dim in dims:
            records.append(
                normalise_record(
                    {
                        "item_id": item.get("item_id", str(i)),
                        "media": str(item["media"]),
                        "media_type": media_type,
                        "dimension": dim,
                        "prompt": item.get("prompt", ""),
                        "generator": item.get("generator", ""),
                    }
                )
            )
    rows, _ = predict_records(sc.model, sc.processor, sc.level_ids, records, cfg, v2s_llm=v2s_llm)
    out = []
    for i, item in enumerate(items):
        res = {
            "media": str(item["media"]),
            "prompt": item.get("prompt", ""),
            "media_type": item.get("media_type") or media_type_of(item["media"]),
        }
        for k, dim in enumerate(dims):
            row = rows[i * len(dims) + k]
            res[dim] = float(row["prediction"])
            res[f"{dim}_probs"] = {lvl: float(row[f"p_{lvl.lower()}"]) for lvl in LEVELS}
        out.append(res)
    return out
