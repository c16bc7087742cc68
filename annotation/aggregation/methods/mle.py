"""``mle``: the subject model of ITU-T P.910 (2023) Annex E / SUREAL's ``MLE_CO`` ("content oblivious").

Model (Li & Bampis 2017, "Recover subjective quality scores from noisy measurements"; Netflix SUREAL)::

    u_ij = psi_j + Delta_i + v_i * X,   X ~ N(0, 1)

with ``psi_j`` the true score of item j, ``Delta_i`` the bias of annotator i and ``v_i`` their
inconsistency. Missing ratings simply do not enter the likelihood, so the sparse crowd design (each
annotator rates a small subset) needs nothing special.

Estimation: block coordinate ascent on the log-likelihood, each block in closed form (the fixed
point SUREAL's Newton-Raphson steps converge to), vectorised with ``np.bincount``:

* ``psi_j   = sum_i w_i (u_ij - Delta_i) / sum_i w_i``, with ``w_i = 1 / v_i**2``;
* ``Delta_i = mean_j (u_ij - psi_j)`` over the items i rated;
* ``v_i     = sqrt(mean_j (u_ij - psi_j - Delta_i)**2)``, floored at ``v_min``.

With ``dof_correction=False`` this is exactly the ML estimate of SUREAL: each block update maximises
the likelihood given the others (the floor is a box constraint on a unimodal function), so the
likelihood never decreases. Iteration stops when the largest change of any parameter is below
``tol`` or after ``max_iter`` sweeps; ``info`` reports ``iterations``, ``converged`` and the final
``log_likelihood``.

Identifiability and stability choices (all parameters):

* ``zero_mean_bias`` (default True, as SUREAL's ``force_subjbias_zeromean``): after each sweep the
  mean bias over estimated annotators is moved into ``psi``, fixing the shift ambiguity of
  ``psi + Delta``.
* ``v_min`` (default 0.3): floor on the inconsistency. Without it an annotator whose ratings fit
  perfectly gets ``v -> 0``, an infinite weight, and the likelihood diverges; with only 3-6 raters per
  item the ML estimate of ``v`` is also biased low (the residual is taken against a ``psi`` that
  contains the annotator's own rating), which feeds back into ever larger weights. 0.3 is about the
  std of the rounding error of integer ratings (``1/sqrt(12) = 0.29``), a level of consistency no
  annotator on a 1-5 integer scale can meaningfully beat.
* ``dof_correction`` (default True): the ML ``v_i`` divides the squared residuals by ``n_i``,
  although each residual is taken against a ``psi_j`` fitted with the annotator's own rating
  (leverage ``h_ij = w_i / sum_k w_k`` over the raters k of item j). With 3 raters per item that
  shrinks ``v`` by up to a third and over-weights the already trusted annotators. The correction
  divides by ``sum_j (1 - h_ij)`` instead (a REML-style degrees-of-freedom correction; at least 0.5).
  On synthetic data with 3-6 raters per item it lowered the RMSE to the planted scores by 1-11% and
  needed up to 5x fewer sweeps. The sweeps are then a fixed-point iteration (no longer a monotone
  ascent of the likelihood), still bounded by ``max_iter``. Set False for the pure SUREAL ML estimate.
* ``min_annotator_ratings`` (default 2): an annotator with fewer ratings carries no information on
  their own bias (their single residual would be absorbed entirely by ``Delta``). Their ``Delta`` is
  fixed at 0 and their ``v`` at the median ``v`` of the estimated annotators, i.e. they count as a
  typical annotator; their ``bias``/``inconsistency`` are reported as NaN.
* ``scale`` (default ``(1, 5)``, or None): the reported ``mos`` is ``psi`` clipped to the rating
  scale (``psi`` itself can leave it, e.g. an item rated 5 by harsh annotators);
  ``info["n_clipped"]`` counts the clipped items.

Empirical Bayes over groups (``group_prior``, default False; beyond P.910). With few ratings per item
(adaptive overlap stops agreeing items at 3) each ``psi_j`` is noisy, while items of one generator are
alike: the ratings frame's ``group`` column (the platform passes the item's generator) lets each item
borrow strength from its group. Per group g with at least ``group_min_items`` items, the prior
``psi_j ~ N(mu_g, tau_g**2)`` is estimated from the fit itself: ``mu_g`` the precision-weighted mean of its
items' ``psi``, ``tau_g**2`` their variance less their mean ``se**2`` (method of moments), at least
``GROUP_TAU_MIN**2``. Each item's score is then the posterior mean
``(psi_j / se_j**2 + mu_g / tau_g**2) / (1 / se_j**2 + 1 / tau_g**2)`` with ``se`` the posterior's: an item
rated by many careful raters keeps its own score, one with three scattered ratings moves towards its
generator's. This is the classic small-area (James-Stein) estimator; it lowers the error of every item on
average at the cost of pulling outliers of a generator in. Items without a group, or in smaller groups,
are left as they are. ``info["group_prior"]`` gives the groups used, the items moved and the median
``tau``.

Item uncertainty from the model (cheap: the Fisher information of ``psi_j`` is ``sum_i w_i``):
``se_j = 1 / sqrt(sum_i w_i)``, ``ci95 = 1.96 * se_j`` (normal quantile: the model treats ``v`` as
known, as SUREAL does for its ``psi`` confidence intervals), and ``std = se_j * sqrt(n_j)``, the
per-rating spread that would give this ``se`` in ``std / sqrt(n)``, so that the column reads like the
other methods'. As everywhere, ``std`` and ``ci95`` are NaN for items with ``n < 2``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as _st

from .. import params as P
from .._input import CodedRatings
from ..result import AggregationResult, annotators_frame, items_frame
from ..stats import group_count, group_mean_std

NAME = "mle"
DEFAULT_PARAMS: dict[str, Any] = {
    "v_min": 0.3,
    "max_iter": 500,
    "tol": 1e-6,
    "min_annotator_ratings": 2,
    "zero_mean_bias": True,
    "scale": (1.0, 5.0),
    "dof_correction": True,
    "group_prior": False,
    "group_min_items": 10,
}
GROUP_TAU_MIN = 0.2  # no group is taken for more alike than this (sd of its items' true scores)


def check(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out["v_min"] = P.number(NAME, "v_min", params["v_min"], low=0, low_open=True)
    out["max_iter"] = P.integer(NAME, "max_iter", params["max_iter"], low=1)
    out["tol"] = P.number(NAME, "tol", params["tol"], low=0, low_open=True)
    out["min_annotator_ratings"] = P.integer(NAME, "min_annotator_ratings", params["min_annotator_ratings"], low=1)
    out["zero_mean_bias"] = P.boolean(NAME, "zero_mean_bias", params["zero_mean_bias"])
    out["dof_correction"] = P.boolean(NAME, "dof_correction", params["dof_correction"])
    out["group_prior"] = P.boolean(NAME, "group_prior", params["group_prior"])
    out["group_min_items"] = P.integer(NAME, "group_min_items", params["group_min_items"], low=2)
    if params["scale"] is not None:
        out["scale"] = P.pair(NAME, "scale", params["scale"])
    return out


def _inconsistency(e2_sum, n_a, active, v_min):
    """Closed-form ``v`` for estimated annotators, median for the others, then the floor."""
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.sqrt(e2_sum / n_a)
    if active.any():
        fill = float(np.median(v[active]))
    else:  # nobody estimable: pooled residual spread
        fill = float(np.sqrt(e2_sum.sum() / max(n_a.sum(), 1)))
    v = np.where(active, v, fill)
    return np.maximum(v, v_min)


def fit(data: CodedRatings, params: dict[str, Any]) -> dict[str, Any]:
    """Estimate ``psi`` (per item), ``delta`` and ``v`` (per annotator). Returns arrays and diagnostics."""
    x, it, an = data.score, data.item, data.annotator
    n_items, n_ann = data.n_items, data.n_annotators
    v_min, tol = params["v_min"], params["tol"]
    n_a = group_count(an, n_ann).astype(np.float64)
    active = n_a >= params["min_annotator_ratings"]

    _, psi, _ = group_mean_std(it, x, n_items)
    delta = np.zeros(n_ann)
    r = x - psi[it]
    v = _inconsistency(np.bincount(an, weights=r * r, minlength=n_ann), n_a, active, v_min)

    converged = False
    iterations = 0
    for iterations in range(1, params["max_iter"] + 1):  # noqa: B007  (reported after the loop)
        w_row = (1.0 / (v * v))[an]
        w_item = np.bincount(it, weights=w_row, minlength=n_items)
        psi_new = np.bincount(it, weights=w_row * (x - delta[an]), minlength=n_items) / w_item
        r = x - psi_new[it]
        delta_new = np.where(active, np.bincount(an, weights=r, minlength=n_ann) / n_a, 0.0)
        if params["zero_mean_bias"] and active.any():
            shift = delta_new[active].mean()
            delta_new[active] -= shift
            psi_new += shift
        e = x - psi_new[it] - delta_new[an]
        e2_sum: np.ndarray = np.bincount(an, weights=e * e, minlength=n_ann)
        if params["dof_correction"]:
            # Leverage of rating ij on psi_j; sum(1 - h) is the annotator's residual degrees of freedom.
            dof = np.bincount(an, weights=1.0 - w_row / w_item[it], minlength=n_ann)
            e2_sum = e2_sum * n_a / np.maximum(dof, 0.5)
        v_new = _inconsistency(e2_sum, n_a, active, v_min)
        change = max(
            float(np.max(np.abs(psi_new - psi))),
            float(np.max(np.abs(delta_new - delta))),
            float(np.max(np.abs(v_new - v))),
        )
        psi, delta, v = psi_new, delta_new, v_new
        if change < tol:
            converged = True
            break

    e = x - psi[it] - delta[an]
    vr = v[an]
    loglik = float(np.sum(-np.log(vr) - 0.5 * (e / vr) ** 2) - 0.5 * len(x) * math.log(2 * math.pi))
    w_item = np.bincount(it, weights=1.0 / (vr * vr), minlength=n_items)
    return {
        "psi": psi,
        "delta": delta,
        "v": v,
        "active": active,
        "se": 1.0 / np.sqrt(w_item),
        "iterations": iterations,
        "converged": converged,
        "log_likelihood": loglik,
    }


def group_shrink(
    psi: np.ndarray, se: np.ndarray, item_group: np.ndarray, min_items: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Posterior means and standard errors of ``psi`` under per-group normal priors fitted by moments."""
    ok = (item_group >= 0) & np.isfinite(psi) & np.isfinite(se) & (se > 0)
    if not ok.any():
        return psi, se, {"groups": 0, "shrunk_items": 0, "tau_median": None}
    g = item_group[ok]
    n_groups = int(g.max()) + 1
    p, w = psi[ok], 1.0 / se[ok] ** 2
    n_g = np.bincount(g, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.bincount(g, weights=w * p, minlength=n_groups) / np.bincount(g, weights=w, minlength=n_groups)
        plain = np.bincount(g, weights=p, minlength=n_groups) / n_g
        var = np.bincount(g, weights=(p - plain[g]) ** 2, minlength=n_groups) / (n_g - 1)
        noise = np.bincount(g, weights=se[ok] ** 2, minlength=n_groups) / n_g
    tau2 = np.maximum(var - noise, GROUP_TAU_MIN**2)
    used = n_g >= min_items
    moved = used[g]
    with np.errstate(invalid="ignore", divide="ignore"):  # groups too small to use may have no variance
        prior_w = np.where(moved, 1.0 / tau2[g], 0.0)
    post, post_se = psi.copy(), se.copy()
    post[ok] = (w * p + prior_w * mu[g]) / (w + prior_w)
    post_se[ok] = 1.0 / np.sqrt(w + prior_w)
    info = {
        "groups": int(used.sum()),
        "shrunk_items": int(moved.sum()),
        "tau_median": round(float(np.median(np.sqrt(tau2[used]))), 4) if used.any() else None,
    }
    return post, post_se, info


def run(data: CodedRatings, params: dict[str, Any]) -> AggregationResult:
    f = fit(data, params)
    n = group_count(data.item, data.n_items)
    mos = f["psi"]
    prior_info = None
    if params["group_prior"]:
        if data.item_group is None:
            raise ValueError("mle: group_prior needs a 'group' column in the ratings (each item's group)")
        mos, f["se"], prior_info = group_shrink(mos, f["se"], data.item_group, params["group_min_items"])
    n_clipped = 0
    if params["scale"] is not None:
        lo, hi = params["scale"]
        n_clipped = int(((mos < lo) | (mos > hi)).sum())
        mos = np.clip(mos, lo, hi)
    se = np.where(n >= 2, f["se"], np.nan)
    z = float(_st.norm.ppf(0.975))
    items = items_frame(data.item_ids, mos=mos, std=se * np.sqrt(n), ci95=z * se, n=n)
    active = f["active"]
    annotators = annotators_frame(
        data.annotator_ids,
        bias=np.where(active, f["delta"], np.nan),
        inconsistency=np.where(active, f["v"], np.nan),
        n=group_count(data.annotator, data.n_annotators),
    )
    info = {
        "method": NAME,
        "params": dict(params),
        "iterations": f["iterations"],
        "converged": f["converged"],
        "log_likelihood": f["log_likelihood"],
        "n_clipped": n_clipped,
        "unestimated_annotators": data.annotator_ids[~active].tolist(),
    }
    if prior_info is not None:
        info["group_prior"] = prior_info
    return AggregationResult(items, annotators, info)
