"""Grouped statistics on integer codes: n, mean, sample std and the Student-t 95% CI half-width.

Conventions used by every method (the MOS table reports them per item x dimension):

* ``std`` is the sample standard deviation (``ddof=1``) of the ratings of the item.
* ``ci95`` is the half-width of the two-sided 95% confidence interval of the mean,
  ``t_{0.975, n-1} * std / sqrt(n)`` (Student's t, as ITU-R BT.500-14 section A1-2.2.1 and
  ITU-T P.800.2 prescribe for a MOS). The interval is ``mos +/- ci95``.
* With ``n == 1`` there is no spread to estimate: ``std`` and ``ci95`` are NaN (``None`` once
  serialised). With ``n == 0`` the mean is NaN as well.

Two-pass (mean, then squared deviations) sums keep the variance exact enough for integer 1-5
ratings; everything is one ``np.bincount`` per quantity.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

CONFIDENCE = 0.95


def group_count(codes: np.ndarray, size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Number of entries per code (``int64``), optionally only where ``mask`` is true."""
    if mask is None:
        return np.bincount(codes, minlength=size).astype(np.int64, copy=False)
    return np.bincount(codes, weights=mask.astype(np.float64), minlength=size).astype(np.int64)


def group_mean_std(
    codes: np.ndarray,
    values: np.ndarray,
    size: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-code ``(n, mean, std)`` of ``values``; ``std`` uses ``ddof=1``.

    ``mean`` is NaN where ``n == 0``; ``std`` is NaN where ``n < 2``. Entries where ``mask`` is
    false are ignored.
    """
    w = np.ones(len(values)) if mask is None else mask.astype(np.float64)
    n = np.bincount(codes, weights=w, minlength=size)
    s1 = np.bincount(codes, weights=w * values, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        dev = values - mean[codes]
        if mask is not None:
            dev = np.where(mask, dev, 0.0)
        ss = np.bincount(codes, weights=dev * dev, minlength=size)
        std = np.sqrt(ss / (n - 1))
    mean[n == 0] = np.nan
    std[n < 2] = np.nan
    return n.astype(np.int64), mean, std


def t_factor(n: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """``t_{(1+confidence)/2, n-1} / sqrt(n)`` per entry; NaN where ``n < 2``.

    The t quantile is evaluated once per distinct ``n`` (there are few), then gathered.
    """
    n = np.asarray(n)
    out = np.full(n.shape, np.nan)
    ok = n >= 2
    if ok.any():
        uniq, inv = np.unique(n[ok], return_inverse=True)
        q = _st.t.ppf(0.5 + confidence / 2.0, uniq - 1) / np.sqrt(uniq)
        out[ok] = q[inv]
    return out


def ci_halfwidth(std: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Student-t CI half-width of a mean: ``t_{0.975, n-1} * std / sqrt(n)``; NaN where ``n < 2``."""
    return t_factor(n, confidence) * std


def residual_bias_inconsistency(
    annotator: np.ndarray,
    residual: np.ndarray,
    n_annotators: int,
    mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-annotator ``bias`` (mean residual) and ``inconsistency`` (std of residuals, ``ddof=1``).

    ``residual`` is rating minus the method's item score; only entries with ``mask`` true count
    (callers exclude ratings whose item has no *other* rating, where the residual is 0 by
    construction and says nothing about the annotator). NaN where too few entries remain
    (bias needs 1, inconsistency 2).
    """
    residual = np.where(mask, residual, 0.0)
    _, bias, inconsistency = group_mean_std(annotator, residual, n_annotators, mask)
    return bias, inconsistency


def has_other_rating(item: np.ndarray, used: np.ndarray, n_items: int) -> np.ndarray:
    """True for each rating whose item has at least one *used* rating other than itself."""
    n_used = group_count(item, n_items, used)
    return (n_used[item] - used.astype(np.int64)) >= 1
