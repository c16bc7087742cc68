"""The paper's tables as one report: several methods on one test split, with bootstrap intervals and paired tests.

Input: predictions of each method (the CSV that ``evaluate`` and the baselines write), optionally joined to the
export's records so that MOS, generator, media type, prompt length and category come from one place. Output
(:func:`write_benchmark`): ``benchmark.json``, ``benchmark.md`` and ``benchmark.html`` (tables plus SVG plots):

* **Table 2** (visual quality) and **Table 3** (alignment) in the paper's layout: one row per method; image and
  video; instance and model level; SRCC and PLCC. PLCC is plain Pearson, as in the paper (the logistic-fit PLCC
  is in each method's own report). Every cell has a bootstrap 95% interval.
* **Table 5**: alignment on the long-prompt subset (prompt > 25 words), instance SRCC and PLCC, image and video,
  without and with V2S for every method that applied it (and the V2S note when its prompts came from the
  heuristic fallback: "not comparable to Table 5").
* **Per category** (the paper's Table 7 taxonomy): instance SRCC of every method per category and subcategory.

Statistics (documented in the report's ``_meta``):

* intervals: percentile bootstrap, ``bootstrap`` resamples (default 1000, seeded). Instance level resamples
  items; model level resamples generators (its points) -- with 7-17 generators these intervals are wide, which
  is the point of showing them;
* paired test against the best method of each cell (highest SRCC; PLCC tested the same way): the same
  resamples for every method, two-sided bootstrap p-value of the difference, ``2 * min(P(d <= 0), P(d >= 0))``.
  Methods are compared on the items they all scored (``n`` in each cell).

No torch: ``python -m training.scorer benchmark`` runs the scorers first when asked (see :func:`run_methods`).
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LEVELS = ("instance", "model")
MEDIA = ("image", "video")
STATS = ("srcc", "plcc")
TABLES = {"quality": "Table 2: visual quality", "alignment": "Table 3: alignment"}


# --- correlations over many resamples at once ---------------------------------------------------------


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of x[..., i, :] and y[..., i, :] along the last axis (nan when undefined)."""
    xm = x - x.mean(axis=-1, keepdims=True)
    ym = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xm * xm).sum(-1) * (ym * ym).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xm * ym).sum(-1) / den
    return np.where(den > 0, r, np.nan)


def _stat_rows(stat: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if stat == "plcc":
        return _pearson_rows(x, y)
    from scipy.stats import rankdata

    return _pearson_rows(rankdata(x, axis=-1), rankdata(y, axis=-1))


def _point(stat: str, x: np.ndarray, y: np.ndarray) -> float | None:
    if len(y) < 3 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return None
    v = float(_stat_rows(stat, x[None], y[None])[0])
    return v if math.isfinite(v) else None


@dataclass
class Cell:
    """One table cell for all methods: points, intervals and p-values against the best."""

    n: int
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    best: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"n": self.n, "best": self.best, "methods": self.values}


def cell(
    preds: dict[str, np.ndarray],
    mos: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    chunk: int = 100,
) -> Cell:
    """Point, 95% interval and paired p-value against the best, per method and statistic.

    ``groups`` (generator of each point) makes it a model-level cell: correlations of per-generator means,
    resampling generators."""
    names = list(preds)
    x = np.stack([np.asarray(preds[m], dtype=float) for m in names]) if names else np.zeros((0, len(mos)))
    y = np.asarray(mos, dtype=float)
    if groups is not None:
        keys = sorted(set(groups.tolist()))
        index = np.searchsorted(np.asarray(keys), groups)
        counts = np.bincount(index, minlength=len(keys))
        x = np.stack([np.bincount(index, weights=row, minlength=len(keys)) / counts for row in x]) if names else x
        y = np.bincount(index, weights=y, minlength=len(keys)) / counts
    n = len(y)
    out = Cell(n=n)
    points = {s: {m: _point(s, x[i], y) for i, m in enumerate(names)} for s in STATS}
    rng = np.random.default_rng(seed)
    boots = {s: np.full((len(names), bootstrap), np.nan) for s in STATS}
    if n >= 3 and names and bootstrap > 0:
        for start in range(0, bootstrap, chunk):
            b = min(chunk, bootstrap - start)
            idx = rng.integers(0, n, size=(b, n))
            yb = y[idx]
            for s in STATS:
                boots[s][:, start : start + b] = _stat_rows(s, x[:, idx], np.broadcast_to(yb, (len(names), b, n)))
    for s in STATS:
        ranked = [m for m in names if points[s][m] is not None]
        best = max(ranked, key=lambda m: points[s][m] or 0.0) if ranked else None  # ranked: never None
        if s == "srcc":
            out.best["srcc"] = best
        else:
            out.best["plcc"] = best
        for i, m in enumerate(names):
            v = out.values.setdefault(m, {})
            b = boots[s][i]
            ok = b[np.isfinite(b)]
            v[s] = points[s][m]
            v[f"{s}_ci"] = [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))] if len(ok) >= 20 else None
            p = None
            if best is not None and m != best and points[s][m] is not None:
                d = boots[s][names.index(best)] - b
                d = d[np.isfinite(d)]
                if len(d):
                    p = float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
            v[f"{s}_p_vs_best"] = p
    return out


# --- assembling the tables ---------------------------------------------------------------------------


def _key(r: dict) -> tuple[str, str]:
    return str(r.get("item_id", "")), str(r.get("dimension", ""))


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _words(r: dict) -> int:
    w = _num(r.get("prompt_words"))
    if w is not None:
        return int(w)
    return len(str(r.get("prompt") or "").split())


def join_records(methods: dict[str, list[dict]], records: list[dict] | None) -> dict[str, list[dict]]:
    """Give every prediction row the export's MOS, generator, media type, words and category (by item id and
    dimension); rows of items the export does not hold are dropped."""
    if not records:
        return methods
    meta = {_key(r): r for r in records}
    out = {}
    for name, rows in methods.items():
        joined = []
        for r in rows:
            rec = meta.get(_key(r))
            if rec is None:
                continue
            joined.append(
                {
                    **r,
                    "mos": rec.get("mos"),
                    "generator": rec.get("generator", ""),
                    "media_type": rec.get("media_type"),
                    "prompt_words": rec.get("prompt_words"),
                    "category": rec.get("category") or r.get("category") or "",
                    "subcategory": rec.get("subcategory") or r.get("subcategory") or "",
                }
            )
        out[name] = joined
    return out


def _aligned(methods: dict[str, list[dict]], keep: Callable[[dict], bool], column: dict[str, str] | None = None):
    """Items every method scored (among those ``keep`` accepts): ({method: predictions}, mos, generators)."""
    column = column or {}
    by_method = {}
    for name, rows in methods.items():
        col = column.get(name, "prediction")
        by_method[name] = {
            _key(r): r for r in rows if keep(r) and _num(r.get(col)) is not None and _num(r.get("mos")) is not None
        }
    if not by_method:
        return {}, np.zeros(0), np.zeros(0, dtype=object)
    common = sorted(set.intersection(*(set(d) for d in by_method.values())))
    first = next(iter(by_method.values()))
    mos = np.asarray([float(first[k]["mos"]) for k in common])
    gens = np.asarray([str(first[k].get("generator") or "") for k in common], dtype=object)
    preds = {
        name: np.asarray([float(d[k][column.get(name, "prediction")]) for k in common]) for name, d in by_method.items()
    }
    return preds, mos, gens


def _has_v2s(rows: list[dict]) -> bool:
    return any(
        _num(r.get("prediction_raw")) is not None
        and _num(r.get("prediction")) is not None
        and abs(float(r["prediction"]) - float(r["prediction_raw"])) > 1e-12
        for r in rows
    )


def benchmark_report(
    methods: dict[str, list[dict]],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    long_prompt_words: int = 25,
    records: list[dict] | None = None,
    split: str | None = None,
    source: str | None = None,
) -> dict:
    """The report dict (Tables 2, 3, 5 and per category) for ``{method: prediction rows}``."""
    methods = join_records(methods, records)
    report: dict[str, Any] = {"tables": {}, "long_prompt": {}, "categories": {}}
    for dim in ("quality", "alignment"):
        scored = {m: [r for r in rows if r.get("dimension") == dim] for m, rows in methods.items()}
        scored = {m: rows for m, rows in scored.items() if rows}
        if not scored:
            continue
        table = {}
        for media in MEDIA:
            preds, mos, gens = _aligned(scored, lambda r, media=media: r.get("media_type") == media)  # type: ignore[misc]
            if len(mos) == 0:
                continue
            table[media] = {
                "instance": cell(preds, mos, bootstrap=bootstrap, seed=seed).to_dict(),
                "model": cell(preds, mos, groups=gens, bootstrap=bootstrap, seed=seed + 1).to_dict(),
            }
        report["tables"][dim] = {"title": TABLES[dim], "methods": list(scored), "cells": table}
        report["categories"][dim] = _categories(scored)
    align = {m: [r for r in rows if r.get("dimension") == "alignment"] for m, rows in methods.items()}
    long_methods: dict[str, list[dict]] = {}
    columns: dict[str, str] = {}
    for m, rows in align.items():
        if not rows:
            continue
        if _has_v2s(rows):
            long_methods[f"{m} (without V2S)"] = rows
            columns[f"{m} (without V2S)"] = "prediction_raw"
            long_methods[f"{m} (with V2S)"] = rows
        else:
            long_methods[m] = rows
    for media in MEDIA:
        keep = lambda r, media=media: r.get("media_type") == media and _words(r) > long_prompt_words  # noqa: E731
        preds, mos, _ = _aligned(long_methods, keep, columns)
        if len(mos):
            report["long_prompt"][media] = cell(preds, mos, bootstrap=bootstrap, seed=seed + 2).to_dict()
    notes = sorted(
        {
            str(r.get("v2s_method"))
            for rows in align.values()
            for r in rows
            if str(r.get("v2s_method") or "").startswith("fallback")
        }
    )
    report["_meta"] = {
        "methods": list(methods),
        "split": split,
        "source": source,
        "bootstrap": bootstrap,
        "seed": seed,
        "long_prompt_words": long_prompt_words,
        "plcc": "plain Pearson correlation, as in the paper's tables (logistic-fit PLCC: each method's own report)",
        "interval": "percentile bootstrap 95%; instance level resamples items, model level resamples generators",
        "test": "paired bootstrap against the best method of the cell (same resamples), two-sided p-value "
        "2*min(P(d<=0), P(d>=0)); cells compare methods on the items all of them scored",
        "v2s_note": (
            "not comparable to Table 5: V2S prompts from the heuristic fallback splitter (" + ", ".join(notes) + ")"
        )
        if notes
        else None,
        "rows": {m: len(rows) for m, rows in methods.items()},
    }
    return report


def _categories(scored: dict[str, list[dict]]) -> list[dict]:
    """Instance SRCC per (category, subcategory) and per category, for every method (items all scored)."""
    keys: set[tuple[str, str]] = set()
    for rows in scored.values():
        for r in rows:
            cat = str(r.get("category") or "")
            if cat:
                keys.add((cat, ""))
                if r.get("subcategory"):
                    keys.add((cat, str(r["subcategory"])))
    out = []
    for cat, sub in sorted(keys):

        def keep(r: dict, c: str = cat, s: str = sub) -> bool:
            return str(r.get("category") or "") == c and (not s or str(r.get("subcategory") or "") == s)

        preds, mos, _ = _aligned(scored, keep)
        out.append(
            {
                "category": cat,
                "subcategory": sub or None,
                "n": int(len(mos)),
                "srcc": {m: _point("srcc", p, mos) for m, p in preds.items()},
            }
        )
    return out


# --- rendering -----------------------------------------------------------------------------------------


def _fmt(v: dict, stat: str, best: str | None, name: str, *, markdown: bool = True) -> str:
    x = v.get(stat)
    if x is None:
        return "—"
    text = f"{x:.3f}"
    ci = v.get(f"{stat}_ci")
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    p = v.get(f"{stat}_p_vs_best")
    if name == best:
        text = f"**{text}**" if markdown else f"<b>{html.escape(text)}</b>"
    elif p is not None and p < 0.05:
        text += " †"
    return text


def _table_rows(report: dict, dim: str) -> tuple[list[str], list[list[str]], list[str]]:
    t = report["tables"][dim]
    header = ["Method"]
    spec = []
    for media in MEDIA:
        for level in LEVELS:
            if media in t["cells"]:
                for s in STATS:
                    header.append(f"{media} {level} {s.upper()}")
                    spec.append((media, level, s))
    rows = []
    for m in t["methods"]:
        row = [m]
        for media, level, s in spec:
            c = t["cells"][media][level]
            row.append((c["methods"].get(m) or {}, s, c["best"].get(s), m))
        rows.append(row)
    ns = [f"n={t['cells'][media][level]['n']}" for media, level, s in spec]
    return header, rows, ns


def to_markdown(report: dict) -> str:
    meta = report["_meta"]
    lines = [
        f"# Benchmark on split {meta.get('split') or '?'}" + (f" of {meta['source']}" if meta.get("source") else ""),
        "",
        f"Cells: point estimate [bootstrap 95% interval]; **bold** = best of the column; † = worse than the "
        f"best at p < 0.05 (paired bootstrap, {meta['bootstrap']} resamples). PLCC = plain Pearson, as in the paper.",
        "",
    ]
    for dim in ("quality", "alignment"):
        if dim not in report["tables"]:
            continue
        header, rows, ns = _table_rows(report, dim)
        lines += [
            f"## {report['tables'][dim]['title']}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            "| (points) | " + " | ".join(ns) + " |",
        ]
        for row in rows:
            lines.append("| " + " | ".join([row[0]] + [_fmt(*c) for c in row[1:]]) + " |")
        lines.append("")
    if report["long_prompt"]:
        lines += [f"## Table 5: alignment, prompts over {meta['long_prompt_words']} words (instance level)", ""]
        if meta.get("v2s_note"):
            lines += [f"> {meta['v2s_note']}", ""]
        media = [m for m in MEDIA if m in report["long_prompt"]]
        lines += [
            "| Method | " + " | ".join(f"{m} {s.upper()}" for m in media for s in STATS) + " |",
            "|" + "---|" * (1 + 2 * len(media)),
            "| (points) | " + " | ".join(f"n={report['long_prompt'][m]['n']}" for m in media for _ in STATS) + " |",
        ]
        names = list(dict.fromkeys(n for m in media for n in report["long_prompt"][m]["methods"]))
        for name in names:
            cells = []
            for m in media:
                c = report["long_prompt"][m]
                for s in STATS:
                    cells.append(_fmt(c["methods"].get(name) or {}, s, c["best"].get(s), name))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    for dim, cats in report["categories"].items():
        if not cats:
            continue
        names = report["tables"][dim]["methods"]
        lines += [
            f"## Per category ({dim}, instance SRCC; the paper's Table 7 taxonomy)",
            "",
            "| Category | Subcategory | n | " + " | ".join(names) + " |",
            "|" + "---|" * (3 + len(names)),
        ]
        for c in cats:
            vals = [("—" if c["srcc"].get(m) is None else f"{c['srcc'][m]:.3f}") for m in names]
            lines.append(f"| {c['category']} | {c['subcategory'] or '(all)'} | {c['n']} | " + " | ".join(vals) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _plot_svg(report: dict, dim: str) -> str:
    """Instance SRCC per method with its interval, image and video side by side (an SVG string)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = report["tables"][dim]
    media = [m for m in MEDIA if m in t["cells"]]
    names = t["methods"]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) * max(1, len(media))), 3.2))
    width = 0.8 / max(1, len(media))
    for j, m in enumerate(media):
        c = t["cells"][m]["instance"]["methods"]
        ys = [c.get(n, {}).get("srcc") or 0 for n in names]
        lo = [y - (c.get(n, {}).get("srcc_ci") or [y, y])[0] for n, y in zip(names, ys)]
        hi = [(c.get(n, {}).get("srcc_ci") or [y, y])[1] - y for n, y in zip(names, ys)]
        ax.bar(np.arange(len(names)) + j * width, ys, width, yerr=[lo, hi], capsize=3, label=m)
    ax.set_xticks(np.arange(len(names)) + width * (len(media) - 1) / 2)
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("instance SRCC")
    ax.axhline(0, color="#888", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title(t["title"], fontsize=9)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg") :]


def to_html(report: dict) -> str:
    """A standalone page: the tables (HTML, from the same cells as the Markdown) and one plot per table."""
    md = to_markdown(report)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Q-Eval benchmark</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}table{border-collapse:collapse;"
        "margin:1rem 0;font-size:.85rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}blockquote{color:#a33}</style></head><body>",
    ]
    table: list[str] = []

    def flush():
        if table:
            parts.append("<table>" + "".join(table) + "</table>")
            table.clear()

    dims_done = set()
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "th" if not table else "td"
            row = "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells)
            table.append(f"<tr>{row}</tr>")
            continue
        flush()
        if line.startswith("# "):
            parts.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            title = line[3:]
            parts.append(f"<h2>{html.escape(title)}</h2>")
            for dim in ("quality", "alignment"):
                if dim in report["tables"] and title == report["tables"][dim]["title"] and dim not in dims_done:
                    parts.append(_plot_svg(report, dim))
                    dims_done.add(dim)
        elif line.startswith("> "):
            parts.append(f"<blockquote>{html.escape(line[2:])}</blockquote>")
        elif line.strip():
            parts.append(f"<p>{_inline(line)}</p>")
    flush()
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    out = html.escape(text)
    while "**" in out:
        out = out.replace("**", "<b>", 1).replace("**", "</b>", 1)
    return out


def write_benchmark(report: dict, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "benchmark.json", "md": out / "benchmark.md", "html": out / "benchmark.html"}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["md"].write_text(to_markdown(report))
    paths["html"].write_text(to_html(report))
    return paths


# --- running the methods -------------------------------------------------------------------------------


@dataclass
class MethodSpec:
    """One row of the tables: ``kind`` is "predictions" (a CSV), "qeval" (a Q-Eval-Score checkpoint) or a
    baseline name; ``path`` the CSV, checkpoint or baseline model; ``head`` a fitted head for CLIP-style ones,
    or ``"fit"``: fit it on the export's train split first (the baseline fine-tuned on this dataset version)."""

    name: str
    kind: str
    path: str
    head: str | None = None
    overrides: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> MethodSpec:
        """``NAME=KIND:PATH[:HEAD]``, e.g. ``ours=qeval:/ckpt``, ``clip=clipscore:/models/clip``,
        ``clip-ft=clipscore:/models/clip:fit``, ``old=predictions:run/predictions.csv``."""
        name, sep, rest = text.partition("=")
        kind, sep2, path = rest.partition(":")
        if not sep or not sep2 or not name.strip() or not path.strip():
            raise ValueError(f"method {text!r}: expected NAME=KIND:PATH (KIND = predictions, qeval or a baseline)")
        head = None
        if kind.strip() not in ("predictions", "qeval") and path.count(":") == 1 and not Path(path).exists():
            path, head = path.split(":", 1)
        return cls(name=name.strip(), kind=kind.strip(), path=path.strip(), head=head)


def run_methods(
    specs: list[MethodSpec],
    data_dir: str | Path,
    *,
    split: str,
    out_dir: str | Path,
    batch_size: int = 8,
    overrides: dict | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> dict[str, list[dict]]:
    """Prediction rows of every method (scorers run here and write ``out_dir/<name>/predictions.csv``)."""
    from .metrics import read_predictions

    out = Path(out_dir)
    rows: dict[str, list[dict]] = {}
    for i, spec in enumerate(specs):
        if on_progress:
            on_progress({"event": "method", "method": spec.name, "index": i + 1, "total": len(specs)})
        target = out / "methods" / _safe(spec.name)
        if spec.kind == "predictions":
            rows[spec.name] = read_predictions(spec.path)
        elif spec.kind == "qeval":
            from .predict import evaluate_checkpoint

            res = evaluate_checkpoint(
                spec.path,
                data_dir,
                split=split,
                out_dir=target,
                batch_size=batch_size,
                overrides={"eval_plots": False, **(overrides or {}), **spec.overrides},
                on_progress=on_progress,
            )
            rows[spec.name] = res.rows
        else:
            from .baselines import finetune_baseline, load_baseline, run_baseline

            head = spec.head
            if head == "fit":  # fine-tuned on this dataset version: a head fitted on the export's train split
                natural = load_baseline(spec.kind, spec.path).dimension
                head = str(
                    finetune_baseline(
                        spec.kind,
                        spec.path,
                        data_dir,
                        dimension=natural,
                        out_dir=target / "head",
                        split="train",
                        batch_size=batch_size,
                    )
                )
            baseline = load_baseline(spec.kind, spec.path, head=head)
            rows[spec.name] = run_baseline(
                baseline,
                data_dir,
                split=split,
                out_dir=target,
                batch_size=batch_size,
                method=spec.name,
                on_progress=on_progress,
            ).rows
    return rows


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "method"


def run_benchmark(
    specs: list[MethodSpec],
    data_dir: str | Path,
    *,
    split: str = "test",
    out_dir: str | Path,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 8,
    overrides: dict | None = None,
    long_prompt_words: int = 25,
    on_progress=None,
) -> dict:
    """Run (or read) every method on the split, then write the report files; returns the report."""
    from .data import read_manifest, read_records

    if not specs:
        raise ValueError("a benchmark needs at least one method")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique, got {names}")
    rows = run_methods(
        specs,
        data_dir,
        split=split,
        out_dir=out_dir,
        batch_size=batch_size,
        overrides=overrides,
        on_progress=on_progress,
    )
    records = read_records(data_dir, split)
    manifest = read_manifest(data_dir)
    version = manifest.get("dataset_version") or {}
    source = f"{version.get('campaign')} v{version.get('number')}" if version.get("campaign") else str(data_dir)
    report = benchmark_report(
        rows,
        bootstrap=bootstrap,
        seed=seed,
        long_prompt_words=long_prompt_words,
        records=records,
        split=split,
        source=source,
    )
    report["_meta"]["specs"] = [{"name": s.name, "kind": s.kind, "path": s.path, "head": s.head} for s in specs]
    write_benchmark(report, out_dir)
    return report
