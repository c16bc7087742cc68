"""Timing of every aggregation method on 100K items x 1M ratings (not collected by pytest).

Run: ``.venv/bin/python tests/aggregation/bench_methods.py [n_items] [raters_per_item] [n_annotators]``.
Synthetic data: true item scores ~ U(1.5, 4.5), 2000 annotators with planted bias ~ N(0, 0.5) and
inconsistency ~ U(0.3, 1.2), ratings rounded and clipped to 1..5. Prints seconds per method and the
correlation of each method's MOS with the planted truth.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from annotation.aggregation import METHODS, aggregate, split_half_agreement  # noqa: E402


def synthetic(n_items: int, per_item: int, n_annotators: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1.5, 4.5, n_items)
    bias = rng.normal(0.0, 0.5, n_annotators)
    noise = rng.uniform(0.3, 1.2, n_annotators)
    item = np.repeat(np.arange(n_items), per_item)
    # Distinct annotators per item: a random start plus a random odd stride modulo n_annotators.
    start = rng.integers(0, n_annotators, n_items)
    stride = rng.integers(1, n_annotators // per_item, n_items)
    ann = (start[:, None] + stride[:, None] * np.arange(per_item)) % n_annotators
    ann = ann.ravel()
    raw = truth[item] + bias[ann] + noise[ann] * rng.standard_normal(len(item))
    score = np.clip(np.rint(raw), 1, 5).astype(np.int64)
    df = pd.DataFrame({"item": item + 1_000_000, "annotator": ann + 7, "score": score})
    return df, truth, bias


def main() -> None:
    n_items = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    per_item = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    n_annotators = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    df, truth, bias = synthetic(n_items, per_item, n_annotators)
    print(f"{len(df):,} ratings, {n_items:,} items, {n_annotators:,} annotators")
    for method in METHODS:
        t0 = time.perf_counter()
        res = aggregate(df, method)
        dt = time.perf_counter() - t0
        r = np.corrcoef(res.items["mos"].to_numpy(), truth)[0, 1]
        rmse = float(np.sqrt(np.mean((res.items["mos"].to_numpy() - truth) ** 2)))
        extra: dict = {k: res.info[k] for k in ("iterations", "converged") if k in res.info}
        if method == "bt500":
            extra["rejected"] = len(res.info["rejected_annotators"])
        b = res.annotators["bias"].to_numpy()
        rb = np.corrcoef(np.nan_to_num(b), bias)[0, 1]
        print(f"{method:7s} {dt:6.2f} s   PLCC(mos, truth)={r:.4f} RMSE={rmse:.3f} corr(bias)={rb:.3f} {extra}")
    t0 = time.perf_counter()
    rho = split_half_agreement(df, seed=0, n_splits=10)
    print(f"split_half_agreement(n_splits=10) {time.perf_counter() - t0:6.2f} s  srcc={rho:.4f}")


if __name__ == "__main__":
    main()
