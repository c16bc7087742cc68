"""``zscore``: remove each annotator's personal offset and scale before averaging.

Why: crowd annotators use the 1-5 scale differently (one rates everything 4-5, another 1-3).
Z-scoring per annotator (as in SUREAL's ``ZscoringSubjrejMos`` / the "z-score MOS" of the VQEG
literature, e.g. Van Dijk et al. 1995) makes their ratings comparable.

Procedure, all vectorised:

1. Pooled mean ``mu`` and std ``sigma`` (``ddof=1``) of all raw ratings.
2. Per annotator ``a``: mean ``m_a`` and std ``s_a`` (``ddof=1``) of their ratings;
   ``z = (rating - m_a) / s_a``.
   *Fallback*: an annotator with fewer than ``min_annotator_ratings`` ratings (default 2), or whose
   ratings have (almost) no spread (``s_a < min_annotator_std``, default 0.3, or ``s_a == 0``: e.g.
   always 4, or 4 on 39 items and 3 on one), is standardised with the pooled ``mu``/``sigma``
   instead, i.e. treated as a typical annotator whose scale cannot be learned. Without the floor the
   one 3 of that second annotator (``s_a = 0.16``) would be six of their stds low and drag an item
   every annotator rated 3 to the bottom of the scale. 0.3 is about the rounding error of integer
   ratings (``1/sqrt(12)``, as ``mle``'s ``v_min``); 0 keeps only the zero-spread fallback.
   They are listed in ``info["fallback_annotators"]``.
3. Rescaling back to the rating scale: each z becomes ``mu + sigma * z``. This linear map keeps the
   overall mean and std of the raw ratings (exactly when no annotator falls back), so z-MOS values
   are read like ordinary MOS values.
4. Item ``mos`` = mean of the rescaled ratings, then clipped to ``scale`` (default ``(1, 5)``;
   None: no clipping).
   ``std`` and ``ci95`` are those of the rescaled (unclipped) ratings, Student-t as in ``mean``.

Annotator ``bias``/``inconsistency`` are the residuals of the raw ratings against the z-MOS, defined
as in ``mean``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import params as P
from .._input import CodedRatings
from ..result import AggregationResult, annotators_frame, items_frame
from ..stats import ci_halfwidth, group_mean_std
from .mean import annotator_diagnostics

NAME = "zscore"
DEFAULT_PARAMS: dict[str, Any] = {"scale": (1.0, 5.0), "min_annotator_ratings": 2, "min_annotator_std": 0.3}


def check(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if params["scale"] is not None:
        out["scale"] = P.pair(NAME, "scale", params["scale"])
    out["min_annotator_ratings"] = P.integer(NAME, "min_annotator_ratings", params["min_annotator_ratings"], low=2)
    out["min_annotator_std"] = P.number(NAME, "min_annotator_std", params["min_annotator_std"], low=0)
    return out


def standardise(data: CodedRatings, min_annotator_ratings: int, min_annotator_std: float = 0.0):
    """Return ``(z, fallback_mask_per_annotator, mu, sigma)``."""
    x = data.score
    mu = float(x.mean())
    sigma = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    n_a, m_a, s_a = group_mean_std(data.annotator, x, data.n_annotators)
    fallback = (n_a < min_annotator_ratings) | ~(s_a > 0) | (s_a < min_annotator_std)
    m_eff = np.where(fallback, mu, m_a)
    s_eff = np.where(fallback, sigma, s_a)
    s_row = s_eff[data.annotator]
    ok = np.isfinite(s_row) & (s_row > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(ok, (x - m_eff[data.annotator]) / np.where(ok, s_row, 1.0), 0.0)
    return z, fallback, mu, sigma


def run(data: CodedRatings, params: dict[str, Any]) -> AggregationResult:
    z, fallback, mu, sigma = standardise(data, params["min_annotator_ratings"], params["min_annotator_std"])
    y = mu + (sigma if np.isfinite(sigma) else 0.0) * z
    n, mean_y, std = group_mean_std(data.item, y, data.n_items)
    mos = mean_y if params["scale"] is None else np.clip(mean_y, *params["scale"])
    items = items_frame(data.item_ids, mos=mos, std=std, ci95=ci_halfwidth(std, n), n=n)
    bias, inconsistency, n_a = annotator_diagnostics(data, mos)
    annotators = annotators_frame(data.annotator_ids, bias=bias, inconsistency=inconsistency, n=n_a)
    info = {
        "method": NAME,
        "params": dict(params),
        "pooled_mean": mu,
        "pooled_std": sigma,
        "fallback_annotators": data.annotator_ids[fallback].tolist(),
    }
    return AggregationResult(items, annotators, info)
