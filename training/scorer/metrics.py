"""Evaluation metrics and the report, from a predictions table (no torch).

Metrics (each equal to scipy's): SRCC (``spearmanr``), PLCC (``pearsonr`` on raw predictions, as Q-Align
evaluates), PLCC after a 4-parameter logistic fit of prediction -> MOS (``plcc_logistic``, the IQA
convention), KRCC (``kendalltau``, tau-b), RMSE (raw predictions vs MOS on 1-5). Fewer than 3 points, or
a constant input, gives ``null`` for the affected metrics and a ``reason``.

Levels: ``instance`` (one point per item) and ``model`` (one point per generator: mean prediction vs mean
MOS of its items, the paper's model-level evaluation).

``report.json`` shape::

    {"quality": {"all":   {"instance": {"srcc", "plcc", "plcc_logistic", "krcc", "rmse", "n"},
                           "model":    {...same keys...}},
                 "image": {...}, "video": {...},
                 "long_prompt": {"all": {...}, "image": {...}, "video": {...}},   # prompt > 25 words
                 "long_prompt_without_v2s": {...}},   # only when V2S changed alignment predictions
     "alignment": {...},
     "_meta": {"plcc": "plain Pearson ...", "plcc_logistic": "...", "v2s": {...}, ...}}

CLI: ``python -m training.scorer evaluate --predictions FILE.csv --out DIR``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

PREDICTION_COLUMNS = (
    "item_id", "generator", "media_type", "dimension", "mos", "prediction",
    "p_excellent", "p_good", "p_fair", "p_poor", "p_bad",
)
METRIC_KEYS = ("srcc", "plcc", "plcc_logistic", "krcc", "rmse", "n")

META = {
    "srcc": "Spearman rank correlation (scipy.stats.spearmanr)",
    "plcc": "plain Pearson correlation of raw predictions and MOS (scipy.stats.pearsonr), as Q-Align reports",
    "plcc_logistic": "Pearson correlation after fitting a 4-parameter logistic "
                     "f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2 from prediction to MOS (IQA convention)",
    "krcc": "Kendall tau-b (scipy.stats.kendalltau)",
    "rmse": "root mean squared error of raw predictions vs MOS, on the 1-5 scale",
    "instance": "one point per item",
    "model": "one point per generator: mean prediction vs mean MOS of its items",
    "long_prompt": "items whose prompt has more than {n} words (the paper's V2S subset)",
}


def logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def fit_logistic(pred: np.ndarray, mos: np.ndarray) -> np.ndarray:
    """Fitted values of the 4-parameter logistic (raises RuntimeError if it does not converge)."""
    from scipy.optimize import curve_fit

    p0 = [float(mos.max()), float(mos.min()), float(np.mean(pred)), float(np.std(pred)) or 1.0]
    params, _ = curve_fit(logistic4, pred, mos, p0=p0, maxfev=20000)
    return logistic4(pred, *params)


def correlation_metrics(pred: Iterable[float], mos: Iterable[float]) -> dict[str, Any]:
    """SRCC, PLCC, logistic PLCC, KRCC, RMSE and n; null (with ``reason``) when undefined."""
    from scipy import stats

    x = np.asarray(list(pred), dtype=float)
    y = np.asarray(list(mos), dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    out: dict[str, Any] = {k: None for k in METRIC_KEYS}
    out["n"] = n
    if n == 0:
        out["reason"] = "no points"
        return out
    out["rmse"] = float(np.sqrt(np.mean((x - y) ** 2)))
    if n < 3:
        out["reason"] = f"n={n} < 3: correlations undefined"
        return out
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        out["reason"] = "constant " + ("predictions" if np.ptp(x) == 0 else "MOS") + ": correlations undefined"
        return out
    out["srcc"] = _finite(stats.spearmanr(x, y)[0])
    out["plcc"] = _finite(stats.pearsonr(x, y)[0])
    out["krcc"] = _finite(stats.kendalltau(x, y)[0])
    if n < 5:
        out["reason"] = f"n={n} < 5: too few points for a 4-parameter logistic fit"
    else:
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = fit_logistic(x, y)
            if np.ptp(fitted) == 0 or not np.all(np.isfinite(fitted)):
                raise RuntimeError("degenerate fit")
            out["plcc_logistic"] = _finite(stats.pearsonr(fitted, y)[0])
        except (RuntimeError, ValueError, TypeError) as exc:
            out["reason"] = f"logistic fit failed: {exc}"
    return out


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def model_level(rows: list[dict], column: str = "prediction") -> tuple[list[float], list[float], list[str]]:
    """Per generator: (mean prediction, mean MOS), generators sorted by name."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("generator") or ""), []).append((float(r[column]), float(r["mos"])))
    names = sorted(groups)
    preds = [float(np.mean([p for p, _ in groups[g]])) for g in names]
    moses = [float(np.mean([m for _, m in groups[g]])) for g in names]
    return preds, moses, names


def level_metrics(rows: list[dict], column: str = "prediction") -> dict:
    rows = [r for r in rows if _is_num(r.get("mos")) and _is_num(r.get(column))]
    inst = correlation_metrics([float(r[column]) for r in rows], [float(r["mos"]) for r in rows])
    mp, mm, _ = model_level(rows, column)
    return {"instance": inst, "model": correlation_metrics(mp, mm)}


def _is_num(v) -> bool:
    try:
        return v is not None and v != "" and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _words(r: dict) -> int | None:
    w = r.get("prompt_words")
    if _is_num(w):
        return int(float(w))
    if r.get("prompt"):
        return len(str(r["prompt"]).split())
    return None


def build_report(rows: list[dict], *, long_prompt_words: int = 25, v2s: dict | None = None) -> dict:
    """The report dict (shape in the module docstring) from prediction rows (dicts with the CSV columns)."""
    report: dict[str, Any] = {}
    dims = sorted({r["dimension"] for r in rows}, key=lambda d: (d != "quality", d))
    for dim in dims:
        drows = [r for r in rows if r["dimension"] == dim]
        entry: dict[str, Any] = {"all": level_metrics(drows)}
        for media in sorted({r["media_type"] for r in drows}):
            entry[media] = level_metrics([r for r in drows if r["media_type"] == media])
        long_rows = [r for r in drows if (_words(r) or 0) > long_prompt_words]
        if long_rows:
            entry["long_prompt"] = _by_media(long_rows, "prediction")
            if any(_is_num(r.get("prediction_raw")) and float(r["prediction_raw"]) != float(r["prediction"]) for r in long_rows):
                entry["long_prompt_without_v2s"] = _by_media(long_rows, "prediction_raw")
        report[dim] = entry
    meta = dict(META)
    meta["long_prompt"] = META["long_prompt"].format(n=long_prompt_words)
    meta["v2s"] = v2s or {"used": False, "method": "off"}
    meta["n_rows"] = len(rows)
    report["_meta"] = meta
    return report


def _by_media(rows: list[dict], column: str) -> dict:
    out = {"all": level_metrics(rows, column)}
    for media in sorted({r["media_type"] for r in rows}):
        out[media] = level_metrics([r for r in rows if r["media_type"] == media], column)
    return out


# --- files ------------------------------------------------------------------------------------------

def write_predictions(rows: list[dict], path: str | Path) -> Path:
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = [c for c in ("prompt_words", "prediction_raw", "v2s_method") if any(c in r for r in rows)]
    cols = list(PREDICTION_COLUMNS) + extra
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def read_predictions(path: str | Path) -> list[dict]:
    import csv

    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("generator", "media_type", "dimension", "mos", "prediction") if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return rows


def scatter_plots(rows: list[dict], out_dir: str | Path) -> list[Path]:
    """Prediction-vs-MOS scatter plots (instance and model level) per dimension x media type, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for dim in sorted({r["dimension"] for r in rows}):
        for media in ["all"] + sorted({r["media_type"] for r in rows if r["dimension"] == dim}):
            sub = [r for r in rows if r["dimension"] == dim and (media == "all" or r["media_type"] == media)
                   and _is_num(r.get("mos")) and _is_num(r.get("prediction"))]
            if not sub:
                continue
            fig, axes = plt.subplots(1, 2, figsize=(9, 4))
            axes[0].scatter([float(r["mos"]) for r in sub], [float(r["prediction"]) for r in sub], s=6, alpha=0.6)
            axes[0].set_title(f"{dim} / {media}: instance (n={len(sub)})")
            mp, mm, names = model_level(sub)
            axes[1].scatter(mm, mp, s=20)
            for x, y, name in zip(mm, mp, names):
                axes[1].annotate(name, (x, y), fontsize=6)
            axes[1].set_title(f"model level (n={len(names)})")
            for ax in axes:
                ax.set_xlabel("MOS")
                ax.set_ylabel("prediction")
            fig.tight_layout()
            path = out_dir / f"scatter_{dim}_{media}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            paths.append(path)
    return paths


def evaluate_predictions_file(predictions: str | Path, out_dir: str | Path, *, long_prompt_words: int = 25,
                              plots: bool = True, v2s: dict | None = None) -> dict:
    """Build ``out_dir/report.json`` (and plots) from any predictions CSV with the standard columns."""
    rows = read_predictions(predictions)
    return write_report(rows, out_dir, long_prompt_words=long_prompt_words, plots=plots, v2s=v2s)


def write_report(rows: list[dict], out_dir: str | Path, *, long_prompt_words: int = 25, plots: bool = True,
                 v2s: dict | None = None) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if v2s is None and rows and rows[0].get("v2s_method"):
        methods = sorted({r.get("v2s_method") for r in rows if r.get("v2s_method")})
        v2s = {"used": any(m not in ("", "off", "none") for m in methods), "method": ",".join(methods)}
    report = build_report(rows, long_prompt_words=long_prompt_words, v2s=v2s)
    if plots:
        report["_meta"]["plots"] = [p.name for p in scatter_plots(rows, out_dir)]
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
