"""Inter-annotator agreement as split-half SRCC (the reliability check of crowd MOS studies).

For one random split: each item's raters are shuffled and cut in two halves (the first
``floor(n/2)`` ratings in the shuffled order form half A, the rest half B; an odd rater goes to B),
each half is averaged, and the Spearman rank correlation (SRCC) of the two half-means is taken
across items. Items with fewer than 2 ratings are skipped. The result is the plain mean of the SRCC
over ``n_splits`` splits, drawn from ``numpy.random.default_rng(seed)`` (reproducible).

``spearman_brown=True`` applies the Spearman-Brown prophecy formula ``2r / (1 + r)`` to that mean:
the split-half SRCC measures the agreement of two half-size panels, and the correction estimates the
reliability of the full panel (the MOS itself). Off by default, so the raw number is reported.

Returns NaN when fewer than 3 items have 2+ ratings, or when a half-mean vector is constant.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as _st

from ._input import code_ratings
from .params import boolean, integer
from .stats import group_count


def _one_split(item: np.ndarray, score: np.ndarray, n_items: int, rng: np.random.Generator) -> float:
    # item codes are < 2**52, so item + U(0,1) sorts by item, then randomly within the item.
    order = np.argsort(item + rng.random(len(score)))
    item_s, score_s = item[order], score[order]
    n = group_count(item_s, n_items)
    start = np.concatenate(([0], np.cumsum(n)[:-1]))
    pos = np.arange(len(item_s)) - start[item_s]
    in_a = pos < (n // 2)[item_s]
    n_a = n // 2
    n_b = n - n_a
    mean_a = np.bincount(item_s, weights=np.where(in_a, score_s, 0.0), minlength=n_items) / n_a
    mean_b = np.bincount(item_s, weights=np.where(in_a, 0.0, score_s), minlength=n_items) / n_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = _st.spearmanr(mean_a, mean_b).statistic
    return float(rho)


def split_half_agreement(
    ratings: pd.DataFrame,
    *,
    seed: int = 0,
    n_splits: int = 10,
    spearman_brown: bool = False,
) -> float:
    """Mean split-half SRCC of the item scores (see the module docstring); a float, NaN if undefined."""
    n_splits = integer("split_half_agreement", "n_splits", n_splits, low=1)
    spearman_brown = boolean("split_half_agreement", "spearman_brown", spearman_brown)
    data = code_ratings(ratings)
    if data.n_ratings == 0:
        return float("nan")
    n = group_count(data.item, data.n_items)
    keep_item = n >= 2
    if keep_item.sum() < 3:
        return float("nan")
    rows = keep_item[data.item]
    # Re-code the kept items densely so the per-split bincounts only span them.
    item = np.cumsum(keep_item)[data.item[rows]] - 1
    score = data.score[rows]
    rng = np.random.default_rng(seed)
    rhos = [_one_split(item, score, int(keep_item.sum()), rng) for _ in range(n_splits)]
    r = float(np.mean(rhos))
    if spearman_brown and np.isfinite(r):
        r = 2.0 * r / (1.0 + r) if r != -1.0 else float("nan")
    return r
