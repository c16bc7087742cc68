"""What the campaign itself knows about agreement with its golden scores.

**The raters' spread.** Honest raters differ: on a real lab-rated set, genuine raters' SRCC against the
golden scores spans about 0.30-0.81 on quality and 0.47-0.90 on alignment. One fixed cut cannot tell
honest from careless on that spread, so the calibrated method compares each rater with the campaign's
own raters. On Fisher's z scale, the raters' estimates are fitted (EM) as the same two groups the
decision weighs (annotation/qc/hypotheses.py): genuine raters, whose true agreement is normal with a
centre and a spread to be found, and careless ones, near chance or at half effort. Each estimate
enters with its own sampling noise (its standard error), so the spread found is that of the raters'
true agreement, and careless raters, however many, pull neither the centre down nor the spread wide
(a median and MAD would be pulled by a quarter of spammers). The starting point is the median and the
spread of the upper half (careless raters sit below).

Until the campaign has enough raters, a prior (a typical genuine rater at SRCC 0.6, spread 0.25 on the
z scale) stands in, worth PRIOR_WEIGHT raters, so the reference moves from the prior to the campaign's
own figures as raters arrive (a standard empirical-Bayes shrinkage).

**The ceiling.** The golden scores are themselves noisy: a rater cannot agree with them better than an
expert does. Where golden scores are means of expert ratings, ``expert_agreement`` measures how well
one expert agrees with the mean of the others (leave-one-out SRCC): the ceiling for any rater. The
reference's centre never exceeds it.

**The floor.** The centre is never taken below FLOOR_R: in a campaign overrun by careless raters the
median itself would be near chance, and chance must never count as genuine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .evidence import Agreement, agreement, fisher_z, se_srcc
from .hypotheses import careless_logpdf, genuine_logpdf

PRIOR_R = 0.6
PRIOR_SD_Z = 0.25
PRIOR_WEIGHT = 5
MIN_RATER_N = 30  # golden ratings a rater needs before their estimate enters the reference (fewer: too noisy)
FLOOR_R = 0.3  # the reference centre never goes below this SRCC
SD_MIN_Z = 0.10  # nor its spread below this (z scale) ...
SD_MAX_Z = 0.35  # ... nor above this: genuine raters spanning SRCC 0.3-0.9 evenly have a spread of 0.35
MAD_TO_SD = 1.4826
EM_ITERATIONS = 100


@dataclass(frozen=True)
class Reference:
    """The genuine raters of a campaign on one dimension, on Fisher's z scale."""

    dimension: str
    n_raters: int  # raters whose estimate entered the median
    median_srcc: float | None  # the campaign's own median (None without raters)
    centre_z: float  # what the decision uses: shrunk towards the prior, floored, capped
    spread_z: float  # spread of true agreement among genuine raters
    ceiling: float | None = None  # expert agreement (SRCC), None when unknown
    ceiling_n: int = 0

    @property
    def centre(self) -> float:
        return math.tanh(self.centre_z)

    def typical_range(self) -> tuple[float, float]:
        """The middle ~90% of genuine raters' agreement (centre +- 1.645 spread)."""
        return math.tanh(self.centre_z - 1.645 * self.spread_z), math.tanh(self.centre_z + 1.645 * self.spread_z)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["centre"] = round(self.centre, 4)
        out["typical_range"] = [round(v, 4) for v in self.typical_range()]
        for key in ("centre_z", "spread_z", "median_srcc"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        return out

    def describe(self) -> str:
        lo, hi = self.typical_range()
        own = (
            f"median of {self.n_raters} raters {self.median_srcc:.2f}"
            if self.n_raters
            else "no raters with enough golden items yet"
        )
        ceiling = f"; experts agree {self.ceiling:.2f}" if self.ceiling is not None else ""
        return f"campaign reference {self.centre:.2f} (typical {lo:.2f}-{hi:.2f}; {own}{ceiling})"


def reference_from_dict(data: dict) -> Reference:
    fields: dict[str, Any] = {k: data.get(k) for k in Reference.__dataclass_fields__}
    return Reference(**fields)


def campaign_reference(dimension: str, raters: Iterable[Agreement], *, ceiling: Agreement | None = None) -> Reference:
    """The reference for one dimension from the raters' cumulative agreements (one per rater)."""
    zs, ses = [], []
    for a in raters:
        if a.srcc is None or a.n_golden < MIN_RATER_N:
            continue
        zs.append(fisher_z(a.srcc))
        ses.append(se_srcc(a.srcc, a.n_golden))
    ceiling_r = ceiling.srcc if ceiling is not None and ceiling.srcc is not None else None
    prior_z = fisher_z(PRIOR_R if ceiling_r is None else min(PRIOR_R, 0.85 * ceiling_r))
    z, se = np.asarray(zs), np.asarray(ses)
    k = int(z.size)
    if k:
        median, true_sd = _fit_genuine(z, se) if k >= 3 else (float(np.median(z)), PRIOR_SD_Z)
        centre = (PRIOR_WEIGHT * prior_z + k * median) / (PRIOR_WEIGHT + k)
        spread = (PRIOR_WEIGHT * PRIOR_SD_Z + k * true_sd) / (PRIOR_WEIGHT + k)
    else:
        median, centre, spread = None, prior_z, PRIOR_SD_Z
    centre = max(centre, fisher_z(FLOOR_R))
    if ceiling_r is not None:
        centre = min(centre, fisher_z(max(ceiling_r, FLOOR_R)))
    return Reference(
        dimension=dimension,
        n_raters=k,
        median_srcc=None if median is None else math.tanh(median),
        centre_z=centre,
        spread_z=min(max(spread, SD_MIN_Z), SD_MAX_Z),
        ceiling=ceiling_r,
        ceiling_n=ceiling.n_golden if ceiling is not None else 0,
    )


def _fit_genuine(z: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Centre and spread (z scale) of the genuine raters among estimates `z` with standard errors `se`:
    EM on a mixture of genuine (normal, centre and spread fitted) and careless (the decision's own
    careless model: chance or half effort, annotation/qc/decision.py)."""
    centre, spread = _median_upper_spread(z)
    spread = min(max(spread, SD_MIN_Z), SD_MAX_Z)
    share = 0.9
    for _ in range(EM_ITERATIONS):
        genuine = math.log(share) + genuine_logpdf(z, se, centre_z=centre, spread_z=spread)
        careless = math.log(1 - share) + careless_logpdf(z, se, centre_z=centre)
        weight = 1 / (1 + np.exp(np.clip(careless - genuine, -700, 700)))
        if weight.sum() < 1e-9:
            break
        precision = weight / (spread**2 + se**2)
        new_centre = float(np.sum(precision * z) / np.sum(precision))
        new_spread = math.sqrt(max(float(np.sum(weight * ((z - new_centre) ** 2 - se**2)) / weight.sum()), 0.0))
        new_spread = min(max(new_spread, SD_MIN_Z), SD_MAX_Z)
        share = float(min(max(weight.mean(), 0.05), 0.999))
        done = abs(new_centre - centre) < 1e-6 and abs(new_spread - spread) < 1e-6
        centre, spread = new_centre, new_spread
        if done:
            break
    return centre, spread


def _median_upper_spread(z: np.ndarray) -> tuple[float, float]:
    """Median, and 1.4826 x the median distance of the values above it (careless raters, who sit below
    the genuine ones, cannot inflate it)."""
    median = float(np.median(z))
    above = z[z >= median] - median
    return median, MAD_TO_SD * float(np.median(above)) if above.size else 0.0


def expert_agreement(expert_ratings: Sequence[tuple[int, int, float]]) -> Agreement | None:
    """How well one expert agrees with the mean of the other experts, pooled over golden items.

    ``expert_ratings``: (item, expert, score) triples on one dimension. Items with fewer than two
    expert ratings say nothing and are skipped; None when no item has two.
    """
    by_item: dict[int, list[float]] = {}
    for item, _expert, score in expert_ratings:
        by_item.setdefault(item, []).append(float(score))
    own, others = [], []
    for scores in by_item.values():
        if len(scores) < 2:
            continue
        total = sum(scores)
        for s in scores:
            own.append(s)
            others.append((total - s) / (len(scores) - 1))
    if len(own) < 4:
        return None
    return agreement(own, others)
