"""Evaluation metrics and the report, from a predictions table (no torch).

Metrics (each equal to scipy's): SRCC (``spearmanr``), PLCC (``pearsonr`` on raw predictions, as Q-Align
evaluates and as the paper's tables report it), PLCC after a monotonic logistic fit of prediction -> MOS
(``plcc_logistic``, the IQA convention; 4- or 5-parameter, see :func:`fit_logistic`), KRCC
(``kendalltau``, tau-b), RMSE (raw predictions vs MOS on 1-5). Fewer than 3 points, or a constant input,
gives ``null`` for the affected metrics and a ``reason``.

Every correlation is SIGNED: a predictor that runs against the MOS (NIQE, BRISQUE: lower is better) gets a
negative SRCC, PLCC and logistic PLCC, as in the paper's Table 2. The logistic fit is constrained to be
increasing in the predictor oriented by the sign of its rank correlation, so negating a predictor negates
``plcc_logistic`` exactly instead of hiding the sign in a decreasing curve.

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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

PREDICTION_COLUMNS = (
    "item_id",
    "generator",
    "media_type",
    "dimension",
    "mos",
    "prediction",
    "p_excellent",
    "p_good",
    "p_fair",
    "p_poor",
    "p_bad",
)
METRIC_KEYS = ("srcc", "plcc", "plcc_logistic", "krcc", "rmse", "n")

META = {
    "srcc": "Spearman rank correlation (scipy.stats.spearmanr)",
    "plcc": "plain Pearson correlation of raw predictions and MOS (scipy.stats.pearsonr), as Q-Align reports",
    "plcc_logistic": "signed Pearson correlation after a monotonic {k}-parameter logistic fit from prediction "
    "to MOS (IQA convention): {formula}, increasing in sign(SRCC)*prediction; the sign of the "
    "relation is kept",
    "paper_plcc": "the paper's tables (2, 3, 5) report plain Pearson: compare them with 'plcc', not 'plcc_logistic'",
    "krcc": "Kendall tau-b (scipy.stats.kendalltau)",
    "rmse": "root mean squared error of raw predictions vs MOS, on the 1-5 scale",
    "instance": "one point per item",
    "model": "one point per generator: mean prediction vs mean MOS of its items",
    "long_prompt": "items whose prompt has more than {n} words (the paper's V2S subset)",
}


LOGISTIC_FORMULAS = {
    4: "f(x) = b2 + a / (1 + exp(-(x - b3) / b4)), a >= 0, b4 > 0",
    5: "f(x) = b1 * (1/2 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5, b1, b2, b4 >= 0 (VQEG)",
}


def logistic4(x, b1, b2, b3, b4):
    """The 4-parameter logistic of the IQA literature (b1 upper, b2 lower asymptote)."""
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def _increasing4(x, a, b2, b3, b4):
    return b2 + a / (1.0 + np.exp(-(x - b3) / b4))


def logistic5(x, b1, b2, b3, b4, b5):
    """VQEG's 5-parameter logistic: a sigmoid plus a linear term."""
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(b2 * (x - b3)))) + b4 * x + b5


def fit_logistic(pred: np.ndarray, mos: np.ndarray, params: int = 4) -> np.ndarray:
    """Fitted values of an INCREASING 4- or 5-parameter logistic from ``pred`` to ``mos`` (least squares,
    bounded so the curve cannot turn round). Raises RuntimeError if it does not converge.

    Orient ``pred`` first (multiply by the sign of its rank correlation) to keep the sign of a negative
    relation: :func:`correlation_metrics` does."""
    from scipy.optimize import curve_fit

    pred = np.asarray(pred, dtype=float)
    mos = np.asarray(mos, dtype=float)
    spread = float(np.std(pred)) or 1.0
    inf = np.inf
    if params == 4:
        p0 = [float(np.ptp(mos)) or 1.0, float(mos.min()), float(np.mean(pred)), spread]
        bounds = ([0.0, -inf, -inf, 1e-12 * spread], [inf, inf, inf, inf])
        fn = _increasing4
    elif params == 5:
        p0 = [float(np.ptp(mos)) or 1.0, 1.0 / spread, float(np.mean(pred)), 0.0, float(np.mean(mos))]
        bounds = ([0.0, 0.0, -inf, 0.0, -inf], [inf, inf, inf, inf, inf])
        fn = logistic5  # type: ignore[assignment]  # curve_fit takes any arity
    else:
        raise ValueError(f"logistic fit takes 4 or 5 parameters, not {params}")
    fitted_params, _ = curve_fit(fn, pred, mos, p0=p0, bounds=bounds, maxfev=20000)
    return fn(pred, *fitted_params)


def correlation_metrics(pred: Iterable[float], mos: Iterable[float], *, logistic: int = 4) -> dict[str, Any]:
    """SRCC, PLCC, logistic PLCC (``logistic`` = 4 or 5 parameters), KRCC, RMSE and n, all signed; null (with
    ``reason``) when undefined."""
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
    if n < logistic + 1:
        out["reason"] = f"n={n} < {logistic + 1}: too few points for a {logistic}-parameter logistic fit"
    else:
        try:
            import warnings

            # orient by the rank correlation, fit an increasing curve, and give the sign back: a predictor
            # where lower is better keeps its negative PLCC (the paper's NIQE row)
            sign = -1.0 if (out["srcc"] or 0.0) < 0 else 1.0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = fit_logistic(sign * x, y, params=logistic)
            if np.ptp(fitted) <= 1e-12 * (np.ptp(y) or 1.0) or not np.all(np.isfinite(fitted)):
                raise RuntimeError("degenerate fit")
            out["plcc_logistic"] = _finite(sign * stats.pearsonr(fitted, y)[0])
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


def level_metrics(rows: list[dict], column: str = "prediction", *, logistic: int = 4) -> dict:
    rows = [r for r in rows if _is_num(r.get("mos")) and _is_num(r.get(column))]
    inst = correlation_metrics([float(r[column]) for r in rows], [float(r["mos"]) for r in rows], logistic=logistic)
    mp, mm, _ = model_level(rows, column)
    return {"instance": inst, "model": correlation_metrics(mp, mm, logistic=logistic)}


def _is_num(v) -> bool:
    try:
        return v is not None and v != "" and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _words(r: dict) -> int | None:
    w = r.get("prompt_words")
    if _is_num(w):
        return int(float(w))  # type: ignore[arg-type]  # _is_num checked it
    if r.get("prompt"):
        return len(str(r["prompt"]).split())
    return None


def build_report(rows: list[dict], *, long_prompt_words: int = 25, v2s: dict | None = None, logistic: int = 4) -> dict:
    """The report dict (shape in the module docstring) from prediction rows (dicts with the CSV columns)."""
    report: dict[str, Any] = {}
    dims = sorted({r["dimension"] for r in rows}, key=lambda d: (d != "quality", d))
    for dim in dims:
        drows = [r for r in rows if r["dimension"] == dim]
        entry: dict[str, Any] = {"all": level_metrics(drows, logistic=logistic)}
        for media in sorted({r["media_type"] for r in drows}):
            entry[media] = level_metrics([r for r in drows if r["media_type"] == media], logistic=logistic)
        long_rows = [r for r in drows if (_words(r) or 0) > long_prompt_words]
        if long_rows:
            entry["long_prompt"] = _by_media(long_rows, "prediction", logistic)
            if any(
                _is_num(r.get("prediction_raw")) and float(r["prediction_raw"]) != float(r["prediction"])
                for r in long_rows
            ):
                entry["long_prompt_without_v2s"] = _by_media(long_rows, "prediction_raw", logistic)
        report[dim] = entry
    meta: dict[str, Any] = dict(META)
    meta["long_prompt"] = META["long_prompt"].format(n=long_prompt_words)
    meta["plcc_logistic"] = META["plcc_logistic"].format(k=logistic, formula=LOGISTIC_FORMULAS[logistic])
    meta["logistic_params"] = logistic
    meta["v2s"] = v2s or {"used": False, "method": "off"}
    meta["n_rows"] = len(rows)
    report["_meta"] = meta
    return report


def _by_media(rows: list[dict], column: str, logistic: int = 4) -> dict:
    out = {"all": level_metrics(rows, column, logistic=logistic)}
    for media in sorted({r["media_type"] for r in rows}):
        out[media] = level_metrics([r for r in rows if r["media_type"] == media], column, logistic=logistic)
    return out


# --- files ------------------------------------------------------------------------------------------


def write_predictions(rows: list[dict], path: str | Path) -> Path:
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = [
        c
        for c in ("prompt_words", "prediction_raw", "v2s_method", "category", "subcategory", "method")
        if any(c in r for r in rows)
    ]
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
            sub = [
                r
                for r in rows
                if r["dimension"] == dim
                and (media == "all" or r["media_type"] == media)
                and _is_num(r.get("mos"))
                and _is_num(r.get("prediction"))
            ]
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


def evaluate_predictions_file(
    predictions: str | Path,
    out_dir: str | Path,
    *,
    long_prompt_words: int = 25,
    plots: bool = True,
    v2s: dict | None = None,
    logistic: int = 4,
) -> dict:
    """Build ``out_dir/report.json`` (and plots) from any predictions CSV with the standard columns."""
    rows = read_predictions(predictions)
    return write_report(rows, out_dir, long_prompt_words=long_prompt_words, plots=plots, v2s=v2s, logistic=logistic)


def write_report(
    rows: list[dict],
    out_dir: str | Path,
    *,
    long_prompt_words: int = 25,
    plots: bool = True,
    v2s: dict | None = None,
    logistic: int = 4,
) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if v2s is None and rows and rows[0].get("v2s_method"):
        methods = sorted({str(r["v2s_method"]) for r in rows if r.get("v2s_method")})
        v2s = {"used": any(m not in ("", "off", "none") for m in methods), "method": ",".join(methods)}
        if any(m.startswith("fallback") for m in methods):
            from .v2s import NOT_COMPARABLE

            v2s["note"] = NOT_COMPARABLE
    report = build_report(rows, long_prompt_words=long_prompt_words, v2s=v2s, logistic=logistic)
    if plots:
        report["_meta"]["plots"] = [p.name for p in scatter_plots(rows, out_dir)]
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
