"""Baseline scorers beside Q-Eval-Score (the paper's Tables 2 and 3), each writing the same predictions CSV as
``python -m training.scorer evaluate`` so that every table treats them alike.

=================  ===========  =====================================================  ===========================
name               dimension    model (a local folder or file; nothing is downloaded)  runs without torchvision
=================  ===========  =====================================================  ===========================
clipscore          alignment    transformers CLIPModel folder                          yes
pickscore          alignment    PickScore_v1 (a CLIPModel folder)                      yes
hpsv2              alignment    HPS v2 as a CLIPModel folder, or its open_clip .pt     folder: yes; .pt: no
blip2-itm          alignment    Blip2ForImageTextRetrieval folder                      yes
vqascore           alignment    any image-text-to-text VLM folder                      yes (Qwen2-VL)
imagereward        alignment    ImageReward.pt (image-reward package)                  no
clip-iqa           quality      CLIPModel folder                                       yes
q-align            quality      any image-text-to-text VLM folder                      yes (Qwen2-VL)
niqe, brisque      quality      pyiqa (parameter files in its cache)                   no
=================  ===========  =====================================================  ===========================

Fine-tuned: the CLIP-style ones (clipscore, pickscore, hpsv2, clip-iqa) take a ridge head fitted on a split's
MOS (``fit``; :mod:`.clip`). Command line::

    python -m training.scorer baseline --name clipscore --model /models/clip-vit-large-patch14 \\
        --data EXPORT --split test --out runs/clipscore [--head runs/clipscore-ft/head.json]
    python -m training.scorer baseline-finetune --name clipscore --model DIR --data EXPORT --dimension alignment \\
        --out runs/clipscore-ft [--split train] [--alpha 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Baseline, BaselineUnavailable

NAMES = (
    "clipscore",
    "pickscore",
    "hpsv2",
    "blip2-itm",
    "vqascore",
    "imagereward",
    "clip-iqa",
    "q-align",
    "niqe",
    "brisque",
)
CLIP_STYLE = ("clipscore", "pickscore", "hpsv2", "clip-iqa")


def _classes() -> dict[str, type]:
    from .blip2 import Blip2Itm
    from .clip import ClipIqa, ClipScore, HPSv2, PickScore
    from .library import Brisque, ImageReward, Niqe
    from .vlm import QAlign, VqaScore

    return {
        c.name: c
        for c in (ClipScore, PickScore, HPSv2, Blip2Itm, VqaScore, ImageReward, ClipIqa, QAlign, Niqe, Brisque)
    }


def load_baseline(
    name: str, model: str | Path | None, *, head: str | Path | None = None, device: str | None = None
) -> Baseline:
    """The baseline ``name`` loaded from ``model`` (BaselineUnavailable says what is missing)."""
    classes = _classes()
    if name not in classes:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(NAMES)}")
    if head and name not in CLIP_STYLE:
        raise ValueError(f"only the CLIP-style baselines ({', '.join(CLIP_STYLE)}) take a fitted head")
    kwargs: dict[str, Any] = {"device": device}
    if head:
        kwargs["head"] = head
    return classes[name](model, **kwargs)


@dataclass
class BaselineResult:
    rows: list[dict]
    report: dict
    predictions_path: Path


def _items(data_dir, split, dimension, media_types=None) -> list[dict]:
    from ..data import read_records

    return read_records(data_dir, split, dimensions=[dimension], media_types=media_types)


def run_baseline(
    baseline: Baseline,
    data_dir: str | Path,
    *,
    split: str = "test",
    out_dir: str | Path,
    batch_size: int = 16,
    method: str | None = None,
    plots: bool = False,
    on_progress: Callable[[dict], None] | None = None,
) -> BaselineResult:
    """Score the split's items for the baseline's dimension; write predictions.csv and report.json."""
    from ..metrics import write_predictions, write_report

    records = _items(data_dir, split, baseline.dimension)
    scores: list[float] = []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        scores += baseline.score(chunk, batch_size=batch_size)
        if on_progress:
            on_progress(
                {"event": "predict", "batch": start // batch_size + 1, "total_batches": -(-len(records) // batch_size)}
            )
    label = method or baseline.name
    rows = [
        {
            "item_id": r.get("item_id", ""),
            "generator": r.get("generator", ""),
            "media_type": r["media_type"],
            "dimension": r["dimension"],
            "mos": r.get("mos"),
            "prediction": s,
            "prediction_raw": s,
            "prompt_words": r.get("prompt_words"),
            "v2s_method": "off",
            "category": r.get("category") or "",
            "subcategory": r.get("subcategory") or "",
            "method": label,
        }
        for r, s in zip(records, scores)
    ]
    out = Path(out_dir)
    path = write_predictions(rows, out / "predictions.csv")
    report = write_report(rows, out, plots=plots)
    report["_meta"]["baseline"] = {
        "name": baseline.name,
        "method": label,
        "dimension": baseline.dimension,
        "higher_is_better": baseline.higher_is_better,
    }
    (out / "report.json").write_text(__import__("json").dumps(report, indent=2) + "\n")
    return BaselineResult(rows=rows, report=report, predictions_path=path)


def finetune_baseline(
    name: str,
    model: str | Path,
    data_dir: str | Path,
    *,
    dimension: str,
    out_dir: str | Path,
    split: str = "train",
    alpha: float = 1.0,
    batch_size: int = 16,
    device: str | None = None,
) -> Path:
    """Fit the ridge head of a CLIP-style baseline on a split's MOS; returns the head.json path."""
    from .clip import fit_head, save_head

    if name not in CLIP_STYLE:
        raise ValueError(f"only the CLIP-style baselines ({', '.join(CLIP_STYLE)}) are fine-tuned here")
    baseline = load_baseline(name, model, device=device)
    records = _items(data_dir, split, dimension)
    if len(records) < 2:
        raise ValueError(f"split {split!r} has {len(records)} {dimension} record(s); a head needs at least 2")
    clip_style: Any = baseline  # a CLIP-style baseline (checked above)
    head = fit_head(
        clip_style, records, [r["mos"] for r in records], dimension=dimension, alpha=alpha, batch_size=batch_size
    )
    head["model"] = str(model)
    return save_head(head, out_dir)


__all__ = [
    "NAMES",
    "CLIP_STYLE",
    "Baseline",
    "BaselineUnavailable",
    "BaselineResult",
    "load_baseline",
    "run_baseline",
    "finetune_baseline",
]
