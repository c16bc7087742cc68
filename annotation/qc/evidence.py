"""Agreement of an annotator's ratings with golden scores, with a 95% confidence interval.

SRCC (Spearman's rho) and PLCC (Pearson's r) are put on Fisher's z scale, z = atanh(r), where their
sampling distribution is close to normal:

- PLCC: se(z) = 1 / sqrt(n - 3) (Fisher 1921).
- SRCC: se(z) = sqrt((1 + rho^2 / 2) / (n - 3)) (Bonett & Wright 2000, Psychometrika 65:23-28), which
  keeps the interval's coverage near 95% for rank correlations where Fisher's formula is too narrow.

The interval is tanh(z +- 1.96 se). With fewer than 4 pairs, or a constant side, the correlation or
its interval is undefined (None) and ``constant`` says which side was constant ("golden" when both are:
tied golden scores leave the correlation undefined whatever the rater did).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Z95 = 1.959963984540054
R_CLIP = 0.9999  # |r| = 1 has z = inf: clip so one perfect small sample does not end the argument


def fisher_z(r: float) -> float:
    return math.atanh(max(-R_CLIP, min(R_CLIP, r)))


def se_srcc(r: float, n: int) -> float:
    """Bonett-Wright standard error of atanh(Spearman's rho) (n >= 4)."""
    return math.sqrt((1 + r * r / 2) / (n - 3))


def se_plcc(n: int) -> float:
    return 1 / math.sqrt(n - 3)


@dataclass(frozen=True)
class Agreement:
    """Figures of paired (rating, golden) values on one dimension. Correlations are None when
    undefined; ``*_ci`` are [low, high] 95% intervals (None below 4 pairs)."""

    n_golden: int
    srcc: float | None = None
    srcc_ci: tuple[float, float] | None = None
    plcc: float | None = None
    plcc_ci: tuple[float, float] | None = None
    bias: float | None = None  # mean(rating - golden): the annotator's offset
    mae: float | None = None  # mean |rating - golden|
    resid_var: float | None = None  # variance of (rating - golden): the rater's noise once their offset is removed
    constant: str | None = None  # "ratings" or "golden" when that side is constant

    @property
    def z(self) -> float | None:
        return None if self.srcc is None else fisher_z(self.srcc)

    @property
    def se(self) -> float | None:
        return None if self.srcc is None or self.n_golden < 4 else se_srcc(self.srcc, self.n_golden)

    def as_dict(self) -> dict:
        out = asdict(self)
        for key in ("srcc_ci", "plcc_ci"):
            if out[key] is not None:
                out[key] = [round(v, 4) for v in out[key]]
        return out


def _interval(r: float, se: float) -> tuple[float, float]:
    z = fisher_z(r)
    return round(math.tanh(z - Z95 * se), 4), round(math.tanh(z + Z95 * se), 4)


def agreement(ratings, golden) -> Agreement:
    """Agreement of paired ratings and golden scores (equal-length sequences of numbers)."""
    from scipy.stats import pearsonr, spearmanr

    r = np.asarray(list(ratings), dtype=float)
    g = np.asarray(list(golden), dtype=float)
    n = int(r.size)
    if n == 0:
        return Agreement(n_golden=0)
    bias = round(float(np.mean(r - g)), 4)
    mae = round(float(np.mean(np.abs(r - g))), 4)
    if n < 2:
        return Agreement(n_golden=n, bias=bias, mae=mae)
    resid_var = round(float(np.var(r - g, ddof=1)), 4)
    # Golden side first: when the golden scores tie on every item, the correlation is undefined whatever
    # the rater did (a rater who matched the tie exactly must not be blamed for constant ratings).
    if np.all(g == g[0]):
        return Agreement(n_golden=n, bias=bias, mae=mae, resid_var=resid_var, constant="golden")
    if np.all(r == r[0]):
        return Agreement(n_golden=n, bias=bias, mae=mae, resid_var=resid_var, constant="ratings")
    srcc = float(spearmanr(r, g).statistic)
    plcc = float(pearsonr(r, g).statistic)
    srcc_ci = plcc_ci = None
    if n >= 4:
        # The interval around the stored (rounded) estimate, so figures read back from JSON are equal.
        srcc, plcc = round(srcc, 4), round(plcc, 4)
        srcc_ci = _interval(srcc, se_srcc(srcc, n))
        plcc_ci = _interval(plcc, se_plcc(n))
    return Agreement(
        n_golden=n,
        srcc=round(srcc, 4),
        srcc_ci=srcc_ci,
        plcc=round(plcc, 4),
        plcc_ci=plcc_ci,
        bias=bias,
        mae=mae,
        resid_var=resid_var,
    )


def agreement_from_dict(data: dict | None) -> Agreement:
    """Inverse of :meth:`Agreement.as_dict` (figures stored as JSON)."""
    if not data:
        return Agreement(n_golden=0)
    fields: dict[str, Any] = {k: data.get(k) for k in Agreement.__dataclass_fields__}
    for key in ("srcc_ci", "plcc_ci"):
        if fields[key] is not None:
            fields[key] = tuple(fields[key])
    fields["n_golden"] = int(fields["n_golden"] or 0)
    return Agreement(**fields)
