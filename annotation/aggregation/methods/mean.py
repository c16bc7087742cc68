"""``mean``: the plain Mean Opinion Score, as the Q-Eval-100K paper (arXiv 2503.02357) reports it.

MOS = arithmetic mean of the item's 1-5 ratings (ITU-T P.800.1 / ITU-R BT.500-14 A1-2.2.1), with the
sample std and the Student-t 95% CI half-width from :mod:`..stats`.

Annotator diagnostics (for the admin's quality view), from residuals ``rating - item MOS``:
``bias`` = mean residual (positive: rates higher than the crowd), ``inconsistency`` = std of the
residuals (``ddof=1``). Ratings on items that nobody else rated are left out of both (their residual
is 0 by construction). ``n`` is the number of ratings the annotator gave. No parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._input import CodedRatings
from ..result import AggregationResult, annotators_frame, items_frame
from ..stats import ci_halfwidth, group_count, group_mean_std, has_other_rating, residual_bias_inconsistency

NAME = "mean"
DEFAULT_PARAMS: dict[str, Any] = {}


def check(params: dict[str, Any]) -> dict[str, Any]:
    return params


def annotator_diagnostics(data: CodedRatings, item_score: np.ndarray, used: np.ndarray | None = None):
    """``(bias, inconsistency, n)`` per annotator from residuals against ``item_score``.

    ``used`` marks the ratings that entered ``item_score`` (all by default); a residual counts only
    where its item has a finite score and at least one used rating other than this one.
    """
    if used is None:
        used = np.ones(data.n_ratings, dtype=bool)
    target = item_score[data.item]
    mask = has_other_rating(data.item, used, data.n_items) & np.isfinite(target)
    bias, inconsistency = residual_bias_inconsistency(
        data.annotator, data.score - np.where(mask, target, 0.0), data.n_annotators, mask
    )
    n = group_count(data.annotator, data.n_annotators)
    return bias, inconsistency, n


def run(data: CodedRatings, params: dict[str, Any]) -> AggregationResult:
    n, mos, std = group_mean_std(data.item, data.score, data.n_items)
    items = items_frame(data.item_ids, mos=mos, std=std, ci95=ci_halfwidth(std, n), n=n)
    bias, inconsistency, n_a = annotator_diagnostics(data, mos)
    annotators = annotators_frame(data.annotator_ids, bias=bias, inconsistency=inconsistency, n=n_a)
    return AggregationResult(items, annotators, {"method": NAME, "params": dict(params)})
