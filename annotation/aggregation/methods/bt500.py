"""``bt500``: observer screening of ITU-R BT.500-14, Annex 2, section 2.3.1, then the plain mean.

The standard's procedure, adapted only in its denominator for a sparse crowd design:

1. For each item (the standard's "presentation" j,k,r) with ratings u_i: mean ``u``, sample std
   ``S`` (``ddof=1``) and kurtosis ``beta2 = m4 / m2**2`` with ``m_x = sum((u_i - u)**x) / N``.
2. If ``2 <= beta2 <= 4`` the ratings are taken as normally distributed and the threshold is
   ``2 * S``, otherwise ``sqrt(20) * S`` (params ``normal_factor``, ``nonnormal_factor``,
   ``kurtosis_range``).
3. For each observer i: ``P_i`` counts ratings ``u_ij >= u_j + threshold_j``, ``Q_i`` ratings
   ``u_ij <= u_j - threshold_j``.
4. Observer i is rejected if ``(P_i + Q_i) / n_i > 0.05`` and ``|P_i - Q_i| / (P_i + Q_i) < 0.3``
   (params ``ratio_threshold``, ``balance_threshold``). The standard divides by J*K*L, the number of
   presentations in the (complete) test; here ``n_i`` is the number of items observer i rated,
   because each crowd annotator sees only a subset.
5. The MOS of each item is the mean over the ratings of the remaining observers; ``std``/``ci95``
   as in ``mean``. An item whose raters were all rejected gets ``n = 0`` and NaN scores
   (counted in ``info["items_without_ratings"]``).

Items with fewer than 2 ratings or zero spread (``S == 0``) flag nobody (the standard's test is
undefined there: ``beta2`` is 0/0 and ``u >= u + 0`` would flag every rating).

Note: with ``N`` raters, no rating can lie more than ``(N-1)/sqrt(N)`` sample stds from the mean,
so the 2-sigma test can flag nobody on items with 5 or fewer raters. The screening is designed for
lab tests where every observer rates every item (15+ observers); with Q-Eval's few raters per item
it rejects only observers who also rate items that have many raters.

Annotators frame: ``rejected`` flag, plus extra int columns ``p`` and ``q``; ``bias`` and
``inconsistency`` are residuals against the final MOS (as in ``mean``; for rejected observers too).
``info["rejected_annotators"]`` lists the rejected ids.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import params as P
from .._input import CodedRatings
from ..result import AggregationResult, annotators_frame, items_frame
from ..stats import ci_halfwidth, group_count, group_mean_std
from .mean import annotator_diagnostics

NAME = "bt500"
DEFAULT_PARAMS: dict[str, Any] = {
    "normal_factor": 2.0,
    "nonnormal_factor": math.sqrt(20.0),
    "kurtosis_range": (2.0, 4.0),
    "ratio_threshold": 0.05,
    "balance_threshold": 0.3,
}


def check(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out["normal_factor"] = P.number(NAME, "normal_factor", params["normal_factor"], low=0, low_open=True)
    out["nonnormal_factor"] = P.number(NAME, "nonnormal_factor", params["nonnormal_factor"], low=0, low_open=True)
    out["kurtosis_range"] = P.pair(NAME, "kurtosis_range", params["kurtosis_range"])
    out["ratio_threshold"] = P.number(NAME, "ratio_threshold", params["ratio_threshold"], low=0, high=1)
    out["balance_threshold"] = P.number(NAME, "balance_threshold", params["balance_threshold"], low=0, high=1)
    return out


def screen(data: CodedRatings, params: dict[str, Any]):
    """Return per-observer ``(P, Q, rejected)`` following BT.500-14 Annex 2 section 2.3.1."""
    x, item = data.score, data.item
    n, mean, std = group_mean_std(item, x, data.n_items)
    dev = x - mean[item]
    with np.errstate(invalid="ignore", divide="ignore"):
        m2 = np.bincount(item, weights=dev**2, minlength=data.n_items) / n
        m4 = np.bincount(item, weights=dev**4, minlength=data.n_items) / n
        beta2 = m4 / m2**2
    lo, hi = params["kurtosis_range"]
    normal = (beta2 >= lo) & (beta2 <= hi)
    factor = np.where(normal, params["normal_factor"], params["nonnormal_factor"])
    testable = (n >= 2) & (std > 0)
    threshold = np.where(testable, factor * std, np.inf)[item]
    row_testable = testable[item]
    # Tiny tolerance so that a rating exactly on the threshold counts despite float rounding.
    eps = 1e-9
    p_hit = row_testable & (dev >= threshold - eps)
    q_hit = row_testable & (dev <= -threshold + eps)
    p = group_count(data.annotator, data.n_annotators, p_hit)
    q = group_count(data.annotator, data.n_annotators, q_hit)
    rated = group_count(data.annotator, data.n_annotators)
    pq = p + q
    with np.errstate(invalid="ignore", divide="ignore"):
        rejected = (
            (pq > 0) & (pq / rated > params["ratio_threshold"]) & (np.abs(p - q) / pq < params["balance_threshold"])
        )
    return p, q, rejected


def run(data: CodedRatings, params: dict[str, Any]) -> AggregationResult:
    p, q, rejected = screen(data, params)
    kept = ~rejected[data.annotator]
    n, mos, std = group_mean_std(data.item, data.score, data.n_items, kept)
    items = items_frame(data.item_ids, mos=mos, std=std, ci95=ci_halfwidth(std, n), n=n)
    bias, inconsistency, n_a = annotator_diagnostics(data, mos, used=kept)
    annotators = annotators_frame(
        data.annotator_ids,
        bias=bias,
        inconsistency=inconsistency,
        n=n_a,
        rejected=rejected,
        p=p,
        q=q,
    )
    info = {
        "method": NAME,
        "params": dict(params),
        "rejected_annotators": data.annotator_ids[rejected].tolist(),
        "items_without_ratings": int((n == 0).sum()),
    }
    return AggregationResult(items, annotators, info)
